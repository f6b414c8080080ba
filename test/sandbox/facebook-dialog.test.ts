import { HOUR } from '../../src/shared/clock';
import {
  ALEX,
  answerDialog,
  codeOf,
  dialogUrl,
  FB_REDIRECT_URI,
  FB_REDIRECT_WITH_QUERY,
  MORGAN,
  PAGES,
  SAM,
  startFacebookSandbox,
  valuesOf,
  VERSION,
} from './facebook-support';
import { postForm, type RunningSandbox } from './sandbox-support';

describe('sandbox Facebook dialog (GET/POST /facebook/:version/dialog/oauth)', () => {
  let sandbox: RunningSandbox;
  let dialogPath: string;

  beforeAll(async () => {
    sandbox = await startFacebookSandbox();
    dialogPath = `${sandbox.base}/facebook/${VERSION}/dialog/oauth`;
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => sandbox.control.reset());

  const get = (url: string) => fetch(url, { redirect: 'manual' });
  const requestIdOf = (html: string) => /name="request"\s+value="([^"]+)"/.exec(html)?.[1] ?? '';

  it.each([
    ['the client_id is unknown', { client_id: '1234' }, 'Invalid App ID'],
    ['the client_id is the Instagram app id', { client_id: '990602627938098' }, 'Invalid App ID'],
    ['the client_id is missing', { client_id: '' }, 'Invalid App ID'],
    ['the redirect_uri has a trailing slash', { redirect_uri: `${FB_REDIRECT_URI}/` }, 'URL blocked'],
    ['the redirect_uri is http', { redirect_uri: FB_REDIRECT_URI.replace('https', 'http') }, 'URL blocked'],
    [
      'the redirect_uri re-encodes the registered query',
      { redirect_uri: 'https://app.example/fb?tenant=a+b' },
      'URL blocked',
    ],
    [
      'the redirect_uri is the Instagram one',
      { redirect_uri: 'https://app.example/auth/instagram/callback' },
      'URL blocked',
    ],
    ['response_type is token', { response_type: 'token' }, 'Invalid response_type'],
    ['response_type is missing', { response_type: '' }, 'Invalid response_type'],
    [
      'Instagram Login scopes are asked',
      { scope: 'instagram_basic,pages_show_list,instagram_business_basic' },
      'Invalid Scopes: instagram_business_basic',
    ],
    [
      'Basic Display scopes are asked',
      { scope: 'instagram_basic,pages_show_list,user_profile,user_media' },
      'Invalid Scopes: user_profile, user_media',
    ],
    [
      'scopes are space-separated',
      { scope: 'instagram_basic pages_show_list' },
      'Invalid Scopes: instagram_basic pages_show_list',
    ],
    ['pages_show_list is missing', { scope: 'instagram_basic' }, 'Invalid Scopes: pages_show_list required'],
    ['no scope is asked', { scope: '' }, 'Invalid Scopes: instagram_basic and pages_show_list required'],
    ['the config_id is not numeric', { config_id: 'abc' }, 'Invalid config_id'],
  ])('when %s, then an HTML error page answers 400 and nothing redirects', async (_name, params, message) => {
    const response = await get(dialogUrl(sandbox.base, params));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain(message);
    expect(html).toContain('Facebook sandbox');
    expect(html).not.toMatch(/\n\s+at /);
  });

  it('when the version in the path is not a Graph version, then an error page answers', async () => {
    const response = await get(dialogUrl(sandbox.base).replace(`/${VERSION}/`, '/latest/'));
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('Unsupported version');
  });

  it('when a parameter is repeated, then the request is refused', async () => {
    const response = await get(`${dialogUrl(sandbox.base)}&redirect_uri=${encodeURIComponent(FB_REDIRECT_URI)}`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('redirect_uri was given more than once');
  });

  it('when the request is valid, then the consent page lists the people, the permissions and every Page ticked', async () => {
    const response = await get(
      dialogUrl(sandbox.base, { scope: 'instagram_basic,pages_show_list,instagram_manage_comments' }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    expect(html).toContain('Facebook sandbox (igconnect test double)');
    expect(valuesOf(html, 'person')).toEqual([ALEX.id, SAM.id, MORGAN.id]);
    expect(html).toMatch(new RegExp(`value="${ALEX.id}" checked`));
    expect(html).toContain('no role on the app');
    // Required permissions cannot be unticked: they are not even form fields.
    expect(html).toMatch(/id="scope-instagram_basic" checked disabled/);
    expect(html).toMatch(/id="scope-pages_show_list" checked disabled/);
    expect(valuesOf(html, 'scopes')).toEqual(['instagram_manage_comments']);
    expect(html).toMatch(
      /name="scopes" id="scope-instagram_manage_comments" value="instagram_manage_comments" checked/,
    );
    expect(valuesOf(html, 'pages')).toEqual([
      PAGES.sunny.id,
      PAGES.trail.id,
      PAGES.corner.id,
      PAGES.pixel.id,
      PAGES.harbor.id,
      '112233445566781',
    ]);
    for (const id of valuesOf(html, 'pages')) expect(html).toMatch(new RegExp(`value="${id}" checked`));
    expect(valuesOf(html, 'instagram_accounts')).toEqual([
      PAGES.sunny.ig,
      PAGES.trail.ig,
      PAGES.pixel.ig,
      PAGES.harbor.ig,
    ]);
    expect(html).toContain('No Instagram account linked to this Page');
    expect(html).toContain('business-owned: not shared without business_management');
    expect(html).toContain(`action="/sandbox/facebook/${VERSION}/dialog/oauth"`);
    expect(sandbox.control.facebook.calls.fb_dialog).toBe(1);
  });

  it('when a config_id is given, then it stands for instagram_basic, pages_show_list and business_management', async () => {
    const html = await (await get(dialogUrl(sandbox.base, { config_id: '123456789012345', scope: 'email' }))).text();
    expect(html).toContain('scope-instagram_basic');
    expect(html).toContain('scope-pages_show_list');
    expect(valuesOf(html, 'scopes')).toEqual(['business_management']);
    expect(html).not.toContain('scope-email');
  });

  it('when the state contains markup, then the consent page escapes it', async () => {
    const html = await (await get(dialogUrl(sandbox.base, { state: '"><script>alert(1)</script>' }))).text();
    expect(html).not.toContain('<script>alert(1)</script>');
  });

  it('when the person allows, then the redirect carries code and state and ends with #_=_', async () => {
    const response = await answerDialog(sandbox.base);
    expect(response.status).toBe(302);
    const location = response.headers.get('location') ?? '';
    expect(location).toMatch(new RegExp(`^${FB_REDIRECT_URI}\\?code=[A-Za-z0-9_-]{43}&state=st4te#_=_$`));
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('when the person cancels, then the redirect carries Facebook’s cancel parameters, the state and #_=_', async () => {
    const response = await answerDialog(sandbox.base, { decision: 'cancel' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(
      `${FB_REDIRECT_URI}?error=access_denied&error_code=200&error_description=Permissions+error&error_reason=user_denied&state=st4te#_=_`,
    );
  });

  it('when no state is given, then neither redirect has a state parameter', async () => {
    const params = { state: '' };
    expect(codeOf(await answerDialog(sandbox.base, { params }))).toBeTruthy();
    const allowed = (await answerDialog(sandbox.base, { params })).headers.get('location') ?? '';
    const cancelled = (await answerDialog(sandbox.base, { params, decision: 'cancel' })).headers.get('location') ?? '';
    expect(allowed).not.toContain('state=');
    expect(cancelled).toMatch(/error_reason=user_denied#_=_$/);
  });

  it('when the registered redirect_uri has a query, then it is kept byte for byte', async () => {
    const response = await answerDialog(sandbox.base, { params: { redirect_uri: FB_REDIRECT_WITH_QUERY } });
    expect(response.headers.get('location')).toMatch(
      /^https:\/\/app\.example\/fb\?tenant=a%20b&code=[^&]+&state=st4te#_=_$/,
    );
  });

  it('when the consent form is posted twice, then the second post is refused', async () => {
    const html = await (await get(dialogUrl(sandbox.base))).text();
    const form = new URLSearchParams({ request: requestIdOf(html), decision: 'allow' });
    expect((await postForm(dialogPath, form)).status).toBe(302);
    const second = await postForm(dialogPath, form);
    expect(second.status).toBe(400);
    expect(await second.text()).toContain('This request is no longer valid');
  });

  it('when the consent page is answered after an hour, then the request has expired', async () => {
    const html = await (await get(dialogUrl(sandbox.base))).text();
    sandbox.clock.advance(HOUR);
    const response = await postForm(dialogPath, new URLSearchParams({ request: requestIdOf(html), decision: 'allow' }));
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('This request is no longer valid');
  });

  it('when the consent post names another redirect_uri or client, then the server-side request is used', async () => {
    const html = await (await get(dialogUrl(sandbox.base))).text();
    const form = new URLSearchParams({
      request: requestIdOf(html),
      decision: 'allow',
      redirect_uri: 'https://evil.example/steal',
      client_id: '1',
    });
    const response = await postForm(dialogPath, form);
    expect(response.headers.get('location')).toMatch(new RegExp(`^${FB_REDIRECT_URI}\\?code=`));
  });

  it('when a person who is not a tester allows, then an error page answers and nothing redirects', async () => {
    const response = await answerDialog(sandbox.base, { person: MORGAN.id });
    expect(response.status).toBe(403);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toContain('App not active');
  });

  it('when the person is unknown, or a field is repeated, then the post is refused', async () => {
    expect((await answerDialog(sandbox.base, { person: '10160000000000001' })).status).toBe(400);
    const html = await (await get(dialogUrl(sandbox.base))).text();
    const form = `request=${requestIdOf(html)}&decision=allow&decision=cancel`;
    const repeated = await postForm(dialogPath, form);
    expect(repeated.status).toBe(400);
    expect(await repeated.text()).toContain('decision was given more than once');
  });

  it('when the decision is neither allow nor cancel, then the post is refused', async () => {
    const html = await (await get(dialogUrl(sandbox.base))).text();
    const response = await postForm(dialogPath, new URLSearchParams({ request: requestIdOf(html), decision: 'maybe' }));
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('Choose Allow or Cancel');
  });

  it('when the consent post is oversized, then it answers 413 without a stack trace', async () => {
    const response = await postForm(dialogPath, `request=${'x'.repeat(20_000)}`);
    expect(response.status).toBe(413);
    expect(await response.text()).not.toMatch(/\n\s+at /);
  });
});
