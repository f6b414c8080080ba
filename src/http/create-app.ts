import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import { createAuthRouter } from '../auth/auth.routes';
import { createPassport } from '../auth/passport';
import { createConnectionsRouter } from '../connections/connections.routes';
import { createWebhooksRouter } from '../webhooks/webhooks.routes';
import { reliabilityOf } from '../config/reliability-config';
import type { Container } from '../main/container';
import { PROJECT_ROOT } from '../shared/project-root';
import { errorHandler, notFound } from './error-handler';
import { createHealthRouter } from './health.routes';
import { createRateLimiter } from './rate-limit';
import { securityHeaders } from './security-headers';
import { createSessionMiddleware } from './session';
import { httpsRedirect, warnOnUntrustedProxy } from './transport-security';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** Builds the Express app from the container. It never listens: only src/main/web.ts does. */
export function createApp(container: Container): Express {
  const { config, db, logger, clock } = container;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('views', join(PROJECT_ROOT, 'views'));
  app.set('view engine', 'ejs');
  app.locals.appName = 'igconnect';
  app.locals.sandboxMode = config.instagram.mode === 'sandbox';

  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Path only: the callback's query string carries the code and state.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          path: String(req.url).split('?')[0],
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(warnOnUntrustedProxy(config, logger));
  app.use(securityHeaders(config));
  app.use(httpsRedirect(config));
  app.use('/public', express.static(join(PROJECT_ROOT, 'public'), { index: false, maxAge: '1h' }));
  app.use(createHealthRouter(db));
  if (container.sandbox) app.use(container.sandboxBasePath, container.sandbox.router);

  // Before sessions, so a refused request creates nothing. Webhook routes must be mounted after this.
  const rateLimit = createRateLimiter({
    db,
    clock,
    windowMs: config.rateLimits.windowMs,
    grouping: reliabilityOf(config).reliability.rateLimits,
  });
  const providerId = container.provider.id;
  app.get(`/auth/${providerId}`, rateLimit('auth-start', config.rateLimits.authStart, 'page'));
  app.get(`/auth/${providerId}/callback`, rateLimit('auth-callback', config.rateLimits.authCallback, 'page'));
  app.use('/webhooks', rateLimit('webhooks', config.rateLimits.webhooks, 'json'));
  // Meta's callbacks: after their rate limit, before sessions (a callback never creates a session).
  app.use(
    createWebhooksRouter({
      webhooks: container.webhooks,
      clock,
      appSecret: config.instagram.appSecret,
      maxAgeMs: config.lifecycle.webhookMaxAgeMs,
    }),
  );

  const passport = createPassport(container);
  app.use(createSessionMiddleware(config, db, clock));
  app.use(passport.initialize());
  app.use(passport.session());

  app.get('/', async (req, res) => {
    const connections = req.user ? await container.connections.listForUser(req.user.id) : [];
    res.render('home', { signedIn: req.user !== undefined, connectionCount: connections.length });
  });
  app.use(createAuthRouter(passport, container.provider.id, clock));
  app.use(
    createConnectionsRouter({
      connections: container.connections,
      lifecycle: container.lifecycle,
      clock,
      publicOrigin: new URL(config.publicUrl).origin,
      scopes: config.instagram.scopes,
    }),
  );

  app.use(notFound());
  app.use(errorHandler(logger));
  return app;
}
