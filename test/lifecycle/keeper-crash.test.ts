import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
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

/**
 * A real keeper process (`npm run worker`) is killed after Instagram answered a refresh but before the
 * new token was stored: the test holds SQLite's write lock so the worker's UPDATE waits, then SIGKILLs it.
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
    const lock = new SQLite(app.dbFile);
    lock.exec('BEGIN IMMEDIATE');
    try {
      // Instagram has answered with a new token; the worker's UPDATE now waits for our write lock.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const exited = new Promise((resolve) => worker?.once('exit', resolve));
      worker.kill('SIGKILL');
      await exited;
    } finally {
      lock.exec('ROLLBACK');
      lock.close();
    }

    // The old token is still stored, still valid at Instagram, and the connection is still active.
    const after = await row(app, seeded.id);
    expect(storedToken(app, after)).toBe(oldToken);
    expect(after.status).toBe('active');
    expect(app.sandbox.tokenInfo(oldToken)?.invalidated).toBeUndefined();
    expect(after.lease_owner).not.toBeNull();

    // Once the dead worker's lease lapses, another keeper refreshes the token.
    app.clock.set(Date.now() + 11 * SECOND);
    const summary = await app.container.createKeeper('successor').sweep();
    expect(summary.byOutcome).toEqual({ ok: 1 });
    const refreshed = await row(app, seeded.id);
    expect(storedToken(app, refreshed)).not.toBe(oldToken);
    expect(app.sandbox.tokenInfo(storedToken(app, refreshed))?.kind).toBe('long');
    expect(app.sandbox.calls.refresh).toBe(2);
  }, 30_000);

  it('when a worker gets SIGTERM, then it stops cleanly with exit code 0', async () => {
    worker = spawn(process.execPath, [WORKER], {
      env: { PATH: process.env.PATH, ...app.env, KEEPER_INTERVAL_SECONDS: '1', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    worker.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(() => output.includes('keeper started'));
    const exited = new Promise<number | null>((resolve) => worker?.once('exit', (code) => resolve(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('keeper stopped');
  }, 30_000);
});
