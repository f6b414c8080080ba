import { join } from 'node:path';
import ejs from 'ejs';
import express, { type Express, type RequestHandler } from 'express';
import type { Kysely } from 'kysely';
import { apiErrorHandler, apiNotFound } from '../api/api-errors';
import { createApiRouter } from '../api/api.routes';
import { connectSessionsPart } from '../api/connect-sessions.api';
import { embedsPart } from '../api/embeds.api';
import { proxyPart } from '../api/proxy.routes';
import { TokenAccess } from '../api/token-access';
import { tokenPart } from '../api/token.routes';
import { createAuthRouter, linkFlowStarter } from '../auth/auth.routes';
import { connectFinisher, createPassport } from '../auth/passport';
import type { Config } from '../config/config';
import { createConnectSessionsRouter } from '../connect-sessions/connect-sessions.routes';
import { ConnectSessions, looksLikeLinkSecret } from '../connect-sessions/connect-sessions.service';
import { createConnectionsRouter } from '../connections/connections.routes';
import type { ConnectionsService } from '../connections/connections.service';
import { PendingChoices } from '../connections/pending-choices';
import type { TokenVault } from '../connections/token-vault';
import type { Database } from '../db/schema';
import { createEmbedsRouter } from '../embeds/embeds.routes';
import type { EmbedsService } from '../embeds/embeds.service';
import { createLifecycleRouter } from '../lifecycle/lifecycle.routes';
import type { ProviderWatch } from '../incidents/provider-watch';
import type { Metrics } from '../metrics/metrics';
import { metricsRoute, requestMetrics } from '../metrics/metrics-http';
import type { LifecycleService } from '../lifecycle/lifecycle.service';
import type { ProviderRegistry } from '../providers/registry';
import type { Clock } from '../shared/clock';
import type { HttpClient } from '../shared/http-client';
import type { Logger } from '../shared/logger';
import { PROJECT_ROOT } from '../shared/project-root';
import { createWebhooksRouter } from '../webhooks/webhooks.routes';
import type { WebhooksService } from '../webhooks/webhooks.service';
import { csrfToken, requireCsrf } from './csrf';
import { errorHandler, notFound } from './error-handler';
import { createHealthRouter } from './health.routes';
import { API_COUNT_SHARE_MS, createRateLimiter } from './rate-limit';
import { requestLog } from './request-log';
import { apiSecurityHeaders, securityHeaders } from './security-headers';
import { createSessionMiddleware } from './session';
import { httpsRedirect, warnOnUntrustedProxy } from './transport-security';

/** Exactly what the web app needs, built by the composition root (src/main/container.ts). */
export interface AppDeps {
  config: Config;
  clock: Clock;
  logger: Logger;
  db: Kysely<Database>;
  http: HttpClient;
  providers: ProviderRegistry;
  connections: ConnectionsService;
  lifecycle: LifecycleService;
  webhooks: WebhooksService;
  embeds: EmbedsService;
  vault: TokenVault;
  /** The providers' state as a whole (src/incidents): degraded apps, usage, the self-check. */
  watch?: ProviderWatch;
  /** Present when metrics are configured (METRICS_PORT or METRICS_TOKEN). */
  metrics?: Metrics;
  /** The built-in sandbox, mounted only in development and tests when a provider runs against it. */
  sandbox?: { basePath: string; router: RequestHandler };
}

