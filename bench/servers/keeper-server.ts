import { loadConfig } from '../../src/config/config';
import { createContainer } from '../../src/main/container';
import { announceReady, serveRequests } from '../support/ipc-server';
import { timedSweep } from '../support/timed-sweep';

/**
 * The keeper in a process of its own, as `npm run worker` runs it (src/main/worker.ts), minus the timer:
 * the bench starts each sweep and times it, and reads this process's memory alone.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const container = await createContainer(config);
  serveRequests({
    /** V8's view, beside the RSS the bench reads from /proc: tells a heap that grows from one that is merely lazy. */
    memoryUsage: () => {
      const usage = process.memoryUsage();
      return { heapUsedMb: Math.round(usage.heapUsed / 1048576), heapTotalMb: Math.round(usage.heapTotal / 1048576) };
    },
    sweep: (message) => timedSweep(container, message.concurrency),
  });
  process.on('SIGTERM', () => {
    container.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  announceReady('ipc:keeper');
}

main().catch((error: unknown) => {
  process.stderr.write(
    `keeper-server failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
