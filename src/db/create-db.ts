import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { type DatabaseConnection, type Dialect, type Driver, Kysely, PostgresDialect } from 'kysely';
import { Pool, types as pgTypes } from 'pg';
import type { DatabaseConfig } from '../config/config';
import { registerWriteHealth, WriteHealth } from './database-health';
import { DEFAULT_LOCK_WAIT_MS } from './database-retry';
import type { Database } from './schema';
import { LockAwareSqliteDialect } from './sqlite-driver';

/** PostgreSQL's type id of int8 (bigint), the type of every epoch-millisecond column and of count(*). */
const INT8_OID = 20;

export interface CreateDbOptions {
  /**
   * false for migrations: a migration may legitimately outlast DATABASE_TIMEOUT_MS (an index on a big
   * table, or waiting for another instance's migration lock), which requests must not.
   */
  statementDeadlines?: boolean;
  /**
   * Told when an idle pooled connection breaks (the server restarted or went away). pg emits this as an
   * 'error' event, and an unhandled 'error' event would end the process; the pool replaces the connection.
   */
  onConnectionError?: (error: Error) => void;
  /**
   * SQLite: how long a statement or a transaction's BEGIN waits, asynchronously, for a write lock held by
   * another process when no deadline is in force (default DATABASE_TIMEOUT_MS's default, 5000 ms). On
   * PostgreSQL DatabaseConfig.timeoutMs bounds the same waits.
   */
  lockWaitMs?: number;
  /**
   * SQLite: SQLite's own busy_timeout, a synchronous wait that blocks the event loop: 0 by default, the
   * waiting is done on timers instead (see sqlite-driver.ts).
   */
  busyTimeoutMs?: number;
}

/** The only place that knows which SQL engine runs; everything else speaks Kysely. */
export function createDb(config: DatabaseConfig, options: CreateDbOptions = {}): Kysely<Database> {
  const health = new WriteHealth();
  const db = new Kysely<Database>({ dialect: createDialect(config, options, health) });
  registerWriteHealth(db, health);
  return db;
}

function createDialect(config: DatabaseConfig, options: CreateDbOptions, health: WriteHealth): Dialect {
  if (config.kind === 'postgres') return observeWrites(postgresDialect(config, options), health);
  if (config.filename !== ':memory:') mkdirSync(dirname(config.filename), { recursive: true });
  const sqlite = new SQLite(config.filename, { timeout: options.busyTimeoutMs ?? 0 });
  // WAL lets readers run while the single writer commits. Locks are waited for on timers, never in SQLite.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 0))}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('synchronous = NORMAL');
  return new LockAwareSqliteDialect(sqlite, withStatementCache(sqlite), {
    // DATABASE_TIMEOUT_MS bounds lock waits, as it bounds PostgreSQL's statements.
    lockWaitMs: options.lockWaitMs ?? config.timeoutMs ?? DEFAULT_LOCK_WAIT_MS,
    health,
  });
}

const WRITE_KINDS = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode']);

/**
 * PostgreSQL: reports each write's outcome to the handle's WriteHealth (for /readyz), by wrapping the
 * connections the driver hands out. Statements inside a transaction count once it commits.
 */
function observeWrites(dialect: Dialect, health: WriteHealth): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createDriver: (): Driver => {
      const driver = dialect.createDriver();
      const observe = (connection: DatabaseConnection): DatabaseConnection =>
        new Proxy(connection, {
          get(target, property) {
            if (property === 'executeQuery') {
              return async (query: Parameters<DatabaseConnection['executeQuery']>[0]) => {
                const kind = (query.query as { kind?: string } | undefined)?.kind ?? '';
                const commit = kind === 'RawNode' && /^\s*commit\b/i.test(query.sql);
                const write = commit || WRITE_KINDS.has(kind);
                try {
                  const result = await target.executeQuery(query);
                  if (commit || (write && !inTransaction.has(target))) health.succeeded();
                  return result;
                } catch (error) {
                  if (write) health.failed(error);
                  throw error;
                }
              };
            }
            const value: unknown = Reflect.get(target, property, target);
            return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
          },
        });
      const inTransaction = new WeakSet<DatabaseConnection>();
      const unwrap = new WeakMap<DatabaseConnection, DatabaseConnection>();
      return {
        init: () => driver.init(),
        acquireConnection: async () => {
          const connection = await driver.acquireConnection();
          const observed = observe(connection);
          unwrap.set(observed, connection);
          return observed;
        },
        beginTransaction: async (connection, settings) => {
          await driver.beginTransaction(connection, settings);
          inTransaction.add(unwrap.get(connection) ?? connection);
        },
        commitTransaction: async (connection) => {
          inTransaction.delete(unwrap.get(connection) ?? connection);
          await driver.commitTransaction(connection);
        },
        rollbackTransaction: async (connection) => {
          inTransaction.delete(unwrap.get(connection) ?? connection);
          await driver.rollbackTransaction(connection);
        },
        releaseConnection: (connection) => driver.releaseConnection(unwrap.get(connection) ?? connection),
        destroy: () => driver.destroy(),
      };
    },
  };
}

