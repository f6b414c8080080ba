import { DAY } from '../../src/shared/clock';
import { apiKey, bearer } from '../api/api-support';
import { runCli } from '../support/cli';
import { seedConnection, storedToken } from '../support/factories';
import { startTestApp, type TestApp } from '../support/harness';

/** `audit` of the built CLI: the token reads made through the API, never a token. */
describe('cli: audit', () => {
  let app: TestApp;
  const cli = (args: string[]) => runCli(args, { ...app.env, LOG_LEVEL: 'silent' });

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  const readToken = (id: string, key: string, query = '') =>
    app.agent().get(`/api/v1/connections/${id}/access-token${query}`).set(bearer(key));

  it('when tokens were read, then audit lists each read, most recent first, with key, connection and renewal', async () => {
    const billing = await apiKey(app, 'billing');
    const reports = await apiKey(app, 'reports');
    const a = await seedConnection(app, { issuedAt: app.clock.now() - 2 * DAY });
    const b = await seedConnection(app);
    expect((await readToken(a.id, billing.key)).status).toBe(200);
    app.clock.advance(1000);
    expect((await readToken(a.id, reports.key, '?min_ttl_seconds=5097600')).status).toBe(200);
    app.clock.advance(1000);
    const last = await readToken(b.id, billing.key);
    expect(last.status).toBe(200);

    const json = await cli(['audit', '--json']);
    expect(json.status).toBe(0);
    const reads = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(reads.map((r) => [r.api_key_id, r.api_key_name, r.connection_id, r.renewed])).toEqual([
      [billing.id, 'billing', b.id, false],
      [reports.id, 'reports', a.id, true],
      [billing.id, 'billing', a.id, false],
    ]);
    expect(reads[0]).toEqual({
      id: expect.any(String),
      api_key_id: billing.id,
      api_key_name: 'billing',
      connection_id: b.id,
      read_at: new Date(app.clock.now()).toISOString(),
      renewed: false,
    });

    const one = JSON.parse((await cli(['audit', '--connection', a.id, '--limit', '1', '--json'])).stdout) as {
      connection_id: string;
      renewed: boolean;
    }[];
    expect(one).toEqual([expect.objectContaining({ connection_id: a.id, renewed: true })]);

    const text = await cli(['audit']);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(billing.id);
    expect(text.stdout).toContain(b.id);
    expect(text.stdout).toMatch(/3 read\(s\)/);
    for (const output of [json.stdout, text.stdout]) {
      expect(output).not.toContain(storedToken(app, b));
      expect(output).not.toContain(last.body.access_token);
    }
  });

  it('when --limit or --connection is malformed or a flag unknown, then audit exits 2', async () => {
    for (const args of [
      ['--limit', '0'],
      ['--limit', 'ten'],
      ['--limit', '10001'],
      ['--connection', ''],
      ['--conection', 'x'],
      ['extra'],
    ]) {
      expect((await cli(['audit', ...args])).status).toBe(2);
    }
    expect((await cli(['audit', '--connection', 'nope', '--json'])).stdout.trim()).toBe('[]');
  });
});
