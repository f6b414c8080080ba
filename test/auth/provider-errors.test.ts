import { graphError, type ScriptedResponse } from '../../src/sandbox/sandbox';
import { ALEX } from '../support/facebook';
import { authorize, finishCallback, startTestApp, type TestApp } from '../support/harness';
import { PROVIDERS, type ProviderCase } from '../support/providers';

/**
 * Every way a provider can refuse the connect maps to a page that says what happened, with the right
 * status, never a 500, nothing stored, and words that name the way in the person used. Each provider has
 * its own wire: Instagram Login's token endpoint answers `error_message` bodies, everything of Facebook's
 * (its code exchange included) answers Graph error envelopes. The rows are what each sandbox can script.
 */
type ErrorRow = readonly [endpoint: string, response: (app: TestApp) => ScriptedResponse, status: number, code: string];

const INSTAGRAM_ERRORS: ErrorRow[] = [
  ['token', (a) => a.sandbox.tokenError('Matching code was not found or was already used'), 400, 'PROVIDER_CODE_USED'],
  ['token', (a) => a.sandbox.tokenError('Invalid redirect_uri'), 502, 'PROVIDER_REDIRECT_URI_MISMATCH'],
  ['token', (a) => a.sandbox.tokenError('Invalid platform app'), 502, 'PROVIDER_INVALID_APP'],
  ['token', (a) => a.sandbox.tokenError('Insufficient developer role'), 403, 'PROVIDER_TESTER_ROLE'],
  ['token', (a) => a.sandbox.tokenError('Error validating client secret'), 502, 'PROVIDER_INVALID_SECRET'],
  ['token', () => ({ status: 500, body: 'upstream exploded' }), 503, 'PROVIDER_UNAVAILABLE'],
  ['token', () => ({ status: 200, body: '{"access_token":' }), 502, 'PROVIDER_BAD_RESPONSE'],
  ['token', () => ({ status: 200, body: { access_token: '', user_id: 1 } }), 502, 'PROVIDER_BAD_RESPONSE'],
  ['token', () => ({ status: 200, body: { data: [] } }), 502, 'PROVIDER_BAD_RESPONSE'],
  ['token', () => ({ status: 302, headers: { location: 'https://elsewhere.example/' } }), 502, 'PROVIDER_BAD_RESPONSE'],
  ['token', () => ({ delayMs: 1500 }), 503, 'PROVIDER_UNAVAILABLE'],
  ['exchange', (a) => a.sandbox.graphError(190, 463, 'Session has expired'), 502, 'PROVIDER_TOKEN_INVALID'],
  [
    'exchange',
    () => ({ status: 200, body: { access_token: 'IGAAx', token_type: 'bearer' } }),
    502,
    'PROVIDER_BAD_RESPONSE',
  ],
  ['me', (a) => a.sandbox.graphError(4, undefined, 'Application request limit reached'), 503, 'PROVIDER_THROTTLED'],
  ['me', (a) => a.sandbox.graphError(10, undefined, 'Permission denied'), 403, 'PROVIDER_PERMISSION'],
  [
    'me',
    (a) => a.sandbox.graphError(100, undefined, 'Unsupported request - method type: get'),
    403,
    'PROVIDER_TESTER_ROLE',
  ],
  [
    'me',
    () => ({ status: 200, body: { id: '1', user_id: '2', username: 'someone.else' } }),
    502,
    'PROVIDER_IDENTITY_MISMATCH',
  ],
];

/**
 * graph.facebook.com's answers as the sandbox gives them (src/sandbox/CONTEXT.md, "Facebook wire"). A
 * person without a role on the app never gets back from the dialog ("App not active"; test/facebook).
 */
const FACEBOOK_ERRORS: ErrorRow[] = [
  ['fb_token', () => graphError(100, 36009, 'This authorization code has been used.'), 400, 'PROVIDER_CODE_USED'],
  ['fb_token', () => graphError(100, 36007, 'This authorization code has expired.'), 400, 'PROVIDER_CODE_USED'],
  [
    'fb_token',
    () =>
      graphError(
        100,
        36008,
        'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request',
      ),
    502,
    'PROVIDER_REDIRECT_URI_MISMATCH',
  ],
  [
    'fb_token',
    () => graphError(101, undefined, 'Error validating application. Invalid application ID.'),
    502,
    'PROVIDER_INVALID_APP',
  ],
  // Graph's code 1 otherwise means "unknown error, retry": only the message tells a wrong secret apart.
  ['fb_token', () => graphError(1, undefined, 'Error validating client secret.'), 502, 'PROVIDER_INVALID_SECRET'],
  ['fb_token', () => graphError(100, undefined, 'Invalid verification code format.'), 502, 'PROVIDER_REJECTED'],
  ['fb_token', () => ({ status: 500, body: 'upstream exploded' }), 503, 'PROVIDER_UNAVAILABLE'],
  ['fb_token', () => ({ status: 200, body: '{"access_token":' }), 502, 'PROVIDER_BAD_RESPONSE'],
  ['fb_token', () => ({ status: 200, body: { access_token: '', token_type: 'bearer' } }), 502, 'PROVIDER_BAD_RESPONSE'],
  ['fb_token', () => ({ status: 200, body: { data: [] } }), 502, 'PROVIDER_BAD_RESPONSE'],
  [
    'fb_token',
    () => ({ status: 302, headers: { location: 'https://elsewhere.example/' } }),
    502,
    'PROVIDER_BAD_RESPONSE',
  ],
  ['fb_token', () => ({ delayMs: 1500 }), 503, 'PROVIDER_UNAVAILABLE'],
  [
    'fb_debug_token',
    () => ({ status: 200, body: { data: { app_id: '999', is_valid: true, user_id: ALEX, scopes: [] } } }),
    502,
    'PROVIDER_IDENTITY_MISMATCH',
  ],
  ['fb_exchange', () => graphError(190, 463, 'Session has expired'), 502, 'PROVIDER_TOKEN_INVALID'],
  ['fb_exchange', () => ({ status: 200, body: { token_type: 'bearer' } }), 502, 'PROVIDER_BAD_RESPONSE'],
  ['fb_me', () => graphError(4, undefined, 'Application request limit reached'), 503, 'PROVIDER_THROTTLED'],
  ['fb_me', () => graphError(10, undefined, 'Permission denied'), 403, 'PROVIDER_PERMISSION'],
  ['fb_me', () => ({ status: 200, body: { id: '1', name: 'Someone Else' } }), 502, 'PROVIDER_IDENTITY_MISMATCH'],
  [
    'fb_accounts',
    () => graphError(200, undefined, '(#200) Requires pages_show_list permission to manage the object'),
    403,
    'PROVIDER_PERMISSION',
  ],
  ['fb_accounts', () => ({ status: 200, body: { data: 'none' } }), 502, 'PROVIDER_BAD_RESPONSE'],
  ['fb_accounts', () => ({ status: 200, body: { data: [] } }), 200, 'CONNECT_NO_ACCOUNTS'],
];

