import { csrfFrom, disconnectPaths, storedTokens } from '../security/security-support';
import { authorize, connect, pathOf, startTestApp, type TestApp } from '../support/harness';

/**
 * HEAD requests (link checkers, prefetchers, monitoring) look and change nothing; bodies larger than a
 * route accepts get 413, never a 500 and not a vague 400.
 */
describe('HEAD requests and oversized bodies', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  const rows = async () => ({
    transactions: (await app.container.db.selectFrom('oauth_transactions').selectAll().execute()).length,
    sessions: (await app.container.db.selectFrom('sessions').selectAll().execute()).length,
  });

  it('when the start route is asked with HEAD, then no state, no session and no cookie are created', async () => {
    const response = await app.agent().head('/auth/instagram');
    expect(response.status).toBe(204);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['set-cookie']).toBeUndefined();
    expect(response.headers.location).toBeUndefined();
    expect(await rows()).toEqual({ transactions: 0, sessions: 0 });
  });

  it('when a callback is asked with HEAD, then the code is not exchanged and the state stays usable', async () => {
    const agent = app.agent();
    const callbackUrl = await authorize(agent);
    const before = await rows();
    const head = await agent.head(pathOf(callbackUrl));
    expect(head.status).toBe(204);
    expect(app.sandbox.calls.token).toBe(0);
    expect(await rows()).toEqual(before);
    const callback = await agent.get(pathOf(callbackUrl));
    expect(callback.status).toBe(303);
    expect(callback.headers.location).toBe('/account');
  });

  it('when a signed-in page is asked with HEAD, then its session is neither created nor changed', async () => {
    const head = await app.agent().head('/account');
    expect(head.status).toBe(200);
    expect(head.headers['set-cookie']).toBeUndefined();
    expect((await rows()).sessions).toBe(0);

    const agent = app.agent();
    await connect(agent);
    const stored = await app.container.db.selectFrom('sessions').select(['sid', 'sess']).execute();
    // The first GET would create the form token; a HEAD must not.
    expect((await agent.head('/account')).status).toBe(200);
    expect(await app.container.db.selectFrom('sessions').select(['sid', 'sess']).execute()).toEqual(stored);
  });

  it('when a form body is larger than the route accepts, then it is a 413 page and nothing is deleted', async () => {
    const agent = app.agent();
    await connect(agent);
    const html = (await agent.get('/account')).text;
    const [path] = disconnectPaths(html);
    const response = await agent
      .post(path as string)
      .type('form')
      .send({ _csrf: csrfFrom(html), padding: 'p'.repeat(10_000) });
    expect(response.status).toBe(413);
    expect(response.text).toContain('data-error-code="PAYLOAD_TOO_LARGE"');
    expect(response.text).not.toMatch(/\n\s+at /);
    expect(await storedTokens(app)).toHaveLength(1);
  });

  it('when a webhook body is larger than it accepts, then it is a 413 in JSON', async () => {
    const response = await app
      .agent()
      .post('/webhooks/instagram/deauthorize')
      .type('form')
      .set('Accept', 'text/html')
      .send(`signed_request=${'a'.repeat(20_000)}`);
    expect(response.status).toBe(413);
    expect(response.headers['content-type']).toMatch(/application\/json/);
    expect(response.body).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE' } });
  });
});
