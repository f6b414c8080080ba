import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RequestHandler, Router } from 'express';
import type { MetricsSettings } from '../config/watch-config';
import type { Logger } from '../shared/logger';
import type { Metrics } from './metrics';

/**
 * How metrics leave the process. Never public by default: `GET /metrics` is served either on a listener
 * of its own (METRICS_PORT, bound to METRICS_HOST, loopback unless told otherwise) or on the app's port
 * behind `Authorization: Bearer <METRICS_TOKEN>`; with neither set, nothing serves them.
 */

/** Counts every answered request under its route template (never the raw path: it holds ids). */
export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      const template = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof template === 'string' ? `${req.baseUrl ?? ''}${template}` : 'unmatched';
      metrics.observeRequest({
        method: req.method,
        route,
        status: res.statusCode,
        seconds: (performance.now() - started) / 1000,
      });
    });
    next();
  };
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** GET /metrics on the app's port, for a scraper holding METRICS_TOKEN (compared in constant time). */
export function metricsRoute(metrics: Metrics, token: string): Router {
  const router = Router();
  const expected = digest(`Bearer ${token}`);
  router.get('/metrics', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const given = req.get('authorization');
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      res
        .set('WWW-Authenticate', 'Bearer')
        .status(401)
        .json({ error: { code: 'unauthorized', message: 'Send Authorization: Bearer <METRICS_TOKEN>.' } });
      return;
    }
    const { contentType, body } = await metrics.text();
    res.type(contentType).send(body);
  });
  return router;
}

/** The listener of its own (METRICS_PORT); undefined when not configured. Serves GET /metrics only. */
export async function startMetricsServer(
  metrics: Metrics,
  settings: MetricsSettings,
  logger: Logger,
): Promise<Server | undefined> {
  if (settings.port === undefined) return undefined;
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.text().then(
      ({ contentType, body }) =>
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body),
      (error: unknown) => {
        logger.warn({ err: error }, 'metrics could not be collected');
        res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  logger.info({ host: settings.host, port }, `metrics on http://${settings.host}:${port}/metrics`);
  return server;
}
