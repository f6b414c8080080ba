import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import type { Kysely, Transaction } from 'kysely';
import { Client } from 'pg';
import { createDb } from '../../src/db/create-db';
import type { Database } from '../../src/db/schema';
import { withWriteTransaction } from '../../src/db/database-retry';
import { migrateToLatest } from '../../src/db/migrate';
import { signRequest } from '../../src/sandbox/sandbox';
import { csrfFrom, disconnectPaths, storedTokens } from '../security/security-support';
import { authorize, connect, finishCallback, ODD_ACCOUNT, startTestApp, type TestApp } from '../support/harness';
import { describeOnPostgres, TEST_DATABASE_URL } from '../support/postgres';
import { SqliteLockHolder, TinyDisk } from '../support/storage-faults';
import { seedConnection, storedToken } from '../support/factories';
import { DAY } from '../../src/shared/clock';
import { apiKey, bearer } from '../api/api-support';
import { waitFor } from '../support/processes';

/**
 * The storage's bad days under a running app, each reproduced as a deployer meets it: another process
 * holding SQLite's write lock, a disk that fills up, a PostgreSQL database turned read-only. Every case
 * checks the answer people and balancers get (503, JSON for machines), that nothing was half written,
 * and that the app recovers by itself.
 */
const describeOnSqlite: jest.Describe = TEST_DATABASE_URL ? describe.skip : describe;
const diskProblem = TinyDisk.unavailableReason();
const describeWithDisk: jest.Describe = TEST_DATABASE_URL || diskProblem ? describe.skip : describe;
if (diskProblem && !TEST_DATABASE_URL)
  process.stdout.write(`storage-faults: full-disk cases SKIPPED (${diskProblem})\n`);

/** The app's lock wait (DATABASE_TIMEOUT_MS) made short, so a refused write answers within the test. */
const shortLockWait = (config: { database: object }) => Object.assign(config.database, { timeoutMs: 1000 });

const transactionCount = async (app: TestApp) =>
  (await app.container.db.selectFrom('oauth_transactions').selectAll().execute()).length;

describeOnSqlite('storage faults: another process holds the SQLite write lock', () => {
  let app: TestApp;
  let holder: SqliteLockHolder;

  beforeEach(async () => {
    app = await startTestApp({ configure: shortLockWait });
    holder = await SqliteLockHolder.open(app.dbFile);
  });
  afterEach(async () => {
    await holder.close();
    await app.close();
  });

  it('when a write waits for the lock, then /healthz still answers first, the write gets a 503 page and /readyz says not ready until the lock goes', async () => {
    await holder.lock();
    const finished: string[] = [];
    const write = app
      .agent()
      .get('/auth/instagram')
      .then((response) => {
        finished.push('write');
        return response;
      });
    // Let the write reach the database and start waiting. Had it blocked the event loop, nothing below
    // could even be accepted before it gave up.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const health = await app.agent().get('/healthz');
    finished.push('healthz');
    expect(health.status).toBe(200);

    const refused = await write;
    expect(finished).toEqual(['healthz', 'write']);
    expect(refused.status).toBe(503);
    expect(refused.text).toContain('data-error-code="UNAVAILABLE"');
    expect(refused.text).toContain('locked by another process');
    expect(refused.text).not.toMatch(/\n\s+at |SqliteError|SQLITE_BUSY/);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.headers['set-cookie']).toBeUndefined();

    const notReady = await app.agent().get('/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({ status: 'unavailable', reason: 'database-writes' });

    await holder.unlock();
    expect((await app.agent().get('/readyz')).status).toBe(200);
    expect((await app.agent().get('/auth/instagram')).status).toBe(302);
    expect(await transactionCount(app)).toBe(1);
  });

  it('when the token reads cannot be recorded, then none of the callers recorded together gets the token, and all get a 503 in JSON', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    const token = storedToken(app, seeded);
    const { key } = await apiKey(app);
    const read = () => app.agent().get(`/api/v1/connections/${seeded.id}/access-token`).set(bearer(key));
    const recorded = async () => (await app.container.db.selectFrom('token_reads').selectAll().execute()).length;

    await holder.lock();
    // Sent together, so their records mostly share an INSERT: whichever INSERT holds a read, its failure
    // must fail that read.
    const refused = await Promise.all(Array.from({ length: 6 }, read));
    for (const response of refused) {
      expect(response.status).toBe(503);
      expect(response.body).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
      expect(response.text).not.toContain(token);
    }
    expect(await recorded()).toBe(0);
    // Each refusal is logged as a failed request, and the token is in no line.
    const errored = app.logs
      .join('')
      .split('\n')
      .filter((line) => line.includes('"msg":"request errored"') && line.includes('access-token'));
    expect(errored).toHaveLength(6);
    for (const line of errored) expect(JSON.parse(line)).toMatchObject({ level: 50, res: { statusCode: 503 } });
    expect(app.logs.join('')).not.toContain(token);

    await holder.unlock();
    const answered = await Promise.all(Array.from({ length: 6 }, read));
    expect(answered.map((r) => r.body.access_token)).toEqual(Array(6).fill(token));
    expect(await recorded()).toBe(6);
  });

  it('when another process takes the lock while a callback exchanges its code, then the connect waits for it and the connection is stored', async () => {
    const agent = app.agent();
    const callbackUrl = await authorize(agent, { account: ODD_ACCOUNT.igUserId });
    // Instagram takes a moment to answer the code exchange; the lock is taken meanwhile.
    app.sandbox.script('token', { delayMs: 300 });
    const callback = finishCallback(agent, callbackUrl);
    await waitFor(async () => (app.sandbox.calls.token === 1 ? true : undefined), 'the code exchange', 5000, 5);
    await holder.lock();
    // Held past the exchange, so the connect transaction meets it (a deferred transaction would be refused
    // at its first write, after its first read), and released before the lock wait runs out.
    setTimeout(() => void holder.unlock(), 700);
    const response = await callback;
    expect(response.status).toBe(303);
    expect(response.headers.location).toBe('/account');
    expect(await storedTokens(app)).toHaveLength(1);
  });

  it('when a changed session cannot be saved, then the page is a 503, not a form whose token was never stored', async () => {
    const agent = app.agent();
    expect((await connect(agent)).status).toBe(303);
    // The first status page after signing in creates the form token and consumes the welcome message.
    await holder.lock();
    const page = await agent.get('/account');
    expect(page.status).toBe(503);
    expect(page.text).toContain('data-error-code="UNAVAILABLE"');
    expect(page.text).not.toContain('name="_csrf"');
    expect(page.headers['set-cookie']).toBeUndefined();
    await holder.unlock();

    const html = (await agent.get('/account')).text;
    const [path] = disconnectPaths(html);
    const posted = await agent
      .post(path as string)
      .type('form')
      .send({ _csrf: csrfFrom(html) });
    expect(posted.status).toBe(303);
    expect(await storedTokens(app)).toHaveLength(0);
  });
});