/** Distinct SQL texts kept compiled; the app has a few dozen, IN lists of varying length add more. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query anew, and better-sqlite3 compiles SQL on each prepare(): a sizeable part
 * of a status page's time went into compiling the same few statements. The app runs a small fixed set
 * of queries, so compiled statements are kept by SQL text (and all dropped when the bound is reached).
 * Safe because better-sqlite3 runs one statement at a time to completion; the app never streams
 * (Kysely's stream() iterates a statement and could not share it).
 */
function withStatementCache(sqlite: SQLite.Database): { prepare(sql: string): SQLite.Statement } {
  const statements = new Map<string, SQLite.Statement>();
  return {
    prepare: (sql) => {
      let statement = statements.get(sql);
      if (!statement) {
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear();
        statement = sqlite.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

/**
 * A handle to run migrations with and its closer. On PostgreSQL a one-connection pool without statement
 * deadlines (see CreateDbOptions.statementDeadlines); on SQLite the app's own handle (a second handle
 * would not see a `:memory:` database, and SQLite has no statement deadline to lift).
 */
export function openForMigrations(
  config: DatabaseConfig,
  appDb: Kysely<Database>,
  options: CreateDbOptions = {},
): { db: Kysely<Database>; close(): Promise<void> } {
  if (config.kind !== 'postgres') return { db: appDb, close: async () => undefined };
  const db = createDb({ ...config, poolMax: 1 }, { ...options, statementDeadlines: false });
  return { db, close: () => db.destroy() };
}

function postgresDialect(config: Extract<DatabaseConfig, { kind: 'postgres' }>, options: CreateDbOptions) {
  const deadlines = options.statementDeadlines !== false;
  const pool = new Pool({
    connectionString: config.url,
    max: config.poolMax,
    // Fail fast while the server is unreachable (requests answer 503) instead of queueing without end.
    connectionTimeoutMillis: config.timeoutMs,
    // statement_timeout bounds work on the server; query_timeout also covers a server that stops answering.
    ...(deadlines ? { statement_timeout: config.timeoutMs, query_timeout: config.timeoutMs + 1000 } : {}),
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'igconnect',
    // bigint columns hold epoch milliseconds (far below 2^53): read them as numbers, as SQLite does. Set on
    // this pool only, so other pg users in the same process keep pg's default (strings).
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID && format !== 'binary'
          ? (value: string) => Number(value)
          : pgTypes.getTypeParser(oid, format ?? 'text')) as typeof pgTypes.getTypeParser,
    },
  });
  // pg-pool sets `client` on the error it emits, and a logged client carries its connection parameters
  // (the password among them): only the message and the code are passed on.
  pool.on('error', (error) => options.onConnectionError?.(connectionError(error)));
  // A client checked out by a transaction between two statements has no 'error' listener (pg-pool
  // listens only while a client is idle), and a server shutting down then ended the whole process with
  // an unhandled 'error' event. The statement in flight, or the next one, fails by itself (503) and the
  // pool drops the broken client when it comes back.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new PostgresDialect({ pool });
}

function connectionError(error: Error): Error {
  const code = (error as { code?: unknown }).code;
  return Object.assign(new Error(error.message), typeof code === 'string' ? { code } : {});
}
