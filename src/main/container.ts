import type { Kysely } from 'kysely';
import type { DestinationStream } from 'pino';
import { TransactionStore } from '../auth/transaction-store';
import { type Config, SANDBOX_BASE_PATH } from '../config/config';
import { ConnectionsService } from '../connections/connections.service';
import { createDb, openForMigrations } from '../db/create-db';
import type { Database } from '../db/database';
import { migrateToLatest, pingDatabase } from '../db/migrate';
import { Keeper } from '../lifecycle/keeper';
import { LifecycleService } from '../lifecycle/lifecycle.service';
import { createInstagramProvider } from '../providers/instagram';
import type { ProviderDefinition } from '../providers/provider-definition';
import { createSandbox, type Sandbox } from '../sandbox/sandbox';
import { type Clock, systemClock } from '../shared/clock';
import { createHttpClient, type HttpClient } from '../shared/http-client';
import { createLogger, type Logger } from '../shared/logger';
import { TokenCipher } from '../shared/token-cipher';
import { WebhooksService } from '../webhooks/webhooks.service';

/** Everything the app and the worker need, built once from the config. The only place that wires. */
export interface Container {
  config: Config;
  clock: Clock;
  logger: Logger;
  db: Kysely<Database>;
  http: HttpClient;
  provider: ProviderDefinition;
  cipher: TokenCipher;
  transactions: TransactionStore;
  connections: ConnectionsService;
  lifecycle: LifecycleService;
  webhooks: WebhooksService;
  /** A new keeper over this container (each has its own lease owner id); nothing starts it here. */
  createKeeper(owner?: string): Keeper;
  /** The built-in fake Instagram, present only when no INSTAGRAM_APP_ID is configured (never in production). */
  sandbox: Sandbox | undefined;
  sandboxBasePath: string;
  close(): Promise<void>;
}

export interface ContainerOverrides {
  clock?: Clock;
  logDestination?: DestinationStream;
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

  const provider = createInstagramProvider(config.instagram);
  const cipher = new TokenCipher(config.encryptionKeys);
  const sandbox =
    config.instagram.mode === 'sandbox'
      ? createSandbox({
          clock,
          clientId: config.instagram.appId,
          clientSecret: config.instagram.appSecret,
          redirectUris: [config.instagram.redirectUri],
          basePath: SANDBOX_BASE_PATH,
          publicUrl: config.publicUrl,
          logger,
          // Like Meta, the sandbox calls the app's callbacks when a test account removes the app.
          callbacks: {
            deauthorizeUrl: `${config.publicUrl}/webhooks/instagram/deauthorize`,
            dataDeletionUrl: `${config.publicUrl}/webhooks/instagram/data-deletion`,
          },
        })
      : undefined;

  const http = createHttpClient({ timeoutMs: config.httpTimeoutMs, logger });
  const lifecycle = new LifecycleService({ db, provider, http, cipher, clock, logger, settings: config.lifecycle });

  return {
    config,
    clock,
    logger,
    db,
    http,
    provider,
    cipher,
    transactions: new TransactionStore(db, clock, provider.id),
    connections: new ConnectionsService(db, cipher, clock, config.lifecycle),
    lifecycle,
    webhooks: new WebhooksService(db, clock, config.publicUrl, provider.id),
    createKeeper: (owner) => new Keeper({ db, lifecycle, clock, logger, settings: config.lifecycle }, owner),
    sandbox,
    sandboxBasePath: SANDBOX_BASE_PATH,
    close: () => db.destroy(),
  };
}
