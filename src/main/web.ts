import { createServer } from 'node:http';
import { createApp } from '../http/create-app';
import { startMetricsServer } from '../metrics/metrics-http';
import { exitOnStartupError, loadRuntimeConfig } from './boot';
import { createContainer } from './container';
import { databaseFindings, deploymentFindings, logFindings } from './doctor';

/** The web process: the only place that reads process.env and listens. */
async function main(): Promise<void> {
  const { config, generatedSecrets } = loadRuntimeConfig();
  const container = await createContainer(config);
  const { logger } = container;
  if (generatedSecrets) logger.info('generated development secrets in data/dev-secrets.json (development only)');
  // The doctor's checks, as warnings: what would stop production already stopped loadConfig.
  logFindings(logger, [
    ...deploymentFindings(config),
    ...(await databaseFindings(container.db, container.cipher, { verifyTokens: false })),
  ]);

  // Node's defaults let a slow client hold a socket for minutes (headers 60 s, request 300 s, checked
  // every 30 s) and accept connections without bound: igconnect sets its own.
  const limits = config.reliability.server;
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    createApp(container),
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  server.listen(config.port, () => {
    logger.info(
      {
        url: config.publicUrl,
        providers: container.providers.all().map((p) => p.id),
        sandbox: container.sandbox !== undefined,
        database: config.database.kind,
      },
      `igconnect listening on ${config.publicUrl}`,
    );
  });

  // Small deployments run everything in one process; larger ones set KEEPER_IN_WEB=false and run
  // `npm run worker` (src/main/worker.ts) once or several times beside the web instances.
  const keeper = config.lifecycle.keeperInWeb ? container.createKeeper() : undefined;
  keeper?.start({ keepAlive: false });
  // Signed events are delivered where the keeper runs; here, a change's events go out as soon as it commits.
  const relay = config.lifecycle.keeperInWeb ? container.createRelay() : undefined;
  relay?.start({ keepAlive: false });
  const metricsServer = container.metrics
    ? await startMetricsServer(container.metrics, config.watch.metrics, logger)
    : undefined;

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    metricsServer?.close();
    server.close(() => {
      Promise.all([keeper?.stop(), relay?.stop()])
        .then(() => container.close())
        .then(
          () => process.exit(0),
          () => process.exit(1),
        );
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => exitOnStartupError('igconnect', error));
