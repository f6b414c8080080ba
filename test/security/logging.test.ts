import { finishCallback, pathOf, startTestApp, TEST_SESSION_SECRET, type TestApp } from '../support/harness';
import { PROVIDERS } from '../support/providers';
import { setCookies, storedTokens } from './security-support';

/** Logs under hostile input: nothing secret is written, whatever the attacker sends or the provider answers. */
describe.each(PROVIDERS)('security: logging (%s)', (_name, p) => {
  let app: TestApp;
  const authorize = p.authorize;
  const connect = p.connect;

  beforeEach(async () => {
    app = await startTestApp({ env: p.env });
  });
  afterEach(async () => {
    await app.close();
  });

  const log = () => app.logs.join('');

  it("when a callback's code and state are refused, then neither appears in the log", async () => {
    const agent = app.agent();
    const url = new URL(await authorize(agent));
    const code = url.searchParams.get('code') ?? '';
    const state = url.searchParams.get('state') ?? '';
    url.searchParams.append('code', 'again');
    expect((await agent.get(pathOf(url.href))).status).toBe(400);
    expect(log()).toContain('request ended with an error page');
    expect(log()).not.toContain(code);
    expect(log()).not.toContain(state);
  });

  it('when requests carry Cookie and Authorization headers, then their values are not logged', async () => {
    const agent = app.agent();
    const cookie = setCookies(await connect(agent))[0]?.split(';')[0] ?? '';
    await agent.get('/account').set('Authorization', 'Bearer IGAAheaderleak0123456789abcdef');
    expect(log()).not.toContain(cookie.split('=')[1] ?? 'missing');
    expect(log()).not.toContain('IGAAheaderleak');
  });

  it('when a whole flow runs at debug level, then no token, secret or state is logged', async () => {
    const agent = app.agent();
    const start = await agent.get(p.startPath);
    const state = new URL(start.headers.location as string).searchParams.get('state') ?? '';
    await connect(agent);
    const [token] = await storedTokens(app);
    for (const secret of [token ?? 'missing', state, TEST_SESSION_SECRET, p.callbackSecret(app)]) {
      expect(log()).not.toContain(secret);
    }
  });

  it('when the provider fails and its error text quotes a token, then the token is not logged', async () => {
    const leaked = 'IGAAproviderleak0123456789abcdef';
    const agent = app.agent();
    const url = await authorize(agent);
    p.script(app, p.steps.code, { status: 500, body: `failure for access_token=${leaked}` });
    expect((await finishCallback(agent, url)).status).toBe(503);
    expect(log()).not.toContain(leaked);
  });
});

/** What the request log does with hostile input that belongs to no flow. */
describe('security: logging (any provider)', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  const log = () => app.logs.join('');

  it('when a token is pasted into a URL path, then the logged path has it removed', async () => {
    const pasted = 'IGAApastedintopath0123456789abcdef';
    const response = await app.agent().get(`/account/${pasted}/access_token=${pasted}`);
    expect(response.status).toBe(404);
    expect(log()).toContain('/account/');
    expect(log()).not.toContain(pasted);
  });

  it('when a client sends a hostile X-Request-Id, then it is replaced, not echoed or logged', async () => {
    // Node refuses raw newlines in headers, so the hostile id carries markup and a forged JSON field.
    const response = await app.agent().get('/').set('X-Request-Id', '<script>x</script>","level":60,"forged":"1');
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(log()).not.toContain('<script>x');
    expect(log()).not.toContain('forged');
  });
});
