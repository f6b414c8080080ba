import type { DestinationStream } from 'pino';
import { type Config, SANDBOX_BASE_PATH } from '../config/config';
import { connectionResource } from '../api/connection-resource';
import { ConnectionsService } from '../connections/connections.service';
import { TokenVault } from '../connections/token-vault';
import { createDb, openForMigrations } from '../db/create-db';
import { EmbedsService } from '../embeds/embeds.service';
import { EventOutbox } from '../events/outbox';
import { EventRelay } from '../events/relay';
import { migrateToLatest, pingDatabase } from '../db/migrate';
import type { AppDeps } from '../http/create-app';
import { SelfCheck } from '../incidents/canary';
import { ProviderWatch } from '../incidents/provider-watch';
import { Metrics } from '../metrics/metrics';
import { Keeper } from '../lifecycle/keeper';
import { createSchedule } from '../lifecycle/lifecycle-policy';
import { LifecycleService } from '../lifecycle/lifecycle.service';
import { createFacebookProvider } from '../providers/facebook';
import { createInstagramProvider } from '../providers/instagram';
import { ProviderRegistry } from '../providers/registry';
import { createSandbox, type SandboxControl } from '../sandbox/sandbox';
import { type Clock, systemClock } from '../shared/clock';
import { createHttpClient } from '../shared/http-client';
import { createLogger } from '../shared/logger';
import { TokenCipher } from '../shared/token-cipher';
import { WebhooksService } from '../webhooks/webhooks.service';

/** Everything the app, the worker and the CLI need, built once from the config. The only place that wires. */
export interface Container extends AppDeps {
  cipher: TokenCipher;
  vault: TokenVault;
  /** The contract canary; a started keeper runs it daily. */
  selfCheck: SelfCheck;
  /** A new keeper over this container (each has its own lease owner id); nothing starts it here. */
  createKeeper(owner?: string): Keeper;
  /** The outbox every change writes its events to (enabled when events are configured). */
  outbox: EventOutbox;
  /** A new relay of signed events (its own lease owner id), or undefined when events are not configured. */
  createRelay(owner?: string): EventRelay | undefined;
  /** The built-in fake Instagram, present only when no INSTAGRAM_APP_ID is configured (never in production). */
  sandbox?: AppDeps['sandbox'] & { control: SandboxControl };
  close(): Promise<void>;
}

export interface ContainerOverrides {
  clock?: Clock;
  logDestination?: DestinationStream;
  /** Which kind of process this is, as metrics label it (default web). */
  processKind?: 'web' | 'worker';
}

export async function createContainer(config: Config, overrides: ContainerOverrides = {}): Promise<Container> {
  const clock = overrides.clock ?? systemClock;
  const logger = createLogger({ level: config.logLevel, destination: overrides.logDestination });
  const dbOptions = {
    onConnectionError: (error: Error) => logger.warn({ err: error }, 'database connection lost; the pool reconnects'),
  };
  const db = createDb(config.database, dbOptions);
  const migrations = openForMigrations(config.database, db, dbOptions);
  try {
    await migrateToLatest(migrations.db);
  } finally {
    await migrations.close();
  }
  // The app's own pool (with its deadlines) must work too before anything listens.
  await pingDatabase(db);

  const { instagram, facebook } = config.providers;
  const providers = new ProviderRegistry([
    ...(instagram ? [createInstagramProvider(instagram)] : []),
    ...(facebook ? [createFacebookProvider(facebook)] : []),
  ]);
  const cipher = new TokenCipher(config.encryptionKeys);
  const vault = new TokenVault(cipher);
  // Metrics only when something can read them (METRICS_PORT or METRICS_TOKEN): otherwise nothing counts.
  let metrics: Metrics | undefined;
  const http = createHttpClient({
    timeoutMs: config.httpTimeoutMs,
    logger,
    observe: (call) => metrics?.observeProviderCall(call),
  });
  const outbox = new EventOutbox({ clock, present: connectionResource, enabled: config.events !== undefined });
  const connections = new ConnectionsService(db, vault, clock, createSchedule(providers, config.lifecycle), outbox);
  const watch = new ProviderWatch({ db, clock, logger, providers, connections, http, settings: config.watch });
  watch.start();
  const selfCheck = new SelfCheck({ db, clock, logger, providers, http, settings: config.watch.canary });
  const { port: metricsPort, token: metricsToken } = config.watch.metrics;
  if (metricsPort !== undefined || metricsToken !== undefined) {
    metrics = new Metrics({ db, clock, providers, watch, process: overrides.processKind ?? 'web' });
  }
  const lifecycle = new LifecycleService({
    connections,
    providers,
    http,
    clock,
    logger,
    settings: config.lifecycle,
    watch,
    ...(metrics ? { onStep: metrics.observeStep } : {}),
  });

  // The built-in sandbox stands in for whichever provider runs against it (development and tests only).
  const instagramSandbox = instagram?.mode === 'sandbox' ? instagram : undefined;
  const facebookSandbox = facebook?.mode === 'sandbox' ? facebook : undefined;
  const callbacksOf = (provider: string) => ({
    deauthorizeUrl: `${config.publicUrl}/webhooks/${provider}/deauthorize`,
    dataDeletionUrl: `${config.publicUrl}/webhooks/${provider}/data-deletion`,
  });
  const sandbox =
    instagramSandbox || facebookSandbox
      ? createSandbox({
          clock,
          clientId: instagramSandbox?.appId ?? 'igconnect-sandbox-app',
          clientSecret: instagramSandbox?.appSecret ?? 'igconnect-sandbox-secret',
          redirectUris: instagramSandbox ? [instagramSandbox.redirectUri] : [],
          basePath: SANDBOX_BASE_PATH,
          publicUrl: config.publicUrl,
          logger,
          // Like Meta, the sandbox calls the app's callbacks when a test account removes the app.
          callbacks: callbacksOf('instagram'),
          ...(facebookSandbox
            ? {
                facebook: {
                  clientId: facebookSandbox.appId,
                  clientSecret: facebookSandbox.appSecret,
                  redirectUris: [facebookSandbox.redirectUri],
                  callbacks: callbacksOf('facebook'),
                },
              }
            : {}),
        })
      : undefined;

  return {
    config,
    clock,
    logger,
    db,
    http,
    providers,
    cipher,
    vault,
    connections,
    lifecycle,
    webhooks: new WebhooksService(db, connections, clock, config.publicUrl),
    embeds: new EmbedsService({ providers, http, clock, cacheMs: config.api.oembedCacheMs }),
    watch,
    metrics,
    selfCheck,
    createKeeper: (owner) =>
      new Keeper(
        {
          connections,
          lifecycle,
          clock,
          logger,
          settings: config.lifecycle,
          watch,
          selfCheck: () => selfCheck.runIfDue(),
        },
        owner,
      ),
    outbox,
    createRelay: (owner) => {
      const settings = config.events;
      if (!settings) return undefined;
      return new EventRelay({ db, http, clock, wallClock: systemClock, logger, settings, commits: outbox }, owner);
    },
    sandbox: sandbox && { basePath: SANDBOX_BASE_PATH, router: sandbox.router, control: sandbox.control },
    close: async () => {
      await watch.stop();
      await db.destroy();
    },
  };
}
