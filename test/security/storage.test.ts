import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenAad } from '../../src/connections/token-vault';
import { countRowsOnOldKeys, keyUsage, rotateTokenKeys } from '../../src/connections/key-rotation';
import { TokenCipher } from '../../src/shared/token-cipher';
import { type Agent, startTestApp, type TestApp } from '../support/harness';
import { PROVIDERS } from '../support/providers';
import { connectionRows, csrfFrom, disconnectPaths, storedTokens } from './security-support';

/**
 * Tokens at rest: a copy of the database (the SQLite file and its WAL) never holds a token in clear,
 * before or after a key rotation, and a rotation keeps the app working and leaves nothing on the old key.
 */
const key = () => randomBytes(32).toString('base64');

function rawDatabaseBytes(dbFile: string): string {
  const parts = [dbFile, `${dbFile}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f).toString('latin1'));
  expect(parts.length).toBe(2); // the WAL must exist, or this test would check less than it claims
  return parts.join('\n');
}

describe.each(PROVIDERS)('security: tokens at rest and key rotation (%s)', (_name, p) => {
  const connect = p.connect;
  let dir: string;
  let dbFile: string;
  let apps: TestApp[];
  const oldKey = `old:${key()}`;
  const newKey = `new:${key()}`;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'igconnect-keys-'));
    dbFile = join(dir, 'igconnect.db');
    apps = [];
  });
  afterEach(async () => {
    for (const app of apps) await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(keys: string): Promise<TestApp> {
    const app = await startTestApp({
      env: { ...p.env, DATABASE_URL: `sqlite:${dbFile}`, TOKEN_ENCRYPTION_KEYS: keys },
    });
    apps.push(app);
    return app;
  }

  /** A browser of `app` carrying the cookies (the session) of a browser of an earlier run on the same database. */
  function resume(app: TestApp, earlier: Agent): Agent {
    const agent = app.agent();
    Object.assign(agent, { jar: (earlier as unknown as { jar: unknown }).jar });
    return agent;
  }

  async function connectAll(app: TestApp) {
    const agents: Agent[] = [];
    for (const account of p.accounts) {
      const agent = app.agent();
      expect((await connect(agent, { account })).status).toBe(303);
      agents.push(agent);
    }
    return agents;
  }

  it('when accounts are connected, then neither the SQLite file nor its WAL contains a token in clear', async () => {
    const app = await start(oldKey);
    await connectAll(app);
    const tokens = await storedTokens(app);
    expect(tokens).toHaveLength(3);
    const bytes = rawDatabaseBytes(dbFile);
    for (const token of tokens) expect(bytes).not.toContain(token);
    // The check can see text at all: the usernames are stored in clear and are found.
    expect(bytes).toContain('sunny.bakery');
  });

  it('when a sealed token is copied into another row, then it fails to decrypt there', async () => {
    const app = await start(oldKey);
    await connectAll(app);
    const [a, b] = await connectionRows(app);
    expect(() =>
      app.container.cipher.open(
        { keyId: a?.token_key_id ?? '', ciphertext: a?.token_ciphertext ?? '' },
        tokenAad(b?.id ?? ''),
      ),
    ).toThrow('ciphertext failed authentication');
  });

  it('when keys rotate while people connect and disconnect, then no row is left on the retired key and the app keeps working', async () => {
    const before = await start(oldKey);
    const owners = await connectAll(before);
    const originals = new Map((await connectionRows(before)).map((r) => [r.id, r.token_fingerprint]));
    await before.close();
    apps = [];

    // Restart with the new key first, the old one still able to decrypt.
    const app = await start(`${newKey},${oldKey}`);
    const deps = { db: app.container.db, vault: app.container.vault, connections: app.container.connections };
    expect(await countRowsOnOldKeys(deps)).toBe(3);
    const [first, second] = p.accounts;
    const rotation = rotateTokenKeys(deps, { batchSize: 1 });
    const traffic = (async () => {
      // The people who connected before the restart, in their own browsers: a reconnect rewrites their row.
      const agent = resume(app, owners[0] as Agent);
      expect((await connect(agent, { account: first })).status).toBe(303);
      const page = await agent.get('/account');
      expect(page.status).toBe(200);
      const [path] = disconnectPaths(page.text);
      expect(
        (
          await agent
            .post(path ?? '')
            .type('form')
            .send({ _csrf: csrfFrom(page.text) })
        ).status,
      ).toBe(303);
      expect((await connect(resume(app, owners[1] as Agent), { account: second })).status).toBe(303);
    })();
    const [result] = await Promise.all([rotation, traffic]);
    expect(result.unreadable).toHaveLength(0);
    // A leftover pass picks up anything the interleaving made it skip; the result must then be final.
    await rotateTokenKeys(deps, { batchSize: 10 });
    const usage = await keyUsage(deps);
    expect(usage.find((u) => u.keyId === 'old')?.rows).toBe(0);
    const rows = await connectionRows(app);
    expect(rows).toHaveLength(2);
    // Every token decrypts; the reconnected account holds the token this sandbox just issued.
    const tokens = await storedTokens(app);
    expect(tokens).toHaveLength(2);
    const reconnected = rows.find((r) => r.account_id === second.igUserId);
    expect(reconnected?.token_fingerprint).not.toBe(originals.get(reconnected?.id ?? ''));
    expect(tokens.filter((t) => p.tokenAccount(app, t) === second.igUserId)).toHaveLength(1);
    const bytes = rawDatabaseBytes(dbFile);
    for (const token of await storedTokens(app)) expect(bytes).not.toContain(token);
  });

  it('when the retired key is removed from the ring after rotation, then the app still shows, connects and decrypts', async () => {
    const before = await start(oldKey);
    const agents = await connectAll(before);
    await before.close();
    apps = [];
    const during = await start(`${newKey},${oldKey}`);
    const result = await rotateTokenKeys(
      { db: during.container.db, vault: during.container.vault, connections: during.container.connections },
      { batchSize: 2 },
    );
    expect(result.rotated).toBe(3);
    await during.close();
    apps = [];

    const after = await start(newKey);
    expect((await storedTokens(after)).length).toBe(3);
    const agent = after.agent();
    const [account] = p.accounts;
    expect((await connect(agent, { account })).status).toBe(303);
    expect((await agent.get('/account')).status).toBe(200);
    expect(agents).toHaveLength(3);
  });

  it('when a rotation is interrupted, then finished rows stay rotated and the next run completes the rest', async () => {
    const before = await start(oldKey);
    await connectAll(before);
    await before.close();
    apps = [];
    const app = await start(`${newKey},${oldKey}`);
    const controller = new AbortController();
    const deps = { db: app.container.db, vault: app.container.vault, connections: app.container.connections };
    const first = await rotateTokenKeys(deps, {
      batchSize: 1,
      signal: controller.signal,
      onBatch: () => controller.abort(),
    });
    expect(first).toMatchObject({ rotated: 1, interrupted: true });
    expect(await countRowsOnOldKeys(deps)).toBe(2);
    const second = await rotateTokenKeys(deps, { batchSize: 1 });
    expect(second).toMatchObject({ rotated: 2, interrupted: false });
    expect(await countRowsOnOldKeys(deps)).toBe(0);
  });

  it('when the app rewrites a row between the rotation reading and writing it, then the newer token is kept', async () => {
    const app = await start(`${newKey},${oldKey}`);
    const [account] = p.accounts;
    const agent = app.agent();
    await connect(agent, { account });
    // Put the row back on the old key, as if it had been written before the restart.
    const [row] = await connectionRows(app);
    const [token] = await storedTokens(app);
    const oldCipher = new TokenCipher([{ id: 'old', key: Buffer.from(oldKey.slice('old:'.length), 'base64') }]);
    const sealed = oldCipher.seal(token ?? '', tokenAad(row?.id ?? ''));
    await app.container.db
      .updateTable('connections')
      .set({ token_ciphertext: sealed.ciphertext, token_key_id: 'old' })
      .where('id', '=', row?.id ?? '')
      .execute();
    const [stale] = await connectionRows(app);
    // The person reconnects (a new token, sealed under the current key) after the rotation read the row.
    await connect(agent, { account });
    const [fresh] = await storedTokens(app);
    const outcome = await app.container.connections.reseal(stale as NonNullable<typeof stale>);
    expect(outcome).toBe('changed-meanwhile');
    expect(await storedTokens(app)).toEqual([fresh]);
    expect(fresh).not.toBe(token);
  });
});
