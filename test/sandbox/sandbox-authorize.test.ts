import {
  authorizeUrl,
  BASIC,
  CLIENT_ID,
  COMMENTS,
  decide,
  NOT_A_TESTER,
  ODD,
  pendingId,
  postForm,
  REDIRECT_URI,
  type RunningSandbox,
  startSandbox,
} from './sandbox-support';

describe('sandbox authorize and consent', () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => sandbox.control.reset());

  const get = (url: string) => fetch(url, { redirect: 'manual' });

  it.each([
    ['the client_id is unknown', { client_id: '1234' }, 'Invalid platform app'],
    ['the client_id is missing', { client_id: '' }, 'Invalid platform app'],
    ['the redirect_uri differs by a trailing slash', { redirect_uri: `${REDIRECT_URI}/` }, 'Invalid redirect_uri'],
    [
      'the redirect_uri differs in scheme',
      { redirect_uri: REDIRECT_URI.replace('https', 'http') },
      'Invalid redirect_uri',
    ],
    ['response_type is token', { response_type: 'token' }, 'Invalid response_type'],
    [
      'a Basic Display scope is asked',
      { scope: `${BASIC},user_profile,user_media` },
      'Invalid Scopes: user_profile, user_media',
    ],
    ['a retired business_ scope is asked', { scope: `${BASIC},business_basic` }, 'Invalid Scopes: business_basic'],
    ['a Facebook Login scope is asked', { scope: `${BASIC},instagram_basic` }, 'Invalid Scopes: instagram_basic'],
    ['scopes are space-separated', { scope: `${BASIC} ${COMMENTS}` }, `Invalid Scopes: ${BASIC} ${COMMENTS}`],
    ['instagram_business_basic is missing', { scope: COMMENTS }, `Invalid Scopes: ${BASIC} is required`],
  ])('when %s, then an HTML error page answers 400 and nothing redirects', async (_name, params, message) => {
    const response = await get(authorizeUrl(sandbox.base, params));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toContain(message);
  });

  it('when a parameter is repeated, then the request is refused', async () => {
    const response = await get(`${authorizeUrl(sandbox.base)}&state=second`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('state was given more than once');
  });

  it('when the request is valid, then the consent page lists accounts and permissions, labelled as the sandbox', async () => {
    const response = await get(authorizeUrl(sandbox.base, { force_reauth: 'true' }));
    expect(response.status).toBe(200);
    expect(sandbox.control.calls.authorize).toBe(1);
    const html = await response.text();
    expect(html).toContain('Instagram sandbox (igconnect test double) — not the real Instagram');
    expect(html).toContain(CLIENT_ID);
    expect(html).toContain('app.example');
    for (const account of sandbox.control.accounts()) expect(html).toContain(`@${account.username}`);
    expect(html).toMatch(new RegExp(`value="${ODD.igUserId}"\\s+checked`));
    expect(html).toContain('not a tester');
    expect(html).toMatch(new RegExp(`id="scope-${BASIC}" checked disabled`));
    expect(html).toMatch(new RegExp(`name="scopes" id="scope-${COMMENTS}" value="${COMMENTS}" checked`));
    expect(html).toContain('force_reauth');
    expect(html).toContain('value="allow"');
    expect(html).toContain('value="deny"');
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('href="/sandbox/sandbox.css"');
    expect(pendingId(html).length).toBeGreaterThanOrEqual(32);
  });

  it('when the state contains markup, then the consent page escapes it', async () => {
    const response = await get(authorizeUrl(sandbox.base, { state: '"><script>alert(1)</script>' }));
    expect(response.status).toBe(200);
    expect(await response.text()).not.toContain('<script>alert(1)');
  });

  it('when the person allows, then the redirect carries code and state and ends with #_', async () => {
    const response = await decide(sandbox.base, { account: ODD.igUserId });
    expect(response.status).toBe(302);
    const location = response.headers.get('location') ?? '';
    expect(location).toMatch(
      /^https:\/\/app\.example\/auth\/instagram\/callback\?code=[A-Za-z0-9_-]{43}&state=st4te#_$/,
    );
  });

  it('when no state was given, then the redirect has no state parameter', async () => {
    const consent = await get(authorizeUrl(sandbox.base).replace('&state=st4te', ''));
    const response = await postForm(
      `${sandbox.base}/oauth/authorize`,
      new URLSearchParams({ request: pendingId(await consent.text()), decision: 'allow' }),
    );
    expect(response.headers.get('location')).toMatch(/\?code=[^&#]+#_$/);
  });

  it('when the redirect_uri already has a query, then it is kept byte for byte', async () => {
    const response = await decide(sandbox.base, { params: { redirect_uri: 'https://app.example/cb?tenant=a%20b' } });
    expect(response.headers.get('location')).toMatch(
      /^https:\/\/app\.example\/cb\?tenant=a%20b&code=[^&]+&state=st4te#_$/,
    );
  });

  it('when the person denies, then the redirect carries Meta’s cancel parameters, the state and #_', async () => {
    const response = await decide(sandbox.base, { decision: 'deny' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(
      `${REDIRECT_URI}?error=access_denied&error_reason=user_denied&error_description=The+user+denied+your+request&state=st4te#_`,
    );
  });

  it('when the consent form is posted twice, then the second post is refused', async () => {
    const consent = await get(authorizeUrl(sandbox.base));
    const form = new URLSearchParams({ request: pendingId(await consent.text()), decision: 'allow' });
    expect((await postForm(`${sandbox.base}/oauth/authorize`, form)).status).toBe(302);
    const again = await postForm(`${sandbox.base}/oauth/authorize`, form);
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('no longer valid');
  });

  it('when the pending id is unknown, then the post is refused', async () => {
    const response = await postForm(`${sandbox.base}/oauth/authorize`, 'request=forged&decision=allow');
    expect(response.status).toBe(400);
  });

  it('when the consent post resubmits another redirect_uri, then the server-side one is used', async () => {
    const consent = await get(authorizeUrl(sandbox.base));
    const form = new URLSearchParams({
      request: pendingId(await consent.text()),
      decision: 'allow',
      redirect_uri: 'https://evil.example/cb',
      client_id: 'evil',
    });
    const response = await postForm(`${sandbox.base}/oauth/authorize`, form);
    expect(response.headers.get('location')).toMatch(/^https:\/\/app\.example\/auth\/instagram\/callback\?code=/);
  });

  it('when the consent post is oversized, then it answers 413 without a stack trace', async () => {
    const response = await postForm(`${sandbox.base}/oauth/authorize`, `request=${'a'.repeat(20_000)}`);
    expect(response.status).toBe(413);
    expect(await response.text()).toBe('Bad request');
  });

  it('when the consent post repeats the decision, then it is refused', async () => {
    const consent = await get(authorizeUrl(sandbox.base));
    const form = `request=${pendingId(await consent.text())}&decision=allow&decision=deny`;
    expect((await postForm(`${sandbox.base}/oauth/authorize`, form)).status).toBe(400);
  });

  it('when an account that is not a tester is picked, then consent still redirects (the token step refuses it)', async () => {
    const response = await decide(sandbox.base, { account: NOT_A_TESTER });
    expect(response.status).toBe(302);
  });
});
