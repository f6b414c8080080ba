import { exitOnStartupError, loadRuntimeConfig } from './boot';
import { startMetricsServer } from '../metrics/metrics-http';
import { createContainer } from './container';

/**
 * The keeper and the relay of signed events as a process of their own (`npm run worker`), for deployments
 * that run several web instances with KEEPER_IN_WEB=false. Any number of workers may run: leases in the
 * database keep them from working on the same connection or event. SIGTERM stops claiming, finishes
 * in-flight calls and deliveries, and exits.
 */
async function main(): Promise<void> {
  const { config } = loadRuntimeConfig();
  const keeperOn = config.lifecycle.sweepIntervalMs > 0;
  const relayOn = config.events !== undefined && config.events.pollIntervalMs > 0;
  if (!keeperOn && !relayOn) {
    process.stderr.write(
      'igconnect worker: KEEPER_INTERVAL_SECONDS is 0 and no events are delivered here (EVENTS_WEBHOOK_URL unset or EVENTS_POLL_INTERVAL_SECONDS 0); nothing to do.\n',
    );
    process.exit(0);
  }
  const container = await createContainer(config, { processKind: 'worker' });
  const keeper = keeperOn ? container.createKeeper() : undefined;
  keeper?.start({ keepAlive: true });
  const relay = relayOn ? container.createRelay() : undefined;
  relay?.start({ keepAlive: true });
  const metricsServer = container.metrics
    ? await startMetricsServer(container.metrics, config.watch.metrics, container.logger)
    : undefined;

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    container.logger.info({ signal }, 'worker shutting down');
    metricsServer?.close();
    Promise.all([keeper?.stop(), relay?.stop()])
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