const ERRORS: Record<ProviderCase['id'], ErrorRow[]> = { instagram: INSTAGRAM_ERRORS, facebook: FACEBOOK_ERRORS };
const SITE: Record<ProviderCase['id'], string> = { instagram: 'Instagram', facebook: 'Facebook' };
/** Where, in each App Dashboard, the redirect URI is registered. */
const REDIRECT_SETTING: Record<ProviderCase['id'], string> = {
  instagram: 'OAuth redirect URIs',
  facebook: 'Valid OAuth Redirect URIs',
};

/** What the error page says to people (title, what happened, what to do), as text. */
function peopleText(html: string): string {
  const section = /<section class="error-page[\s\S]*?(?=<details|<\/section>)/.exec(html)?.[0] ?? '';
  return section.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
}

/** What the error page tells the site owner (the collapsed details), as text. */
function deployerText(html: string): string {
  return (/<details class="deployer">[\s\S]*?<\/details>/.exec(html)?.[0] ?? '').replace(/<[^>]+>/g, ' ');
}

describe.each(PROVIDERS)('provider errors during the connect flow (%s)', (_name, p) => {
  let app: TestApp;
  const other = p.id === 'instagram' ? 'facebook' : 'instagram';

  beforeAll(async () => {
    app = await startTestApp({ env: { ...p.env, HTTP_TIMEOUT_MS: '500' } });
  });
  afterAll(async () => {
    await app.close();
  });
  beforeEach(async () => {
    app.sandbox.reset();
    await app.container.db.deleteFrom('connections').execute();
  });

  async function failWith(endpoint: string, response: ScriptedResponse) {
    const agent = app.agent();
    const callbackUrl = await p.authorize(agent);
    p.script(app, endpoint, response);
    return finishCallback(agent, callbackUrl);
  }

  it.each(ERRORS[p.id])('when %s answers %#, then the page says %s', async (endpoint, response, status, code) => {
    const page = await failWith(endpoint, response(app));
    expect(page.status).toBe(status);
    expect(page.text).toContain(`data-error-code="${code}"`);
    expect(page.text).not.toMatch(/at \S+ \(.*:\d+:\d+\)/); // no stack trace
    expect(await app.container.db.selectFrom('connections').selectAll().execute()).toHaveLength(0);
    // The words name the way in the person used, never the other one (the account stays an Instagram one).
    expect(peopleText(page.text).replace(/Instagram (professional )?account/g, '')).not.toContain(SITE[other]);
    expect(deployerText(page.text)).not.toContain(`${other.toUpperCase()}_`);
  });

  it('when the error page is rendered, then the deployer detail is collapsed and names the fix', async () => {
    const redirectMismatch = ERRORS[p.id].find((row) => row[3] === 'PROVIDER_REDIRECT_URI_MISMATCH');
    if (!redirectMismatch) throw new Error('no redirect_uri row');
    const page = await failWith(redirectMismatch[0], redirectMismatch[1](app));
    expect(page.text).toContain('<details class="deployer">');
    expect(page.text).toContain(REDIRECT_SETTING[p.id]);
    expect(deployerText(page.text)).toContain(`${p.id.toUpperCase()}_REDIRECT_URI`);
    expect(peopleText(page.text)).toContain(`${SITE[p.id]} refused the connection`);
  });
});

describe('provider errors during the connect flow (Instagram Login: development mode)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  // Instagram lets a non-tester consent and refuses the code exchange; Facebook's dialog refuses such a
  // person itself, before anything comes back to igconnect (test/facebook/connect-flow.test.ts).
  it('when the chosen account is not an accepted tester, then the page explains the tester role', async () => {
    const nonTester = app.sandbox.accounts().find((a) => !a.tester);
    if (!nonTester) throw new Error('sandbox needs a non-tester account');
    const agent = app.agent();
    const callbackUrl = await authorize(agent, { account: nonTester.igUserId });
    const page = await finishCallback(agent, callbackUrl);
    expect(page.status).toBe(403);
    expect(page.text).toContain('data-error-code="PROVIDER_TESTER_ROLE"');
    expect(page.text).toContain('Tester');
  });
});
