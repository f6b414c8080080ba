import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Client } from 'pg';
import { DAY, SECOND } from '../../src/shared/clock';
import { startTestApp, type TestApp } from '../support/harness';
import { row, seedConnection, storedToken } from '../support/factories';

const WORKER = join(__dirname, '../../dist/src/main/worker.js');

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

interface WriteBlock {
  /** Resolves once the worker's write is held up by the block (as far as the database lets us see). */
  writerWaits(): Promise<void>;
  release(): Promise<void>;
}

/**
 * Blocks writes to one connection row from outside the app: SQLite's database-wide write lock, or a
 * PostgreSQL row lock held by another session.
 */
async function blockWrites(app: TestApp, connectionId: string): Promise<WriteBlock> {
  if (app.databaseUrl.startsWith('sqlite:')) {
    const lock = new SQLite(app.dbFile);
    lock.exec('BEGIN IMMEDIATE');
    return {
      // SQLite shows no waiter from outside; Instagram's answer takes 1.5 s, so wait past it. Whether the
      // worker dies just before or just after its UPDATE started, the outcome asserted below is the same.
      writerWaits: () => new Promise((resolve) => setTimeout(resolve, 2000)),
      release: async () => {
        lock.exec('ROLLBACK');
        lock.close();
      },
    };
  }
  const client = new Client({ connectionString: app.databaseUrl });
  await client.connect();
  await client.query('begin');
  await client.query('select id from connections where id = $1 for update', [connectionId]);
  const watcher = new Client({ connectionString: app.databaseUrl });
  await watcher.connect();
  return {
    // The worker's write has reached the server and waits for our row lock: no guessing at timings.
    writerWaits: () =>
      until(async () => {
        const { rows } = await watcher.query<{ n: string }>(
          `select count(*) as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'`,
        );
        return Number(rows[0]?.n ?? 0) > 0;
      }, 20_000),
    release: async () => {
      await watcher.end();
      await client.query('rollback');
      await client.end();
    },
  };
}

/**
 * A real keeper process (`npm run worker`) is killed after Instagram answered a refresh but before the
 * new token was stored: the test blocks writes to the row so the worker's UPDATE waits, then SIGKILLs it.
 */
describe('keeper crash safety', () => {
  let app: TestApp;
  let worker: ChildProcess | undefined;

  beforeEach(async () => {
    app = await startTestApp({ start: Date.now(), env: { VALIDATE_INTERVAL_HOURS: '0' } });
  });
  afterEach(async () => {
    worker?.kill('SIGKILL');
    await app.close();
  });

  it('when the keeper dies between "new token received" and "stored", then no token is lost', async () => {
    const seeded = await seedConnection(app, { issuedAt: app.clock.now() - 51 * DAY });
    const oldToken = storedToken(app, seeded);
    app.sandbox.script('refresh', { delayMs: 1500 });

    worker = spawn(process.execPath, [WORKER], {
      env: {
        PATH: process.env.PATH,
        ...app.env,
        KEEPER_INTERVAL_SECONDS: '1',
        KEEPER_LEASE_SECONDS: '10',
        LOG_LEVEL: 'silent',
      },
      stdio: 'ignore',
    });
    // The worker has claimed the row and asked Instagram; the answer is on its way (1.5 s).
    await until(() => app.sandbox.calls.refresh === 1);
    const block = await blockWrites(app, seeded.id);
    try {
      // Instagram answers with a new token; the worker's UPDATE then waits for our lock.
      await block.writerWaits();
      const exited = new Promise((resolve) => worker?.once('exit', resolve));
      worker.kill('SIGKILL');
      await exited;
    } finally {
      await block.release();
    }

    // Whatever the moment of death, the row holds exactly one working token and the connection is active.
    const after = await row(app, seeded.id);
    const stored = storedToken(app, after);
    expect(after.status).toBe('active');
    expect(app.sandbox.tokenInfo(stored)?.kind).toBe('long');
    expect(app.sandbox.tokenInfo(stored)?.invalidated).toBeUndefined();

    if (app.databaseUrl.startsWith('sqlite:')) {
      // SQLite: the UPDATE was still waiting inside the dead process, so the old token stayed, and the dead
      // worker's claim holds until its lease lapses; then another keeper refreshes the token.
      expect(stored).toBe(oldToken);
      expect(after.lease_owner).not.toBeNull();
      app.clock.set(Date.now() + 11 * SECOND);
      const summary = await app.container.createKeeper('successor').sweep();
      expect(summary.byOutcome).toEqual({ ok: 1 });
      const refreshed = await row(app, seeded.id);
      expect(storedToken(app, refreshed)).not.toBe(oldToken);
      expect(app.sandbox.tokenInfo(storedToken(app, refreshed))?.kind).toBe('long');
      expect(app.sandbox.calls.refresh).toBe(2);
    } else {
      // PostgreSQL: the UPDATE had reached the server, which completes a statement whose client died; the
      // new token replaced the old one in that single statement, and the lease was released with it.
      expect(stored).not.toBe(oldToken);
      expect(after.last_refresh_outcome).toBe('ok');
      expect(after.lease_owner).toBeNull();
      expect(app.sandbox.calls.refresh).toBe(1);
    }
  }, 30_000);

  it('when a worker gets SIGTERM, then it stops cleanly with exit code 0', async () => {
    worker = spawn(process.execPath, [WORKER], {
      env: { PATH: process.env.PATH, ...app.env, KEEPER_INTERVAL_SECONDS: '1', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    worker.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(() => output.includes('keeper started'));
    const exited = new Promise<string>((resolve) =>
      worker?.once('exit', (code, signal) => resolve(`code ${code} signal ${signal}`)),
    );
    worker.kill('SIGTERM');
    const how = await exited;
    if (how !== 'code 0 signal null') throw new Error(`worker ended with ${how}:\n${output}`);
    expect(output).toContain('keeper stopped');
  }, 30_000);
});
