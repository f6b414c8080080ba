import { loadConfig } from '../../src/config/config';
import { Keeper } from '../../src/lifecycle/keeper';
import { createContainer } from '../../src/main/container';
import { announceReady, serveRequests } from '../support/ipc-server';

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
    sweep: async (message) => {
      const { db, lifecycle, clock, logger } = container;
      const settings = {
        ...config.lifecycle,
        concurrency: Number(message.concurrency ?? config.lifecycle.concurrency),
      };
      const keeper = new Keeper({ db, lifecycle, clock, logger, settings });
      const started = performance.now();
      const summary = await keeper.sweep();
      return { ...summary, ms: performance.now() - started };
    },
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
