import { ConfigError, loadConfig } from '../../src/config/config';
import { versionFinding } from '../../src/incidents/canary';
import { createContainer } from '../../src/main/container';
import type { ProviderDefinition } from '../../src/providers/provider-definition';
import { DAY } from '../../src/shared/clock';
import { runCli } from '../support/cli';
import { startTestApp, type TestApp } from '../support/harness';

/**
 * The contract canary: the pinned Graph API version's end of life from the definition's dated table, and
 * a cheap probe of the authorize and token endpoints (the built-in sandbox here), run daily by keeper
 * processes, shown by doctor. And the retired authorize host refused at start-up.
 */

function instagram(app: TestApp): ProviderDefinition {
  const provider = app.container.providers.find('instagram');
  if (!provider) throw new Error('instagram is configured');
  return provider;
}

describe('Meta contract canary', () => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it("when the pinned version's end of life is far, near or past, then it is ok, a warning, an error", async () => {
    app = await startTestApp();
    const provider = instagram(app);
    expect(provider.contract?.apiVersion).toMatchObject({ version: 'v25.0', endOfLife: '2028-07-29' });
    const at = (date: string) => versionFinding(provider, Date.parse(`${date}T12:00:00Z`), 90);
    expect(at('2026-11-30')).toMatchObject({ level: 'ok', message: expect.stringContaining('until 2028-07-29') });
    expect(at('2028-06-01')).toMatchObject({ level: 'warn', message: expect.stringContaining('in 58 days') });
    expect(at('2028-07-30')).toMatchObject({
      level: 'error',
      message: expect.stringContaining('reached its end of life'),
    });
  });

  it('when the pinned version is not in the table, then the canary says so', async () => {
    app = await startTestApp({ env: { INSTAGRAM_API_VERSION: 'v99.0' } });
    expect(versionFinding(instagram(app), app.clock.now(), 90)).toMatchObject({
      level: 'warn',
      message: expect.stringContaining('not in igconnect'),
    });
  });

  it('when the endpoints answer as expected, then the self-check reports no problem and keeps its report', async () => {
    app = await startTestApp();
    const report = await app.container.selfCheck.run(instagram(app));
    expect(report.findings.map((f) => [f.check, f.level])).toEqual([
      ['api-version', 'ok'],
      ['authorize-endpoint', 'ok'],
      ['token-endpoint', 'ok'],
    ]);
    expect(app.sandbox.calls.authorize).toBe(1);
    expect(app.sandbox.calls.token).toBe(1);
    const row = await app.container.db.selectFrom('provider_state').selectAll().executeTakeFirstOrThrow();
    expect(JSON.parse(row.canary_report ?? '{}').problems).toEqual([]);
  });

  it('when the authorize page is gone and the token endpoint answers a page, then each is an error, logged and shown by doctor', async () => {
    app = await startTestApp({
      env: (url) => ({
        INSTAGRAM_AUTHORIZE_URL: `${url}/sandbox/oauth/authorise`,
        INSTAGRAM_TOKEN_URL: `${url}/sandbox/accounts`,
      }),
    });
    const report = await app.container.selfCheck.run(instagram(app));
    expect(report.problems.map((f) => [f.check, f.level])).toEqual([
      ['authorize-endpoint', 'error'],
      ['token-endpoint', 'error'],
    ]);
    const logs = app.logs.join('\n');
    expect(logs).toContain('self-check: Instagram: 127.0.0.1');
    expect(logs).toContain('not a page or a redirect');
    const doctor = await runCli(['doctor'], app.env);
    expect(doctor.stdout).toContain(
      '/sandbox/oauth/authorise answered HTTP 404, not a page or a redirect (daily self-check at',
    );
    expect(doctor.stdout).toContain('not its error shape to an empty request');
    expect(doctor.stdout).toContain('Graph API v25.0 is available until 2028-07-29');
    expect(doctor.status).toBe(1);
  });

  it('when several keeper processes share a database, then the self-check runs once per interval', async () => {
    app = await startTestApp();
    const other = await createContainer(loadConfig(app.env), {
      clock: app.clock,
      logDestination: { write: () => undefined },
    });
    try {
      await app.container.selfCheck.runIfDue();
      await other.selfCheck.runIfDue();
      expect(app.sandbox.calls.token).toBe(1);
      app.clock.advance(DAY + 1);
      await other.selfCheck.runIfDue();
      await app.container.selfCheck.runIfDue();
      expect(app.sandbox.calls.token).toBe(2);
    } finally {
      await other.close();
    }
  });

  it('when INSTAGRAM_AUTHORIZE_URL is the retired api.instagram.com host, then start-up refuses it and names the replacement', () => {
    const env = {
      NODE_ENV: 'test',
      SESSION_SECRET: 'x'.repeat(40),
      TOKEN_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
      INSTAGRAM_APP_ID: '1234567890123456',
      INSTAGRAM_APP_SECRET: 'f'.repeat(32),
    };
    for (const url of ['https://api.instagram.com/oauth/authorize', 'https://API.instagram.com/oauth/authorize/']) {
      let error: unknown;
      try {
        loadConfig({ ...env, INSTAGRAM_AUTHORIZE_URL: url });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toContain('use https://www.instagram.com/oauth/authorize');
    }
    expect(() =>
      loadConfig({ ...env, INSTAGRAM_AUTHORIZE_URL: 'https://www.instagram.com/oauth/authorize' }),
    ).not.toThrow();
  });
});
