import { runCli } from '../support/cli';
import { startTestApp, type TestApp } from '../support/harness';
import { bearer } from '../api/api-support';

/** `api-keys create | list | revoke` of the built CLI, and the keys they make, through the API. */
describe('cli: api-keys', () => {
  let app: TestApp;
  const cli = (args: string[]) => runCli(args, { ...app.env, LOG_LEVEL: 'silent' });

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('when a key is created, then it is alone on the last line of stdout, works, and only its hash is stored', async () => {
    const created = await cli(['api-keys', 'create', '--name', 'billing backend']);
    expect(created.status).toBe(0);
    const lines = created.stdout.trimEnd().split('\n');
    const key = lines[lines.length - 1] ?? '';
    expect(key).toMatch(/^igc_[A-Za-z0-9_-]{43}$/);
    expect((await app.agent().get('/api/v1/connections').set(bearer(key))).status).toBe(200);
    const rows = await app.container.db.selectFrom('api_keys').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(key);
    expect(rows[0]?.name).toBe('billing backend');
  });

  it('when keys are listed, then ids, names and times show and never a key', async () => {
    const json = await cli(['api-keys', 'create', '--name', 'one', '--json']);
    const made = JSON.parse(json.stdout) as { id: string; name: string; key: string };
    expect(Object.keys(made).sort()).toEqual(['id', 'key', 'name']);
    const listed = await cli(['api-keys', 'list', '--json']);
    expect(listed.status).toBe(0);
    const keys = JSON.parse(listed.stdout) as Record<string, unknown>[];
    expect(keys).toEqual([{ id: made.id, name: 'one', created_at: expect.any(String), revoked_at: null }]);
    expect(listed.stdout).not.toContain(made.key);
    const text = await cli(['api-keys', 'list']);
    expect(text.stdout).toContain(made.id);
    expect(text.stdout).not.toContain(made.key);
  });

  it('when a key is revoked, then requests with it get 401 and the list shows when', async () => {
    const made = JSON.parse((await cli(['api-keys', 'create', '--name', 'old', '--json'])).stdout) as {
      id: string;
      key: string;
    };
    const revoked = await cli(['api-keys', 'revoke', made.id]);
    expect(revoked.status).toBe(0);
    expect((await app.agent().get('/api/v1/connections').set(bearer(made.key))).status).toBe(401);
    const keys = JSON.parse((await cli(['api-keys', 'list', '--json'])).stdout) as { revoked_at: string | null }[];
    expect(keys[0]?.revoked_at).toMatch(/Z$/);
    expect((await cli(['api-keys', 'revoke', 'key_nope'])).status).toBe(1);
  });

  it('when create has no name or an unknown flag, then it exits 2 and makes nothing', async () => {
    expect((await cli(['api-keys', 'create'])).status).toBe(2);
    expect((await cli(['api-keys', 'create', '--nam', 'x'])).status).toBe(2);
    expect(await app.container.db.selectFrom('api_keys').selectAll().execute()).toHaveLength(0);
  });
});
