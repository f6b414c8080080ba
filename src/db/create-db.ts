import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, type SqliteDatabase, SqliteDialect } from 'kysely';
import { Pool, types as pgTypes } from 'pg';
import type { DatabaseConfig } from '../config/config';
import type { Database } from './schema';

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
}

/** The only place that knows which SQL engine runs; everything else speaks Kysely. */
export function createDb(config: DatabaseConfig, options: CreateDbOptions = {}): Kysely<Database> {
  if (config.kind === 'postgres') return new Kysely<Database>({ dialect: postgresDialect(config, options) });
  if (config.filename !== ':memory:') mkdirSync(dirname(config.filename), { recursive: true });
  const sqlite = new SQLite(config.filename);
  // WAL lets readers run while the single writer commits; busy_timeout waits for the lock instead of failing.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('synchronous = NORMAL');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
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
function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
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
  pool.on('error', (error) => options.onConnectionError?.(error));
  return new PostgresDialect({ pool });
}
