import { authorize, connect, ODD_ACCOUNT, pathOf, sessionCookie, startTestApp, type TestApp } from '../support/harness';

/** The connect flow end to end: the app and its sandbox over real HTTP, a real SQLite file. */
describe('connect flow', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  const rows = () => app.container.db.selectFrom('connections').selectAll().execute();

  it('when a person allows access (flat token response), then the account is stored and shown on /account', async () => {
    const agent = app.agent();
    const callback = await connect(agent, { account: ODD_ACCOUNT.igUserId });

    expect(callback.status).toBe(303);
    expect(callback.headers.location).toBe('/account');
    expect(callback.headers['cache-control']).toBe('no-store');

    const page = await agent.get('/account');
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).toContain(`data-instagram-user-id="${ODD_ACCOUNT.igUserId}"`);
    expect(page.text).toContain('data-status="active"');
    expect(page.text).toMatch(/@[a-z0-9._]+/);
    expect(page.text).toContain('instagram_business_basic');
    expect(app.sandbox.calls.token).toBe(1);
    expect(app.sandbox.calls.exchange).toBe(1);
  });

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

  it('when the token is stored, then the database holds only ciphertext and the page only a fingerprint', async () => {
    const agent = app.agent();
    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    const [row] = await rows();
    if (!row) throw new Error('no row');
    const token = app.container.cipher.open(
      { keyId: row.token_key_id, ciphertext: row.token_ciphertext },
      `connection:${row.id}`,
    );
    expect(app.sandbox.tokenInfo(token)?.kind).toBe('long');
    expect(row.token_ciphertext).not.toContain(token);
    const page = await agent.get('/account');
    expect(page.text).not.toContain(token);
    expect(page.text).toContain(row.token_fingerprint);
    // The long-lived token's expiry (about 60 days) is what the page shows.
    expect(Number(row.token_expires_at) - app.clock.now()).toBe(5183944 * 1000);
  });

  it('when the person denies access, then a cancel page is shown and nothing is stored', async () => {
    const agent = app.agent();
    const callback = await connect(agent, { decision: 'deny' });
    expect(callback.status).toBe(200);
    expect(callback.text).toContain('data-error-code="CONNECT_CANCELLED"');
    expect(callback.text).toContain('Connection cancelled');
    expect(await rows()).toHaveLength(0);
    expect(app.sandbox.calls.token).toBe(0);
  });

  it('when a flow ends in a cancel or a refusal, then the address bar is cleaned by a redirect and the outcome shows once', async () => {
    const agent = app.agent();
    const callbackUrl = await authorize(agent, { decision: 'deny' });
    const callback = await agent.get(pathOf(callbackUrl));
    expect(callback.status).toBe(303);
    expect(callback.headers.location).toBe('/auth/instagram/result');
    expect(callback.headers['cache-control']).toBe('no-store');
    const result = await agent.get('/auth/instagram/result');
    expect(result.status).toBe(200);
    expect(result.text).toContain('data-error-code="CONNECT_CANCELLED"');
    // A reload has nothing left to show and goes to the status page.
    const reload = await agent.get('/auth/instagram/result');
    expect(reload.status).toBe(303);
    expect(reload.headers.location).toBe('/account');

    const refused = app.agent();
    const refusedUrl = await authorize(refused);
    app.sandbox.script('token', app.sandbox.tokenError('Invalid platform app'));
    const refusedCallback = await refused.get(pathOf(refusedUrl));
    expect(refusedCallback.status).toBe(303);
    expect(refusedCallback.headers.location).toBe('/auth/instagram/result');
    const refusedPage = await refused.get('/auth/instagram/result');
    expect(refusedPage.status).toBe(502);
    expect(refusedPage.text).toContain('data-error-code="PROVIDER_INVALID_APP"');
  });

  it('when the callback is replayed, then no second token request is made', async () => {
    const agent = app.agent();
    const callbackUrl = await authorize(agent);
    const first = await agent.get(pathOf(callbackUrl));
    expect(first.status).toBe(303);
    const second = await agent.get(pathOf(callbackUrl));
    expect(second.status).toBe(400);
    expect(second.text).toContain('data-error-code="STATE_INVALID"');
    expect(app.sandbox.calls.token).toBe(1);
  });

  it('when several callbacks with one state arrive at once, then exactly one exchanges the code', async () => {
    const agent = app.agent();
    const callbackUrl = await authorize(agent);
    const responses = await Promise.all(Array.from({ length: 6 }, () => agent.get(pathOf(callbackUrl))));
    expect(responses.map((r) => r.status).sort()).toEqual([303, 400, 400, 400, 400, 400]);
    expect(app.sandbox.calls.token).toBe(1);
    expect(await rows()).toHaveLength(1);
  });

  it('when the callback has no state, then it is refused before the code is used', async () => {
    const agent = app.agent();
    const callbackUrl = new URL(await authorize(agent));
    callbackUrl.searchParams.delete('state');
    const response = await agent.get(pathOf(callbackUrl.toString()));
    expect(response.status).toBe(400);
    expect(response.text).toContain('data-error-code="STATE_INVALID"');
    expect(app.sandbox.calls.token).toBe(0);
  });

  it('when a callback carries a state from another browser, then it fails and the other browser can still finish', async () => {
    const victim = app.agent();
    const attacker = app.agent();
    const victimCallback = await authorize(victim);
    await attacker.get('/auth/instagram'); // the attacker has a session of their own
    const stolen = await attacker.get(pathOf(victimCallback));
    expect(stolen.status).toBe(400);
    expect(app.sandbox.calls.token).toBe(0);
    const finished = await victim.get(pathOf(victimCallback));
    expect(finished.status).toBe(303);
  });

  it('when an error arrives without a valid state, then the state failure wins and the description is not reflected', async () => {
    const agent = app.agent();
    await agent.get('/auth/instagram');
    const response = await agent.get(
      '/auth/instagram/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=forged',
    );
    expect(response.status).toBe(400);
    expect(response.text).toContain('data-error-code="STATE_INVALID"');
    expect(response.text).not.toContain('<script>alert(1)');
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
    const callbackUrl = new URL(await authorize(agent));
    tamper(callbackUrl);
    const response = await agent.get(pathOf(callbackUrl.toString()));
    expect(response.status).toBe(400);
    expect(app.sandbox.calls.token).toBe(0);
    expect(await rows()).toHaveLength(0);
  });

  it('when the start route gets client_id, redirect_uri, scope or state from the user, then it ignores them', async () => {
    const agent = app.agent();
    const response = await agent
      .get(
        '/auth/instagram?client_id=evil&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&scope=user_profile&state=chosen&response_type=token',
      )
      .set('Host', 'evil.example');
    expect(response.status).toBe(302);
    const location = new URL(response.headers.location as string);
    expect(location.origin).toBe(app.url);
    expect(location.searchParams.get('client_id')).toBe(app.container.config.providers.instagram!.appId);
    expect(location.searchParams.get('redirect_uri')).toBe(`${app.url}/auth/instagram/callback`);
    expect(location.searchParams.get('scope')).toBe('instagram_business_basic');
    expect(location.searchParams.get('response_type')).toBe('code');
    const state = location.searchParams.get('state') ?? '';
    expect(state).not.toBe('chosen');
    expect(Buffer.from(state, 'base64url').length).toBeGreaterThanOrEqual(16);
  });

  it('when the switch link is used, then Instagram is asked to log in again (force_reauth)', async () => {
    const response = await app.agent().get('/auth/instagram?switch=1');
    expect(new URL(response.headers.location as string).searchParams.get('force_reauth')).toBe('true');
  });

  it('when a person connects, then the session id is regenerated', async () => {
    const agent = app.agent();
    const start = await agent.get('/auth/instagram');
    const before = sessionCookie(start);
    const callback = await connect(agent);
    const after = sessionCookie(callback);
    expect(before).toBeDefined();
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
  });

  it('when a second account is connected in the same session, then both show under the same user', async () => {
    const agent = app.agent();
    const [first, second] = app.sandbox.accounts().filter((a) => a.tester);
    if (!first || !second) throw new Error('sandbox needs two tester accounts');
    await connect(agent, { account: first.igUserId });
    await connect(agent, { account: second.igUserId });
    const all = await rows();
    expect(all).toHaveLength(2);
    expect(new Set(all.map((r) => r.user_id)).size).toBe(1);
    const page = await agent.get('/account');
    expect(page.text).toContain(`data-instagram-user-id="${first.igUserId}"`);
    expect(page.text).toContain(`data-instagram-user-id="${second.igUserId}"`);
  });

  it('when an already connected account connects again, then its row is updated, not duplicated', async () => {
    const agent = app.agent();
    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    const [before] = await rows();
    app.sandbox.updateProfile(ODD_ACCOUNT.igUserId, { username: 'renamed.account' });
    await connect(agent, { account: ODD_ACCOUNT.igUserId });
    const after = await rows();
    expect(after).toHaveLength(1);
    expect(after[0]?.id).toBe(before?.id);
    expect(JSON.parse(after[0]?.profile ?? '{}').username).toBe('renamed.account');
    expect(after[0]?.token_fingerprint).not.toBe(before?.token_fingerprint);
  });

  it('when a signed-out browser connects an account another user holds, then it gets a connection of its own and never becomes that user', async () => {
    const first = app.agent();
    await connect(first, { account: ODD_ACCOUNT.igUserId });
    await connect(first, { account: app.sandbox.accounts().filter((a) => a.tester)[1]?.igUserId });
    const other = app.agent();
    await connect(other, { account: ODD_ACCOUNT.igUserId });
    const users = await app.container.db.selectFrom('users').selectAll().execute();
    expect(users).toHaveLength(2);
    const all = await rows();
    expect(all.filter((r) => r.account_id === ODD_ACCOUNT.igUserId)).toHaveLength(2);
    const otherPage = (await other.get('/account')).text;
    expect(otherPage.match(/data-instagram-user-id=/g)).toHaveLength(1);
    expect((await first.get('/account')).text.match(/data-instagram-user-id=/g)).toHaveLength(2);
  });
});

describe('connect flow with optional scopes', () => {
  let app: TestApp;
  const scopes = 'instagram_business_basic,instagram_business_manage_comments,instagram_business_manage_insights';

  beforeEach(async () => {
    app = await startTestApp({ env: { INSTAGRAM_SCOPES: scopes } });
  });
  afterEach(async () => {
    await app.close();
  });

  it('when the person declines one optional scope, then the page shows it as declined', async () => {
    const agent = app.agent();
    await connect(agent, { scopes: ['instagram_business_manage_comments'] });
    const [row] = await app.container.db.selectFrom('connections').selectAll().execute();
    expect(row?.granted_scopes.split(',')).toEqual(['instagram_business_basic', 'instagram_business_manage_comments']);
    const page = await agent.get('/account');
    expect(page.text).toContain('Permissions declined');
    const declined = page.text.slice(page.text.indexOf('Permissions declined'));
    expect(declined).toContain('instagram_business_manage_insights');
  });
});