describeWithDisk('storage faults: the disk under the SQLite database fills up', () => {
  let disk: TinyDisk;
  let app: TestApp;

  beforeEach(async () => {
    disk = TinyDisk.mount(16);
    app = await startTestApp({ env: { DATABASE_URL: `sqlite:${join(disk.dir, 'igconnect.db')}` } });
  });
  afterEach(async () => {
    await app?.close();
    disk?.unmount();
  });

  it('when the disk is full, then pages and webhooks answer 503 (webhooks in JSON), /readyz is 503, nothing is half written, and freeing space recovers without a restart', async () => {
    const agent = app.agent();
    expect((await connect(agent, { account: ODD_ACCOUNT.igUserId })).status).toBe(303);
    // The first status page settles the session (form token); later views only read.
    expect((await agent.get('/account')).status).toBe(200);
    const [tokenBefore] = await storedTokens(app);

    expect(disk.fill()).toBeGreaterThan(0);

    const start = await app.agent().get('/auth/instagram');
    expect(start.status).toBe(503);
    expect(start.text).toContain('data-error-code="UNAVAILABLE"');
    expect(start.text).toContain('disk holding the database is full');
    expect(start.text).not.toMatch(/\n\s+at |SqliteError|SQLITE_FULL/);

    const secret = app.container.config.providers.instagram!.appSecret;
    const signed = signRequest(
      { algorithm: 'HMAC-SHA256', issued_at: Math.floor(app.clock.now() / 1000), user_id: ODD_ACCOUNT.igUserId },
      secret,
    );
    const webhook = await app
      .agent()
      .post('/webhooks/instagram/deauthorize')
      .type('form')
      .set('Accept', 'text/html')
      .send(`signed_request=${encodeURIComponent(signed)}`);
    expect(webhook.status).toBe(503);
    expect(webhook.headers['content-type']).toMatch(/application\/json/);
    expect(webhook.body).toEqual({ error: { code: 'UNAVAILABLE' } });

    const notReady = await app.agent().get('/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({ status: 'unavailable', reason: 'database-writes' });
    expect((await app.agent().get('/healthz')).status).toBe(200);
    // Reading still works: the signed-in person sees their account.
    expect((await agent.get('/account')).text).toContain(ODD_ACCOUNT.igUserId);

    disk.free();

    expect((await app.agent().get('/readyz')).status).toBe(200);
    expect((await app.agent().get('/auth/instagram')).status).toBe(302);
    const check = new SQLite(join(disk.dir, 'igconnect.db'), { readonly: true });
    try {
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      check.close();
    }
    // The refused deauthorize deleted nothing; the token is whole and still decrypts.
    expect(await storedTokens(app)).toEqual([tokenBefore]);
  });
});

describeOnPostgres('storage faults: the PostgreSQL database turns read-only', () => {
  let app: TestApp;
  let admin: Client;
  let database: string;

  beforeEach(async () => {
    app = await startTestApp();
    database = new URL(app.databaseUrl).pathname.slice(1);
    admin = new Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
  });
  afterEach(async () => {
    await admin.query(`alter database ${database} reset default_transaction_read_only`).catch(() => undefined);
    await admin.end();
    await app.close();
  });

  /** New sessions start read-only; the app's pooled connections are ended so that the pool opens new ones. */
  async function setReadOnly(on: boolean): Promise<void> {
    await admin.query(`alter database ${database} set default_transaction_read_only = ${on ? 'on' : 'off'}`);
    await admin.query(
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [database],
    );
  }

  it('when writes are refused, then requests answer 503, /readyz is 503 until a probe write succeeds again, and nothing needs a restart', async () => {
    const agent = app.agent();
    expect((await connect(agent, { account: ODD_ACCOUNT.igUserId })).status).toBe(303);
    await setReadOnly(true);

    const refused = await waitFor(async () => {
      const response = await app.agent().get('/auth/instagram');
      // The first request may meet a pooled connection that was just ended (a restart, also a 503).
      return response.status === 503 && response.text.includes('read-only') ? response : undefined;
    }, 'a write refused as read-only');
    expect(refused.text).toContain('data-error-code="UNAVAILABLE"');
    expect((await app.agent().get('/readyz')).status).toBe(503);
    expect((await app.agent().get('/healthz')).status).toBe(200);

    await setReadOnly(false);
    await waitFor(async () => ((await app.agent().get('/readyz')).status === 200 ? true : undefined), 'readiness');
    expect((await app.agent().get('/auth/instagram')).status).toBe(302);
    expect(await storedTokens(app)).toHaveLength(1);
  });
});

describeOnSqlite('storage faults: withWriteTransaction, the write that must not be lost', () => {
  let dir: string;
  let db: Kysely<Database>;
  let holder: SqliteLockHolder;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'igconnect-retry-'));
    const file = join(dir, 'igconnect.db');
    // Each statement waits at most 300 ms for a lock; the helper's deadline is what spans a longer one.
    db = createDb({ kind: 'sqlite', filename: file }, { lockWaitMs: 300 });
    await migrateToLatest(db);
    holder = await SqliteLockHolder.open(file);
  });
  afterEach(async () => {
    await holder.close();
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const insertUser = (id: string) => (trx: Transaction<Database>) =>
    trx.insertInto('users').values({ id, created_at: 1 }).execute();
  const users = async () => (await db.selectFrom('users').select('id').execute()).map((u) => u.id);

  it('when the lock outlasts one lock wait but not the deadline, then the write waits on and commits once', async () => {
    await holder.lock();
    // A plain transaction gives up after one lock wait…
    const plain = await db
      .transaction()
      .execute(insertUser('plain'))
      .catch((e: unknown) => e);
    expect((plain as { code?: string }).code).toMatch(/^SQLITE_BUSY/);
    // …the helper's deadline spans the whole lock.
    setTimeout(() => void holder.unlock(), 1200);
    await withWriteTransaction(db, insertUser('kept'), { deadlineMs: 10_000 });
    expect(await users()).toEqual(['kept']);
  });

  it('when the lock outlasts the deadline, then it fails with the lock error and writes nothing', async () => {
    await holder.lock();
    const failed = await withWriteTransaction(db, insertUser('lost'), { deadlineMs: 800 }).catch((e: unknown) => e);
    expect((failed as { code?: string }).code).toMatch(/^SQLITE_BUSY/);
    await holder.unlock();
    expect(await users()).toEqual([]);
  });

  it('when a statement fails for its own reason, then it is not retried', async () => {
    await db.insertInto('users').values({ id: 'twice', created_at: 1 }).execute();
    let retries = 0;
    const failed = await withWriteTransaction(db, insertUser('twice'), { onRetry: () => (retries += 1) }).catch(
      (e: unknown) => e,
    );
    expect((failed as { code?: string }).code).toMatch(/^SQLITE_CONSTRAINT/);
    expect(retries).toBe(0);
  });
});