/** Builds the Express app. It never listens: only src/main/web.ts does. */
export function createApp(deps: AppDeps): Express {
  const { config, db, logger, clock, providers } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  const views = join(PROJECT_ROOT, 'views');
  app.set('views', views);
  app.set('view engine', 'ejs');
  // The pages include their partials from the views root (`include('/partials/head')`), resolved against
  // `root` without touching the disk: a relative include costs a synchronous existsSync on every render,
  // even when the compiled templates are cached (`view cache`, on in production).
  app.engine('ejs', (file, data: { cache?: boolean }, callback) => {
    ejs.renderFile(file, data, { root: views, cache: data.cache === true }, callback);
  });
  app.locals.appName = 'igconnect';
  app.locals.sandboxMode = deps.sandbox !== undefined;
  // The ways in offered on the pages, in the order they are configured.
  app.locals.providers = providers.all().map((p) => ({ id: p.id }));
  app.locals.embedsAvailable = deps.embeds.available;

  app.use(requestLog(logger));
  if (deps.metrics) app.use(requestMetrics(deps.metrics));
  app.use(warnOnUntrustedProxy(config, logger));
  const toHttps = httpsRedirect(config);

  const connectSessions = new ConnectSessions(db, clock, {
    publicUrl: config.publicUrl,
    ttlMs: config.api.connectSessionTtlMs,
    returnUrlOrigins: config.api.returnUrlOrigins,
  });

  // The deployer's API: before sessions and CSRF, so no cookie ever authenticates it; JSON only.
  // Per key, counted in memory and added to the shared count once a second: a database write per API
  // request was 15 % of a token read's CPU (BENCHMARKS.md).
  const perMinute = createRateLimiter({ db, clock, windowMs: 60_000, shareEveryMs: API_COUNT_SHARE_MS });
  const tokens = new TokenAccess({
    ...deps,
    leaseMs: config.lifecycle.leaseMs,
    waitMs: config.httpTimeoutMs,
  });
  // First after the request log: an API call passes none of the pages' middleware (their headers, static
  // files, health and metrics routes); it has headers of its own, for JSON.
  const apiHeaders = apiSecurityHeaders(config);
  app.use(
    '/api/v1',
    apiHeaders,
    toHttps,
    createApiRouter(
      {
        db,
        clock,
        logger,
        publicUrl: config.publicUrl,
        settings: config.api,
        connections: deps.connections,
        afterDelete: (connection) => deps.lifecycle.revokeIfLast(connection),
        rateLimit: (limit, clientOf) => perMinute('api', limit, 'page', (_req, res) => clientOf(res)),
      },
      [
        connectSessionsPart({ connectSessions, providers: providers.all().map((p) => p.id) }),
        tokenPart({ db, clock, access: tokens }),
        proxyPart({ ...deps, access: tokens }),
        embedsPart(deps.embeds),
      ],
    ),
  );
  app.use('/api', apiHeaders, toHttps, apiNotFound, apiErrorHandler(logger));

  app.use(securityHeaders(config));
  app.use(toHttps);
  app.use('/public', express.static(join(PROJECT_ROOT, 'public'), { index: false, maxAge: '1h' }));
  app.use(createHealthRouter(db));
  // Behind a bearer token only, before sessions (a scrape never creates one); never public by default.
  if (deps.metrics && config.watch.metrics.token) app.use(metricsRoute(deps.metrics, config.watch.metrics.token));
  // The built-in sandbox stands in for Instagram, whose consent form redirects through the callback to
  // wherever the flow ends (a connect link's return_url on another origin): browsers apply form-action
  // to every hop of that redirect, so its pages have none, like the standalone sandbox's.
  if (deps.sandbox) {
    app.use(deps.sandbox.basePath, securityHeaders(config, { formAction: false }), deps.sandbox.router);
  }

  // Before sessions, so a refused request creates nothing. Webhook routes must be mounted after this.
  const rateLimit = createRateLimiter({
    db,
    clock,
    windowMs: config.rateLimits.windowMs,
    grouping: config.reliability.rateLimits,
  });
  for (const { id } of providers.all()) {
    app.get(`/auth/${id}`, rateLimit('auth-start', config.rateLimits.authStart, 'page'));
    app.get(`/auth/${id}/callback`, rateLimit('auth-callback', config.rateLimits.authCallback, 'page'));
  }
  // Opening a connect link starts a flow: it counts as a start. Anything else under /connect/ (the
  // result page, malformed links) starts nothing and reads nothing, so it is not counted.
  const linkStartLimit = rateLimit('auth-start', config.rateLimits.authStart, 'page');
  app.get('/connect/:secret', (req, res, next) =>
    looksLikeLinkSecret(String(req.params.secret)) ? linkStartLimit(req, res, next) : next(),
  );
  app.use('/webhooks', rateLimit('webhooks', config.rateLimits.webhooks, 'json'));
  // Meta's callbacks: after their rate limit, before sessions (a callback never creates a session).
  app.use(
    createWebhooksRouter({
      webhooks: deps.webhooks,
      clock,
      receivers: providers
        .all()
        .filter((p) => p.callbackSecrets.length > 0)
        .map((p) => ({ provider: p.id, secrets: p.callbackSecrets })),
      maxAgeMs: config.lifecycle.webhookMaxAgeMs,
    }),
  );

  const choices = new PendingChoices(db, deps.vault, clock);
  const finish = connectFinisher({ connections: deps.connections, connectSessions });
  const passport = createPassport({
    db,
    clock,
    providers,
    http: deps.http,
    choices,
    finish,
  });
  app.use(createSessionMiddleware(config, db, clock));
  app.use(passport.initialize());
  app.use(passport.session());

  const forms = { token: csrfToken, check: requireCsrf(new URL(config.publicUrl).origin) };
  app.get('/', async (req, res) => {
    const connections = req.user ? await deps.connections.listForUser(req.user.id) : [];
    res.render('home', { signedIn: req.user !== undefined, connectionCount: connections.length });
  });
  app.use(createAuthRouter({ passport, providers, clock, connectSessions, choices, finish, forms }));
  app.use(createConnectSessionsRouter({ sessions: connectSessions, startFlow: linkFlowStarter(passport, providers) }));
  app.use(
    createConnectionsRouter({
      connections: deps.connections,
      clock,
      forms,
      afterDisconnect: (connection) => deps.lifecycle.revokeIfLast(connection),
      scopeWords: (provider, scope) => providers.find(provider)?.scopeWords[scope],
      ...(deps.watch ? { notices: degradedNotices(deps.watch, providers) } : {}),
    }),
  );
  app.use(createLifecycleRouter({ lifecycle: deps.lifecycle, forms }));
  app.use(createEmbedsRouter({ embeds: deps.embeds }));

  app.use(notFound());
  app.use(errorHandler(logger));
  return app;
}

/** The status page's sentences for providers whose app is degraded (src/incidents). */
function degradedNotices(watch: ProviderWatch, providers: ProviderRegistry): () => Promise<string[]> {
  return async () =>
    (await watch.all())
      .filter((state) => state.degraded !== null)
      .map((state) => {
        const name = providers.find(state.provider)?.displayName ?? state.provider;
        return `${name} is having problems right now: igconnect keeps your connection as it is and checks again by itself. Nothing for you to do.`;
      });
}
