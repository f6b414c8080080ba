import { randomBytes } from 'node:crypto';
import { TokenCipher } from '../../src/shared/token-cipher';
import { startTestApp, type TestApp } from '../support/harness';
import { PROVIDERS } from '../support/providers';
import { connectionRows, SIGNED_OUT_MARKER, storedTokens } from './security-support';

/** The status page: what it may show, to whom, and that it never breaks or caches. */
describe.each(PROVIDERS)('security: status page (%s)', (_name, p) => {
  let app: TestApp;
  const connect = p.connect;
  const [odd, other] = p.accounts;

  beforeEach(async () => {
    app = await startTestApp({ env: p.env });
  });
  afterEach(async () => {
    await app.close();
  });

  it('when the status page is shown signed in or out, then it is never cacheable', async () => {
    const agent = app.agent();
    expect((await agent.get('/account')).headers['cache-control']).toBe('no-store');
    await connect(agent);
    expect((await agent.get('/account')).headers['cache-control']).toBe('no-store');
  });

  it('when an error page is shown, then it is never cacheable', async () => {
    const response = await app.agent().get(`${p.callbackPath}?state=nope&code=x`);
    expect(response.status).toBe(400);
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('when accounts are connected, then the page shows fingerprints and never a token', async () => {
    const agent = app.agent();
    await connect(agent, { account: odd });
    await connect(agent, { account: other });
    const page = await agent.get('/account');
    const tokens = await storedTokens(app);
    expect(tokens).toHaveLength(2);
    for (const token of tokens) expect(page.text).not.toContain(token);
    for (const row of await connectionRows(app)) expect(page.text).toContain(row.token_fingerprint);
  });

  it('when the provider returns a profile with HTML in its name and username, then the page shows it escaped', async () => {
    p.rename(app, odd, {
      username: '<script>alert(1)</script>',
      name: '"><img src=x onerror=alert(2)>',
    });
    const agent = app.agent();
    await connect(agent, { account: odd });
    const page = await agent.get('/account');
    expect(page.text).not.toContain('<script>alert(1)');
    expect(page.text).not.toContain('<img src=x');
    expect(page.text).toContain('&lt;script&gt;');
  });

  it('when a signed-out visitor opens the status page, then no account of anyone is shown', async () => {
    await connect(app.agent(), { account: odd });
    const page = await app.agent().get('/account');
    expect(page.text).toContain(SIGNED_OUT_MARKER);
    expect(page.text).not.toContain(odd.igUserId);
    expect(page.text).not.toContain('name="_csrf"');
  });

  it('when a stored token was tampered with or uses an unknown key, then the status page still renders', async () => {
    const agent = app.agent();
    await connect(agent, { account: odd });
    await connect(agent, { account: other });
    const [a, b] = await connectionRows(app);
    await app.container.db
      .updateTable('connections')
      .set({ token_ciphertext: `${a?.token_ciphertext.slice(0, -4)}AAAA` })
      .where('id', '=', a?.id ?? '')
      .execute();
    const foreign = new TokenCipher([{ id: 'gone', key: randomBytes(32) }]).seal('IGAAforeign', `connection:${b?.id}`);
    await app.container.db
      .updateTable('connections')
      .set({ token_ciphertext: foreign.ciphertext, token_key_id: foreign.keyId })
      .where('id', '=', b?.id ?? '')
      .execute();
    const page = await agent.get('/account');
    expect(page.status).toBe(200);
    expect(page.text).toContain(`data-instagram-user-id="${odd.igUserId}"`);
    expect(page.text).toContain(`data-instagram-user-id="${other.igUserId}"`);
  });

  it('when an unexpected failure happens on the status page, then a plain 500 page shows no stack or SQL', async () => {
    const agent = app.agent();
    await connect(agent);
    await app.container.db.schema.dropTable('connections').execute();
    const page = await agent.get('/account');
    expect(page.status).toBe(500);
    expect(page.text).toContain('data-error-code="INTERNAL"');
    expect(page.text).not.toMatch(/at \S+ \(.*:\d+:\d+\)/);
    expect(page.text).not.toMatch(/no such table|SqliteError/i);
  });
});

/** What every page carries or refuses, whichever way in is configured. */
describe('security: status page (any provider)', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('when a page is served, then framing, plugins, <base> and inline scripts are forbidden and nothing is sniffed', async () => {
    const page = await app.agent().get('/account');
    const csp = page.headers['content-security-policy'] as string;
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("base-uri 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['x-powered-by']).toBeUndefined();
  });

  it('when a missing page is requested with markup in its path and query, then nothing of it is reflected', async () => {
    const response = await app.agent().get('/%3Cscript%3Ealert(1)%3C%2Fscript%3E?q=%3Cimg%20src%3Dx%3E');
    expect(response.status).toBe(404);
    expect(response.text).not.toContain('<script>alert(1)');
    expect(response.text).not.toContain('<img src=x>');
  });
});
