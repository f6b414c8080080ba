import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
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
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}
