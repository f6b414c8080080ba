import { authorize, finishCallback, startTestApp, type TestApp } from '../support/harness';
import type { SandboxEndpoint, ScriptedResponse } from '../../src/sandbox/sandbox';

/**
 * Every way Instagram can refuse the exchange maps to a page that says what happened, with the right
 * status, never a 500, and nothing stored.
 */
describe('provider errors during the connect flow', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: { HTTP_TIMEOUT_MS: '500' } });
  });
  afterAll(async () => {
    await app.close();
  });
  beforeEach(async () => {
    app.sandbox.reset();
    await app.container.db.deleteFrom('connections').execute();
  });

  async function failWith(endpoint: SandboxEndpoint, response: ScriptedResponse) {
    const agent = app.agent();
    const callbackUrl = await authorize(agent);
    app.sandbox.script(endpoint, response);
    return finishCallback(agent, callbackUrl);
  }

  const control = () => app.sandbox;

  it.each([
    ['token', () => control().tokenError('Matching code was not found or was already used'), 400, 'PROVIDER_CODE_USED'],
    ['token', () => control().tokenError('Invalid redirect_uri'), 502, 'PROVIDER_REDIRECT_URI_MISMATCH'],
    ['token', () => control().tokenError('Invalid platform app'), 502, 'PROVIDER_INVALID_APP'],
    ['token', () => control().tokenError('Insufficient developer role'), 403, 'PROVIDER_TESTER_ROLE'],
    ['token', () => control().tokenError('Error validating client secret'), 502, 'PROVIDER_INVALID_SECRET'],
    ['token', () => ({ status: 500, body: 'upstream exploded' }), 503, 'PROVIDER_UNAVAILABLE'],
    ['token', () => ({ status: 200, body: '{"access_token":' }), 502, 'PROVIDER_BAD_RESPONSE'],
    ['token', () => ({ status: 200, body: { access_token: '', user_id: 1 } }), 502, 'PROVIDER_BAD_RESPONSE'],
    ['token', () => ({ status: 200, body: { data: [] } }), 502, 'PROVIDER_BAD_RESPONSE'],
    [
      'token',
      () => ({ status: 302, headers: { location: 'https://elsewhere.example/' } }),
      502,
      'PROVIDER_BAD_RESPONSE',
    ],
    ['token', () => ({ delayMs: 1500 }), 503, 'PROVIDER_UNAVAILABLE'],
    ['exchange', () => control().graphError(190, 463, 'Session has expired'), 502, 'PROVIDER_TOKEN_INVALID'],
    [
      'exchange',
      () => ({ status: 200, body: { access_token: 'IGAAx', token_type: 'bearer' } }),
      502,
      'PROVIDER_BAD_RESPONSE',
    ],
    ['me', () => control().graphError(4, undefined, 'Application request limit reached'), 503, 'PROVIDER_THROTTLED'],
    ['me', () => control().graphError(10, undefined, 'Permission denied'), 403, 'PROVIDER_PERMISSION'],
    [
      'me',
      () => control().graphError(100, undefined, 'Unsupported request - method type: get'),
      403,
      'PROVIDER_TESTER_ROLE',
    ],
    [
      'me',
      () => ({ status: 200, body: { id: '1', user_id: '2', username: 'someone.else' } }),
      502,
      'PROVIDER_IDENTITY_MISMATCH',
    ],
  ] as const)('when %s answers %#, then the page says %s', async (endpoint, response, status, code) => {
    const page = await failWith(endpoint, response());
    expect(page.status).toBe(status);
    expect(page.text).toContain(`data-error-code="${code}"`);
    expect(page.text).not.toMatch(/at \S+ \(.*:\d+:\d+\)/); // no stack trace
    expect(await app.container.db.selectFrom('connections').selectAll().execute()).toHaveLength(0);
  });

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

  it('when the error page is rendered, then the deployer detail is collapsed and names the fix', async () => {
    const page = await failWith('token', control().tokenError('Invalid redirect_uri'));
    expect(page.text).toContain('<details class="deployer">');
    expect(page.text).toContain('OAuth redirect URIs');
  });
});
