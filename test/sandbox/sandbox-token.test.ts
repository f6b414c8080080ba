import { parse as parseLossless, isLosslessNumber } from 'lossless-json';
import { SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import { MINUTE } from '../../src/shared/clock';
import {
  BASIC,
  CLIENT_SECRET,
  COMMENTS,
  codeFor,
  NOT_A_TESTER,
  ODD,
  postForm,
  type RunningSandbox,
  startSandbox,
  tokenForm,
} from './sandbox-support';

describe('sandbox code exchange (POST /oauth/access_token)', () => {
  let sandbox: RunningSandbox;
  let tokenUrl: string;

  beforeAll(async () => {
    sandbox = await startSandbox();
    tokenUrl = `${sandbox.base}/oauth/access_token`;
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => sandbox.control.reset());

  async function expectTokenError(response: Response, message: string) {
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error_type: 'OAuthException', code: 400, error_message: message });
  }

  it('when the built-in ids are parsed with JSON.parse, then every one of them is corrupted', () => {
    expect(SANDBOX_TEST_ACCOUNTS.find((a) => a.igUserId === ODD.igUserId)?.appScopedId).toBe(ODD.appScopedId);
    expect(SANDBOX_TEST_ACCOUNTS.length).toBeGreaterThanOrEqual(4);
    expect(new Set(SANDBOX_TEST_ACCOUNTS.map((a) => a.accountType))).toEqual(new Set(['BUSINESS', 'MEDIA_CREATOR']));
    expect(SANDBOX_TEST_ACCOUNTS.filter((a) => !a.tester).map((a) => a.username)).toEqual(['not_a_tester']);
    for (const account of SANDBOX_TEST_ACCOUNTS) {
      for (const id of [account.igUserId, account.appScopedId]) {
        expect(id).toMatch(/^\d{17}$/);
        expect(BigInt(id) > 2n ** 53n).toBe(true);
        expect(String(JSON.parse(id))).not.toBe(id);
      }
    }
  });

  it('when the flat shape answers, then user_id is a bare 17-digit number written textually', async () => {
    const response = await postForm(tokenUrl, tokenForm(await codeFor(sandbox.base)));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await response.text();
    expect(text).toMatch(
      new RegExp(
        `^\\{"access_token":"IGAA[A-Za-z0-9]{36,}","user_id":${ODD.appScopedId},"permissions":\\["${BASIC}","${COMMENTS}"\\]\\}$`,
      ),
    );
    // What a naive client (passport-oauth2) would store, and what a lossless parser keeps.
    expect(String((JSON.parse(text) as { user_id: number }).user_id)).toBe('26173461234567892');
    const lossless = parseLossless(text) as { user_id: unknown };
    expect(isLosslessNumber(lossless.user_id) && lossless.user_id.toString()).toBe(ODD.appScopedId);
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(body).not.toHaveProperty('token_type');
    expect(body).not.toHaveProperty('expires_in');
  });

  it('when the wrapped shape is set, then the answer is data[] with a string id and a comma string of permissions', async () => {
    sandbox.control.setResponseShape('wrapped');
    const response = await postForm(tokenUrl, tokenForm(await codeFor(sandbox.base)));
    const body = (await response.json()) as { data: Array<Record<string, unknown>> };
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).toEqual({
      access_token: expect.stringMatching(/^IGAA/),
      user_id: ODD.appScopedId,
      permissions: `${BASIC},${COMMENTS}`,
    });
  });

  it('when an optional scope is declined, then the token carries only what was granted', async () => {
    const response = await postForm(tokenUrl, tokenForm(await codeFor(sandbox.base, ODD.igUserId, [])));
    const text = await response.text();
    expect(text).toContain(`"permissions":["${BASIC}"]`);
    const token = /"access_token":"([^"]+)"/.exec(text)?.[1] ?? '';
    expect(sandbox.control.tokenInfo(token)).toMatchObject({
      kind: 'short',
      appScopedId: ODD.appScopedId,
      scopes: [BASIC],
      issuedAt: sandbox.clock.now(),
      expiresAt: sandbox.clock.now() + 60 * MINUTE,
    });
  });

  it('when a code is used twice, then the second exchange fails', async () => {
    const code = await codeFor(sandbox.base);
    expect((await postForm(tokenUrl, tokenForm(code))).status).toBe(200);
    await expectTokenError(
      await postForm(tokenUrl, tokenForm(code)),
      'Matching code was not found or was already used',
    );
  });

  it('when a code is presented with a wrong redirect_uri, then it fails and is burnt anyway', async () => {
    const code = await codeFor(sandbox.base);
    await expectTokenError(
      await postForm(tokenUrl, tokenForm(code, { redirect_uri: 'https://app.example/cb?tenant=a%20b' })),
      'Invalid redirect_uri',
    );
    await expectTokenError(
      await postForm(tokenUrl, tokenForm(code)),
      'Matching code was not found or was already used',
    );
  });

  it('when a code is 59 minutes old, then it still works', async () => {
    const code = await codeFor(sandbox.base);
    sandbox.clock.advance(59 * MINUTE);
    expect((await postForm(tokenUrl, tokenForm(code))).status).toBe(200);
  });

  it('when a code is an hour old, then it has expired', async () => {
    const code = await codeFor(sandbox.base);
    sandbox.clock.advance(60 * MINUTE);
    await expectTokenError(
      await postForm(tokenUrl, tokenForm(code)),
      'Matching code was not found or was already used',
    );
  });

  it.each([
    ['the client_id is unknown', { client_id: '42' }, 'Invalid platform app'],
    ['the secret is wrong', { client_secret: `${CLIENT_SECRET}x` }, 'Error validating client secret'],
    ['grant_type is not authorization_code', { grant_type: 'client_credentials' }, 'Unsupported grant_type'],
    ['the code is unknown', { code: 'made-up' }, 'Matching code was not found or was already used'],
    [
      'the redirect_uri differs',
      { redirect_uri: 'https://app.example/auth/instagram/callback/' },
      'Invalid redirect_uri',
    ],
    ['a field is missing', { client_secret: '' }, 'Missing or duplicated parameter client_secret'],
  ])('when %s, then the token endpoint answers its error', async (_name, overrides, message) => {
    await expectTokenError(await postForm(tokenUrl, tokenForm(await codeFor(sandbox.base), overrides)), message);
  });

  it('when a field is given twice, then the exchange is refused', async () => {
    const form = tokenForm(await codeFor(sandbox.base));
    form.append('redirect_uri', 'https://evil.example/cb');
    await expectTokenError(await postForm(tokenUrl, form), 'Missing or duplicated parameter redirect_uri');
  });

  it('when the account is not an accepted tester, then the exchange answers Insufficient developer role', async () => {
    await expectTokenError(
      await postForm(tokenUrl, tokenForm(await codeFor(sandbox.base, NOT_A_TESTER))),
      'Insufficient developer role',
    );
  });

  it('when the body is not a form, then the exchange fails as a missing parameter and is counted', async () => {
    const response = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"client_id":',
    });
    await expectTokenError(response, 'Missing or duplicated parameter client_id');
    expect(sandbox.control.calls.token).toBe(1);
  });

  it('when the body is too large, then it answers 413 in the token error shape', async () => {
    const response = await postForm(tokenUrl, `code=${'x'.repeat(40_000)}`);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error_type: 'OAuthException', error_message: 'Malformed request' });
  });
});
