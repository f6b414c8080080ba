import { type Kysely, sql } from 'kysely';
import { Client } from 'pg';
import { loadConfig } from '../../src/config/config';
import { createDb } from '../../src/db/create-db';
import { isDatabaseUnavailable } from '../../src/db/database-errors';
import type { Database } from '../../src/db/schema';
import { migrateToLatest } from '../../src/db/migrate';
import { migrations } from '../../src/db/migrations/index';
import { connect, ODD_ACCOUNT, startTestApp } from '../support/harness';
import { createTestDatabase, describeOnPostgres, type TestDatabase } from '../support/postgres';

/** What only PostgreSQL can show: the engine is really used, pool limits, timeouts, concurrent migrations. */
describeOnPostgres('PostgreSQL', () => {
  let database: TestDatabase;
  const opened: Kysely<Database>[] = [];

  const open = (env: Record<string, string> = {}) => {
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      SESSION_SECRET: 'x'.repeat(40),
      TOKEN_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
      ...env,
    });
    const db = createDb(config.database);
    opened.push(db);
    return db;
  };

  beforeEach(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((db) => db.destroy()));
    await database.drop();
  });

  it('when the suite runs under test:pg, then the app stores its rows in PostgreSQL with times as numbers', async () => {
    const app = await startTestApp();
    try {
      expect(app.databaseUrl).toMatch(/^postgres:\/\//);
      const { rows } = await sql<{ version: string }>`select version() as version`.execute(app.container.db);
      expect(rows[0]?.version).toMatch(/^PostgreSQL /);
      expect((await connect(app.agent(), { account: ODD_ACCOUNT.igUserId })).status).toBe(303);
      const row = await app.container.db.selectFrom('connections').selectAll().executeTakeFirstOrThrow();
      expect(row.account_id).toBe(ODD_ACCOUNT.igUserId);
      expect(typeof row.token_expires_at).toBe('number');
      expect(row.token_expires_at).toBe(row.token_issued_at + 5183944 * 1000);
      const count = await app.container.db
        .selectFrom('sessions')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      expect(count.n).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('when several instances migrate one new database at the same time, then each migration runs once', async () => {
    const instances = [open(), open(), open(), open()];
    await Promise.all(instances.map((db) => migrateToLatest(db)));
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(instances[0]!);
    expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(migrations).sort());
    const tables = await sql<{ table_name: string }>`
      select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(
      instances[1]!,
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['connections', 'oauth_transactions', 'sessions', 'users']),
    );
  });

  it('when another instance holds the migration lock longer than DATABASE_TIMEOUT_MS, then start-up waits for it', async () => {
    // Kysely's migrator takes this session-level advisory lock (kysely/dist/cjs/dialect/postgres/postgres-adapter.js).
    const holder = new Client({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock(3853314791062309107)');
      const started = Date.now();
      const starting = startTestApp({ env: { DATABASE_URL: database.url, DATABASE_TIMEOUT_MS: '300' } });
      setTimeout(() => void holder.query('select pg_advisory_unlock(3853314791062309107)'), 1200);
      const app = await starting;
      try {
        expect(Date.now() - started).toBeGreaterThanOrEqual(1100);
        expect((await app.agent().get('/readyz')).status).toBe(200);
      } finally {
        await app.close();
      }
    } finally {
      await holder.end();
    }
  });

  it('when more queries run than DATABASE_POOL_MAX allows, then the process never opens more connections', async () => {
    const db = open({ DATABASE_POOL_MAX: '2' });
    const sleepers = Array.from({ length: 6 }, () => sql`select pg_sleep(0.3)`.execute(db));
    const observer = new Client({ connectionString: database.url });
    await observer.connect();
    try {
      await new Promise((resolve) => setTimeout(resolve, 150));
      const { rows } = await observer.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = 'igconnect'`,
        [database.name],
      );
      expect(rows[0]?.n).toBe(2);
      await Promise.all(sleepers);
    } finally {
      await observer.end();
    }
  });

  it('when a statement outlives DATABASE_TIMEOUT_MS, then it fails fast as "database unavailable"', async () => {
    const db = open({ DATABASE_TIMEOUT_MS: '300' });
    const started = Date.now();
    const error = await sql`select pg_sleep(5)`.execute(db).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it('when nothing listens at the database address, then queries fail fast as "database unavailable"', async () => {
    const db = createDb({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:1/none', poolMax: 2, timeoutMs: 500 });
    opened.push(db);
    const error = await sql`select 1`.execute(db).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDatabaseUnavailable(error)).toBe(true);
  });
});
