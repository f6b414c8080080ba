import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, type SqliteDatabase, SqliteDialect } from 'kysely';
import type { DatabaseConfig } from '../config/config';
import type { Database } from './database';

/** The only place that knows which SQL engine runs; everything else speaks Kysely. */
export function createDb(config: DatabaseConfig): Kysely<Database> {
  if (config.kind === 'postgres') {
    throw new Error('DATABASE_URL: PostgreSQL support is not built yet; use sqlite:<path>');
  }
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
