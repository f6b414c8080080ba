import { exitOnStartupError, loadRuntimeConfig } from './boot';
import { startMetricsServer } from '../metrics/metrics-http';
import { createContainer } from './container';

/**
 * The keeper as a process of its own (`npm run worker`), for deployments that run several web
 * instances with KEEPER_IN_WEB=false. Any number of workers may run: leases in the database keep them
 * from working on the same connection. SIGTERM stops claiming, finishes in-flight calls, and exits.
 */
async function main(): Promise<void> {
  const { config } = loadRuntimeConfig();
  if (config.lifecycle.sweepIntervalMs === 0) {
    process.stderr.write('igconnect worker: KEEPER_INTERVAL_SECONDS is 0, so the keeper is disabled; nothing to do.\n');
    process.exit(0);
  }
  const container = await createContainer(config, { processKind: 'worker' });
  const keeper = container.createKeeper();
  keeper.start({ keepAlive: true });
  const metricsServer = container.metrics
    ? await startMetricsServer(container.metrics, config.watch.metrics, container.logger)
    : undefined;

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    container.logger.info({ signal }, 'worker shutting down');
    metricsServer?.close();
    keeper
      .stop()
      .then(() => container.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
    setTimeout(() => process.exit(1), 30_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => exitOnStartupError('igconnect worker', error));
