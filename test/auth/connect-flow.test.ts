import { connect, ODD_ACCOUNT, pathOf, sessionCookie, startTestApp, type TestApp } from '../support/harness';
import { PROVIDERS } from '../support/providers';

/**
 * The connect flow end to end, once per way in: the app and its sandbox over real HTTP, a real SQLite
 * file. What only Instagram Login's wire does (its token answer flat or wrapped in data[], bare 17-digit
 * ids in it) is in the Instagram-only block below; Facebook's Pages and picker are in test/facebook.
 */
describe.each(PROVIDERS)('connect flow (%s)', (_name, p) => {
  let app: TestApp;
  const [first, second] = p.accounts;

  beforeEach(async () => {
    app = await startTestApp({ env: p.env });
  });
  afterEach(async () => {
    await app.close();
  });

  const rows = () => app.container.db.selectFrom('connections').selectAll().execute();

  it('when a person allows access, then the account is stored and shown on /account', async () => {
    const agent = app.agent();
    const callback = await p.connect(agent, { account: first });

    expect(callback.status).toBe(303);
    expect(callback.headers.location).toBe('/account');
    expect(callback.headers['cache-control']).toBe('no-store');

    const page = await agent.get('/account');
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).toContain(`data-instagram-user-id="${first.igUserId}"`);
    expect(page.text).toContain('data-status="active"');
    expect(page.text).toContain(`data-provider="${p.id}"`);
    expect(page.text).toMatch(/@[a-z0-9._]+/);
    expect(page.text).toContain(p.grantedScope);
    expect(p.calls(app, 'code')).toBe(1);
    expect(p.calls(app, 'longLived')).toBe(1);
  });

  it('when the token is stored, then the database holds only ciphertext and the page only a fingerprint', async () => {
    const agent = app.agent();
    await p.connect(agent, { account: first });
    const [row] = await rows();
    if (!row) throw new Error('no row');
    const token = app.container.cipher.open(
      { keyId: row.token_key_id, ciphertext: row.token_ciphertext },
      `connection:${row.id}`,
    );
    p.expectKeptToken(app, token);
    expect(row.token_ciphertext).not.toContain(token);
    const page = await agent.get('/account');
    expect(page.text).not.toContain(token);
    expect(page.text).toContain(row.token_fingerprint);
    // What the page shows as the token's expiry: Instagram's long-lived token lasts about 60 days; a
    // Page token obtained with a long-lived user token never expires.
    if (p.tokenLifetimeMs === null) expect(row.token_expires_at).toBeNull();
    else expect(Number(row.token_expires_at) - app.clock.now()).toBe(p.tokenLifetimeMs);
  });

  it('when the person denies access, then a cancel page is shown and nothing is stored', async () => {
    const agent = app.agent();
    const callback = await p.connect(agent, { decision: 'deny' });
    expect(callback.status).toBe(200);
    expect(callback.text).toContain('data-error-code="CONNECT_CANCELLED"');
    expect(callback.text).toContain('Connection cancelled');
    expect(callback.text).toContain(`href="${p.startPath}"`);
    expect(await rows()).toHaveLength(0);
    expect(p.calls(app, 'code')).toBe(0);
  });

  it('when a flow ends in a cancel or a refusal, then the address bar is cleaned by a redirect and the outcome shows once', async () => {
    const agent = app.agent();
    const callbackUrl = await p.authorize(agent, { decision: 'deny' });
    const callback = await agent.get(pathOf(callbackUrl));
    expect(callback.status).toBe(303);
    expect(callback.headers.location).toBe(p.resultPath);
    expect(callback.headers['cache-control']).toBe('no-store');
    const result = await agent.get(p.resultPath);
    expect(result.status).toBe(200);
    expect(result.text).toContain('data-error-code="CONNECT_CANCELLED"');
    // A reload has nothing left to show and goes to the status page.
    const reload = await agent.get(p.resultPath);
    expect(reload.status).toBe(303);
    expect(reload.headers.location).toBe('/account');

    const refused = app.agent();
    const refusedUrl = await p.authorize(refused);
    p.script(app, p.steps.code, p.invalidAppAnswer);
    const refusedCallback = await refused.get(pathOf(refusedUrl));
    expect(refusedCallback.status).toBe(303);
    expect(refusedCallback.headers.location).toBe(p.resultPath);
    const refusedPage = await refused.get(p.resultPath);
    expect(refusedPage.status).toBe(502);
    expect(refusedPage.text).toContain('data-error-code="PROVIDER_INVALID_APP"');
  });

  it('when the callback is replayed, then no second token request is made', async () => {
    const agent = app.agent();
    const callbackUrl = await p.authorize(agent);
    const first = await agent.get(pathOf(callbackUrl));
    expect(first.status).toBe(303);
    const second = await agent.get(pathOf(callbackUrl));
    expect(second.status).toBe(400);
    expect(second.text).toContain('data-error-code="STATE_INVALID"');
    expect(p.calls(app, 'code')).toBe(1);
  });

  it('when several callbacks with one state arrive at once, then exactly one exchanges the code', async () => {
    const agent = app.agent();
    const callbackUrl = await p.authorize(agent);
    const responses = await Promise.all(Array.from({ length: 6 }, () => agent.get(pathOf(callbackUrl))));
    expect(responses.map((r) => r.status).sort()).toEqual([303, 400, 400, 400, 400, 400]);
    expect(p.calls(app, 'code')).toBe(1);
    expect(await rows()).toHaveLength(1);
  });

  it('when the callback has no state, then it is refused before the code is used', async () => {
    const agent = app.agent();
    const callbackUrl = new URL(await p.authorize(agent));
    callbackUrl.searchParams.delete('state');
    const response = await agent.get(pathOf(callbackUrl.toString()));
    expect(response.status).toBe(400);
    expect(response.text).toContain('data-error-code="STATE_INVALID"');
    expect(p.calls(app, 'code')).toBe(0);
  });

  it('when a callback carries a state from another browser, then it fails and the other browser can still finish', async () => {
    const victim = app.agent();
    const attacker = app.agent();
    const victimCallback = await p.authorize(victim);
    await attacker.get(p.startPath); // the attacker has a session of their own
    const stolen = await attacker.get(pathOf(victimCallback));
    expect(stolen.status).toBe(400);
    expect(p.calls(app, 'code')).toBe(0);
    const finished = await victim.get(pathOf(victimCallback));
    expect(finished.status).toBe(303);
  });

  it('when an error arrives without a valid state, then the state failure wins and the description is not reflected', async () => {
    const agent = app.agent();
    await agent.get(p.startPath);
    const response = await agent.get(
      `${p.callbackPath}?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=forged`,
    );
    expect(response.status).toBe(400);
    expect(response.text).toContain('data-error-code="STATE_INVALID"');
    expect(response.text).not.toContain('<script>alert(1)');
    // "Start again" leads back into the flow of this callback's provider.
    expect(response.text).toContain(`href="${p.startPath}"`);
  });

  it.each([
    ['a repeated code', (u: URL) => u.searchParams.append('code', 'second')],
    ['a repeated state', (u: URL) => u.searchParams.append('state', 'second')],
    ['an oversized code', (u: URL) => u.searchParams.set('code', 'a'.repeat(5000))],
    [
      'a bracketed code only',
      (u: URL) => {
        const code = u.searchParams.get('code') ?? '';
        u.searchParams.delete('code');
        u.searchParams.set('code[x]', code);
      },
    ],
  ])('when the callback has %s, then it is refused and no token request is made', async (_name, tamper) => {
    const agent = app.agent();
    const callbackUrl = new URL(await p.authorize(agent));
    tamper(callbackUrl);
    const response = await agent.get(pathOf(callbackUrl.toString()));
    expect(response.status).toBe(400);
    expect(p.calls(app, 'code')).toBe(0);
    expect(await rows()).toHaveLength(0);
  });

  it('when the start route gets client_id, redirect_uri, scope or state from the user, then it ignores them', async () => {
    const agent = app.agent();
    const response = await agent
      .get(
        `${p.startPath}?client_id=evil&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&scope=user_profile&state=chosen&response_type=token`,
      )
      .set('Host', 'evil.example');
    expect(response.status).toBe(302);
    const location = new URL(response.headers.location as string);
    expect(location.origin).toBe(app.url);
    expect(location.searchParams.get('client_id')).toBe(p.clientId(app));
    expect(location.searchParams.get('redirect_uri')).toBe(`${app.url}${p.callbackPath}`);
    expect(location.searchParams.get('scope')).toBe(p.defaultScope);
    expect(location.searchParams.get('response_type')).toBe('code');
    const state = location.searchParams.get('state') ?? '';
    expect(state).not.toBe('chosen');
    expect(Buffer.from(state, 'base64url').length).toBeGreaterThanOrEqual(16);
  });

  it('when the switch link is used, then the provider is asked to log in again', async () => {
    const response = await app.agent().get(`${p.startPath}?switch=1`);
    const [name, value] = p.switchParam;
    expect(new URL(response.headers.location as string).searchParams.get(name)).toBe(value);
  });

  it('when a person connects, then the session id is regenerated', async () => {
    const agent = app.agent();
    const start = await agent.get(p.startPath);
    const before = sessionCookie(start);
    const callback = await p.connect(agent);
    const after = sessionCookie(callback);
    expect(before).toBeDefined();
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it('when a second account is connected in the same session, then both show under the same user', async () => {
    const agent = app.agent();
    await p.connect(agent, { account: first });
    await p.connect(agent, { account: second });
    const all = await rows();
    expect(all).toHaveLength(2);
    expect(new Set(all.map((r) => r.user_id)).size).toBe(1);
    const page = await agent.get('/account');
    expect(page.text).toContain(`data-instagram-user-id="${first.igUserId}"`);
    expect(page.text).toContain(`data-instagram-user-id="${second.igUserId}"`);
  });

  it('when an already connected account connects again, then its row is updated, not duplicated', async () => {
    const agent = app.agent();
    await p.connect(agent, { account: first });
    const [before] = await rows();
    p.rename(app, first, { username: 'renamed.account' });
    await p.connect(agent, { account: first });
    const after = await rows();
    expect(after).toHaveLength(1);
    expect(after[0]?.id).toBe(before?.id);
    expect(JSON.parse(after[0]?.profile ?? '{}').username).toBe('renamed.account');
    expect(after[0]?.token_fingerprint).not.toBe(before?.token_fingerprint);
  });

  it('when a signed-out browser connects an account another user holds, then it gets a connection of its own and never becomes that user', async () => {
    const firstBrowser = app.agent();
    await p.connect(firstBrowser, { account: first });
    await p.connect(firstBrowser, { account: second });
    const other = app.agent();
    await p.connect(other, { account: first });
    const users = await app.container.db.selectFrom('users').selectAll().execute();
    expect(users).toHaveLength(2);
    const all = await rows();
    expect(all.filter((r) => r.account_id === first.igUserId)).toHaveLength(2);
    const otherPage = (await other.get('/account')).text;
    expect(otherPage.match(/data-instagram-user-id=/g)).toHaveLength(1);
    expect((await firstBrowser.get('/account')).text.match(/data-instagram-user-id=/g)).toHaveLength(2);
  });
});

/** Instagram Login's token answer comes flat or wrapped in data[], with bare 17-digit numbers: its wire alone. */
describe('connect flow (Instagram Login: the token answer)', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  const rows = () => app.container.db.selectFrom('connections').selectAll().execute();

  it('when the token endpoint answers wrapped in data[], then the flow succeeds the same way', async () => {
    app.sandbox.setResponseShape('wrapped');
    const agent = app.agent();
    const callback = await connect(agent, { account: ODD_ACCOUNT.igUserId });
    expect(callback.status).toBe(303);
    const [row] = await rows();
    expect(row?.account_id).toBe(ODD_ACCOUNT.igUserId);
    expect(row?.subject_id).toBe(ODD_ACCOUNT.appScopedId);
  });

  it('when the 17-digit ids arrive as bare JSON numbers, then every digit is kept from wire to page', async () => {
    // JSON.parse would turn …219 into …220 and …891 into …892: this is the id passport-oauth2 would corrupt.
    expect(String(JSON.parse(ODD_ACCOUNT.igUserId))).not.toBe(ODD_ACCOUNT.igUserId);
    expect(String(JSON.parse(ODD_ACCOUNT.appScopedId))).not.toBe(ODD_ACCOUNT.appScopedId);
    const agent = app.agent();
    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    const [row] = await rows();
    expect(row?.account_id).toBe(ODD_ACCOUNT.igUserId);
    expect(row?.subject_id).toBe(ODD_ACCOUNT.appScopedId);
    const page = await agent.get('/account');
    expect(page.text).toContain(ODD_ACCOUNT.igUserId);
    expect(page.text).not.toContain(String(JSON.parse(ODD_ACCOUNT.igUserId)));
  });
});

describe.each(PROVIDERS)('connect flow with optional scopes (%s)', (_name, p) => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp({ env: p.optionalScopes.env });
  });
  afterEach(async () => {
    await app.close();
  });

  it('when the person declines one optional scope, then the page shows it as declined', async () => {
    const agent = app.agent();
    await p.connect(agent, { scopes: p.optionalScopes.keep });
    const [row] = await app.container.db.selectFrom('connections').selectAll().execute();
    expect(row?.granted_scopes.split(',')).toEqual(p.optionalScopes.granted);
    const page = await agent.get('/account');
    expect(page.text).toContain('Permissions declined');
    const declined = page.text.slice(page.text.indexOf('Permissions declined'));
    expect(declined).toContain(p.optionalScopes.declined);
  });
});
