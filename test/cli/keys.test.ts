import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PendingChoices } from '../../src/connections/pending-choices';
import { connect, startTestApp } from '../support/harness';
import { runCli } from '../support/cli';

const key = () => randomBytes(32).toString('base64');

/** `keys status` and `keys rotate` against a database the real app filled. */
describe('cli: keys', () => {
  let dir: string;
  let env: Record<string, string>;
  const oldKey = `old:${key()}`;
  const newKey = `new:${key()}`;
  let ids: string[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'igconnect-cli-keys-'));
    const database = `sqlite:${join(dir, 'igconnect.db')}`;
    const app = await startTestApp({ env: { DATABASE_URL: database, TOKEN_ENCRYPTION_KEYS: oldKey } });
    for (const account of app.sandbox.accounts().filter((a) => a.tester)) {
      await connect(app.agent(), { account: account.igUserId });
    }
    ids = (await app.container.db.selectFrom('connections').select('id').orderBy('id').execute()).map((r) => r.id);
    await app.close();
    env = {
      DATABASE_URL: database,
      SESSION_SECRET: 'cli-keys-session-secret-9f8e7d6c5b4a39281706',
      TOKEN_ENCRYPTION_KEYS: `${newKey},${oldKey}`,
    };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('when a new key is put first, then keys status counts the rows still on the old key', async () => {
    const result = await runCli(['keys', 'status'], env);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('new (current): 0 rows');
    expect(result.stdout).toContain('old (old): 3 rows');
    expect(result.stdout).toContain('3 rows on old keys');
  });

  it('when keys rotate runs, then it shows progress, moves every row and reports zero remaining', async () => {
    const result = await runCli(['keys', 'rotate', '--batch-size', '2'], env);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('3 tokens to move onto key new');
    expect(result.stderr).toContain('keys rotate: 3/3 (100%)');
    expect(result.stdout).toContain('rotated 3');
    expect(result.stdout).toContain('0 rows remain on old keys');
    const again = await runCli(['keys', 'rotate'], env);
    expect(again.stdout).toContain('0 tokens to move');
    const withoutOld = await runCli(['keys', 'status'], { ...env, TOKEN_ENCRYPTION_KEYS: newKey });
    expect(withoutOld.status).toBe(0);
    expect(withoutOld.stdout).toContain('every stored token decrypts');
  });

  it('when tokens cannot be decrypted, then rotate and status name each connection and exit 1', async () => {
    const app = await startTestApp({ env: { DATABASE_URL: env.DATABASE_URL ?? '', TOKEN_ENCRYPTION_KEYS: oldKey } });
    const [tampered, unknown] = ids;
    const row = await app.container.db
      .selectFrom('connections')
      .select('token_ciphertext')
      .where('id', '=', tampered ?? '')
      .executeTakeFirstOrThrow();
    await app.container.db
      .updateTable('connections')
      .set({ token_ciphertext: `${row.token_ciphertext.slice(0, -4)}AAAA` })
      .where('id', '=', tampered ?? '')
      .execute();
    await app.container.db
      .updateTable('connections')
      .set({ token_key_id: 'gone' })
      .where('id', '=', unknown ?? '')
      .execute();
    await app.close();

    const rotate = await runCli(['keys', 'rotate'], env);
    expect(rotate.status).toBe(1);
    expect(rotate.stderr).toContain(`connection ${tampered} (key old): ciphertext failed authentication`);
    expect(rotate.stderr).toContain(`connection ${unknown} (key gone): no key with id "gone" is configured`);
    expect(rotate.stdout).toContain('gone (NOT CONFIGURED): 1 row');
    const status = await runCli(['keys', 'status'], env);
    expect(status.status).toBe(1);
    expect(status.stderr).toContain(`connection ${tampered}`);
    expect(status.stderr).toContain(`connection ${unknown}`);
  });

  it.each([
    [['--batchsize=2'], "Unknown option '--batchsize'"],
    [['--batch-size'], "Option '--batch-size <value>' argument missing"],
  ])('when keys rotate is given %j, then it exits 2 with the usage and moves no row', async (flags, problem) => {
    const result = await runCli(['keys', 'rotate', ...flags], env);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(problem);
    expect(result.stderr).toContain('usage: npm run cli -- keys rotate [--batch-size N]');
    expect((await runCli(['keys', 'status'], env)).stdout).toContain('old (old): 3 rows');
  });

  it('when the batch size is not a number, then it exits 2 without touching a row', async () => {
    const result = await runCli(['keys', 'rotate', '--batch-size', 'lots'], env);
    expect(result.status).toBe(2);
    expect((await runCli(['keys', 'status'], env)).stdout).toContain('old (old): 3 rows');
  });

  it('when a pending Facebook choice is sealed under the old key, then status counts it and rotate re-seals it, so it opens without the old key', async () => {
    const database = env.DATABASE_URL ?? '';
    // The CLI reads the real clock: the choice must be live by it (15 minutes).
    const before = await startTestApp({
      env: { DATABASE_URL: database, TOKEN_ENCRYPTION_KEYS: oldKey },
      start: Date.now(),
    });
    const choice = {
      provider: 'facebook',
      accounts: [],
      skipped: [],
      requestedScopes: ['instagram_basic'],
      context: { marker: 'kept-through-rotation' },
    };
    const held = new PendingChoices(before.container.db, before.container.vault, before.clock);
    const id = await held.hold('session-1', choice);
    await before.close();

    const status = await runCli(['keys', 'status'], env);
    expect(status.stdout).toContain('pending choices (Facebook Login picker, each gone within 15 minutes) per key id:');
    expect(status.stdout).toContain('  old: 1 choice');
    const rotate = await runCli(['keys', 'rotate'], env);
    expect(rotate.status).toBe(0);
    expect(rotate.stdout).toContain('pending choices: re-sealed 1; expired and deleted 0; unreadable and deleted 0');
    expect((await runCli(['keys', 'status'], env)).stdout).toContain('  new (current): 1 choice');

    const after = await startTestApp({
      env: { DATABASE_URL: database, TOKEN_ENCRYPTION_KEYS: newKey },
      start: Date.now(),
    });
    try {
      const choices = new PendingChoices(after.container.db, after.container.vault, after.clock);
      expect(await choices.take(id, 'session-1')).toEqual(choice);
    } finally {
      await after.close();
    }
  });
});
