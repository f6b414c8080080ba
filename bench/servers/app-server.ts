import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Session } from 'node:inspector/promises';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { loadConfig } from '../../src/config/config';
import { createApp } from '../../src/http/create-app';
import { createContainer } from '../../src/main/container';
import { announceReady, serveRequests } from '../support/ipc-server';
import { timedSweep } from '../support/timed-sweep';

/**
 * igconnect as src/main/web.ts builds it (container, createApp, one HTTP server), plus a request
 * channel so the bench can run a keeper sweep inside this very process and time it. One difference,
 * on purpose: Express's `view cache` is switched on, as NODE_ENV=production does. The loopback mode
 * runs as development, which would otherwise recompile every EJS template on every request, which no
 * deployment does; the production-shaped mode has it on by NODE_ENV=production anyway.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const container = await createContainer(config);
  const app = createApp(container);
  app.enable('view cache');

  // CPU profiles of the running server only (start-up and module loading left out), written as .cpuprofile.
  const inspector = new Session();
  let running: ReturnType<typeof timedSweep> | undefined;
  inspector.connect();

  serveRequests({
    /** V8's view, beside the RSS the bench reads from /proc: tells a heap that grows from one that is merely lazy. */
    memoryUsage: () => {
      const usage = process.memoryUsage();
      const mb = (bytes: number) => Math.round(bytes / 1048576);
      return {
        heapUsedMb: mb(usage.heapUsed),
        heapTotalMb: mb(usage.heapTotal),
        rssMb: mb(usage.rss),
        externalMb: mb(usage.external),
        arrayBuffersMb: mb(usage.arrayBuffers),
        // Which of V8's spaces the heap's size sits in (new space is sized by allocation rate, old by what lives).
        spacesMb: Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, mb(s.space_size)])),
      };
    },
    /** A heap snapshot of this process (it pauses the process for a moment), written where the bench says. */
    heapSnapshot: (message) => writeHeapSnapshot(String(message.file)),
    /** Starts a keeper sweep and answers at once; `sweepResult` waits for it. */
    sweepStart: (message) => {
      running = timedSweep(container, message.concurrency);
      return true;
    },
    sweepResult: () => running,
    profileStart: async () => {
      await inspector.post('Profiler.enable');
      await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
      await inspector.post('Profiler.start');
    },
    profileStop: async (message) => {
      const { profile } = await inspector.post('Profiler.stop');
      writeFileSync(String(message.file), JSON.stringify(profile));
      return message.file;
    },
    /**
     * V8's sampling heap profiler, counting objects already collected too: what is allocated, by call
     * stack, not only what lives (a sweep's peak memory follows its allocation rate).
     */
    allocationStart: async () => {
      await inspector.post('HeapProfiler.enable');
      await inspector.post('HeapProfiler.startSampling', {
        samplingInterval: 16_384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      } as { samplingInterval: number });
    },
    allocationStop: async (message) => {
      const { profile } = await inspector.post('HeapProfiler.stopSampling');
      writeFileSync(String(message.file), JSON.stringify(profile));
      return message.file;
    },
    /** One keeper sweep in this process, as KEEPER_IN_WEB runs it, with the concurrency the bench asks for. */
    sweep: (message) => timedSweep(container, message.concurrency),
  });

  // Signed events go out where the keeper runs (src/main/web.ts): here, beside the bench's sweeps.
  container.createRelay()?.start({ keepAlive: false });

  const server = createServer(app);
  server.keepAliveTimeout = 30_000;
  // The address the bench reaches; PUBLIC_URL may be the https origin of a proxy in front of it.
  server.listen(config.port, '127.0.0.1', () => announceReady(`http://127.0.0.1:${config.port}`));
  process.on('SIGTERM', () => {
    server.close(() => {
      container.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
    server.closeIdleConnections();
  });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `app-server failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
