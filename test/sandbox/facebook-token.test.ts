import { isLosslessNumber, parse as parseLossless } from 'lossless-json';
import { SANDBOX_FACEBOOK_PEOPLE } from '../../src/sandbox/sandbox';
import { HOUR, MINUTE, SECOND } from '../../src/shared/clock';
import {
  ALEX,
  APP_TOKEN,
  bearer,
  codeFor,
  debugToken,
  exchangeUrl,
  FB_APP_ID,
  FB_APP_SECRET,
  FB_REDIRECT_URI,
  graphBase,
  longLivedUrl,
  PAGES,
  SAM,
  shortUserToken,
  startFacebookSandbox,
} from './facebook-support';
import { getJson, graphErrorOf, type RunningSandbox } from './sandbox-support';

describe('sandbox Facebook tokens: code exchange, long-lived user token, app token, /me', () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startFacebookSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => sandbox.control.reset());

  async function expectGraphError(url: string, code: number, subcode: number | undefined, message?: RegExp) {
    const { status, body } = await getJson(url);
    expect(status).toBe(400);
    const error = graphErrorOf(body);
    expect([error.code, error.error_subcode, error.type]).toEqual([code, subcode, expect.any(String)]);
    expect(error.fbtrace_id).toEqual(expect.any(String));
    if (message) expect(error.message).toMatch(message);
    return error;
  }

  describe('code exchange (GET /oauth/access_token with code)', () => {
    it('when a fresh code is exchanged, then a short-lived bearer user token of 5183 seconds answers', async () => {
      const response = await fetch(exchangeUrl(sandbox.base, await codeFor(sandbox.base)));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.headers.get('x-app-usage')).toBeTruthy();
      const body = (await response.json()) as { access_token: string };
      expect(body).toEqual({
        access_token: expect.stringMatching(/^EAA[A-Za-z0-9]{100,}$/),
        token_type: 'bearer',
        expires_in: 5183,
      });
      const info = sandbox.control.facebook.tokenInfo(body.access_token);
      expect(info).toMatchObject({ type: 'USER', lifetime: 'short', personId: ALEX.id });
      expect(info?.expiresAt).toBe(sandbox.clock.now() + 5183 * SECOND);
      expect(sandbox.control.facebook.calls.fb_token).toBe(1);
    });

    it('when a code is used twice, then the second exchange answers 100/36009', async () => {
      const code = await codeFor(sandbox.base);
      expect((await getJson(exchangeUrl(sandbox.base, code))).status).toBe(200);
      await expectGraphError(exchangeUrl(sandbox.base, code), 100, 36009, /authorization code has been used/);
    });

    it('when a code is presented with another redirect_uri, then it fails with 36008 and is burnt anyway', async () => {
      const code = await codeFor(sandbox.base);
      await expectGraphError(
        exchangeUrl(sandbox.base, code, { redirect_uri: `${FB_REDIRECT_URI}/` }),
        100,
        36008,
        /redirect_uri is identical/,
      );
      await expectGraphError(exchangeUrl(sandbox.base, code), 100, 36009);
    });

    it('when a code is presented with a wrong secret, then Graph answers code 1 and the code is burnt', async () => {
      const code = await codeFor(sandbox.base);
      await expectGraphError(
        exchangeUrl(sandbox.base, code, { client_secret: 'nope' }),
        1,
        undefined,
        /Error validating client secret/,
      );
      await expectGraphError(exchangeUrl(sandbox.base, code), 100, 36009);
    });

    it('when the client_id is wrong or missing, then Graph answers 101', async () => {
      const code = await codeFor(sandbox.base);
      await expectGraphError(
        exchangeUrl(sandbox.base, code, { client_id: '1234' }),
        101,
        undefined,
        /Invalid application ID/,
      );
      await expectGraphError(exchangeUrl(sandbox.base, code, { client_id: '' }), 101, undefined, /Missing client_id/);
    });

    it('when a code is 9 minutes 59 seconds old, then it still works', async () => {
      const code = await codeFor(sandbox.base);
      sandbox.clock.advance(10 * MINUTE - SECOND);
      expect((await getJson(exchangeUrl(sandbox.base, code))).status).toBe(200);
    });

    it('when a code is ten minutes old, then it has expired (100/36007)', async () => {
      const code = await codeFor(sandbox.base);
      sandbox.clock.advance(10 * MINUTE);
      await expectGraphError(exchangeUrl(sandbox.base, code), 100, 36007, /expired/);
    });

    it.each([
      ['unknown', 'not-a-code'],
      ['missing', ''],
    ])('when the code is %s, then Graph answers 100 "Invalid verification code format."', async (_name, code) => {
      await expectGraphError(exchangeUrl(sandbox.base, code), 100, undefined, /^Invalid verification code format\.$/);
    });

    it('when redirect_uri is missing, then Graph answers 100', async () => {
      await expectGraphError(
        exchangeUrl(sandbox.base, await codeFor(sandbox.base), { redirect_uri: '' }),
        100,
        undefined,
        /redirect_uri/,
      );
    });

    it('when a parameter is repeated, then Graph answers 100 and nothing is issued', async () => {
      const code = await codeFor(sandbox.base);
      await expectGraphError(
        `${exchangeUrl(sandbox.base, code)}&code=${code}`,
        100,
        undefined,
        /Duplicated parameter code/,
      );
    });

    it('when the grant_type is not one Graph knows, then it answers 100', async () => {
      await expectGraphError(
        exchangeUrl(sandbox.base, 'x', { grant_type: 'authorization_code' }),
        100,
        undefined,
        /Unsupported grant_type/,
      );
    });

    it('when the code was issued to the other registered redirect URI, then only that one exchanges it', async () => {
      const other = 'https://app.example/fb?tenant=a%20b';
      const code = await codeFor(sandbox.base, { params: { redirect_uri: other } });
      expect((await getJson(exchangeUrl(sandbox.base, code, { redirect_uri: other }))).status).toBe(200);
    });
  });

  describe('long-lived user token (grant_type=fb_exchange_token)', () => {
    it('when a short-lived token is exchanged, then a 5183944-second token with the same grant answers', async () => {
      const short = await shortUserToken(sandbox.base, { scopes: [], pages: [PAGES.sunny.id] });
      const { status, body } = await getJson(longLivedUrl(sandbox.base, short));
      expect(status).toBe(200);
      expect(body).toEqual({ access_token: expect.stringMatching(/^EAA/), token_type: 'bearer', expires_in: 5183944 });
      const info = sandbox.control.facebook.tokenInfo((body as { access_token: string }).access_token);
      expect(info).toMatchObject({
        type: 'USER',
        lifetime: 'long',
        scopes: ['instagram_basic', 'pages_show_list'],
        pageIds: [PAGES.sunny.id],
        igUserIds: [PAGES.sunny.ig],
      });
      expect(info?.expiresAt).toBe(sandbox.clock.now() + 5183944 * SECOND);
      expect(sandbox.control.facebook.calls.fb_exchange).toBe(1);
      expect(sandbox.control.facebook.calls.fb_token).toBe(1);
    });

    it('when the short-lived token has expired (5183 s), then the exchange answers 190/463', async () => {
      const short = await shortUserToken(sandbox.base);
      sandbox.clock.advance(5183 * SECOND);
      await expectGraphError(longLivedUrl(sandbox.base, short), 190, 463, /Session has expired/);
    });

    it('when the secret is wrong, then Graph answers code 1', async () => {
      const short = await shortUserToken(sandbox.base);
      await expectGraphError(longLivedUrl(sandbox.base, short, { client_secret: 'x' }), 1, undefined);
    });

    it('when the token is unknown or missing, then Graph answers 190 or 100', async () => {
      await expectGraphError(longLivedUrl(sandbox.base, 'EAAnope'), 190, undefined, /Cannot parse access token/);
      await expectGraphError(longLivedUrl(sandbox.base, '', {}), 100, undefined, /fb_exchange_token/);
    });

    it('when a Page token is exchanged, then Graph refuses it', async () => {
      const { pages } = sandbox.control.facebook.issueTokens(ALEX.id);
      await expectGraphError(
        longLivedUrl(sandbox.base, pages[0]?.accessToken ?? ''),
        100,
        undefined,
        /user access token/,
      );
    });
  });

  describe('app access token', () => {
    it('when client_credentials are given, then an app token answers and works for debug_token', async () => {
      const query = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: FB_APP_ID,
        client_secret: FB_APP_SECRET,
      });
      const { status, body } = await getJson(`${graphBase(sandbox.base)}/oauth/access_token?${query.toString()}`);
      expect(status).toBe(200);
      const appToken = (body as { access_token: string }).access_token;
      expect(body).toEqual({
        access_token: expect.stringMatching(new RegExp(`^${FB_APP_ID}\\|[A-Za-z0-9]+$`)),
        token_type: 'bearer',
      });
      expect(appToken).not.toBe(APP_TOKEN);
      const { userAccessToken } = sandbox.control.facebook.issueTokens(ALEX.id);
      expect((await debugToken(sandbox.base, userAccessToken, appToken)).is_valid).toBe(true);
      expect((await debugToken(sandbox.base, appToken)).type).toBe('APP');
      expect(sandbox.control.facebook.calls.fb_app_token).toBe(1);
    });

    it('when client_credentials carry a wrong secret, then Graph answers code 1', async () => {
      const query = new URLSearchParams({ grant_type: 'client_credentials', client_id: FB_APP_ID, client_secret: 'x' });
      await expectGraphError(`${graphBase(sandbox.base)}/oauth/access_token?${query.toString()}`, 1, undefined);
    });
  });

  describe('/me', () => {
    it('when the built-in people ids are parsed with JSON.parse, then every one of them is corrupted', () => {
      expect(SANDBOX_FACEBOOK_PEOPLE.filter((p) => p.tester).length).toBeGreaterThanOrEqual(2);
      expect(SANDBOX_FACEBOOK_PEOPLE.filter((p) => !p.tester).length).toBe(1);
      const ids = SANDBOX_FACEBOOK_PEOPLE.flatMap((p) => [
        p.id,
        ...p.pages.flatMap((page) => (page.instagram ? [page.instagram.id] : [])),
      ]);
      for (const id of ids) {
        expect(id).toMatch(/^\d{17}$/);
        expect(BigInt(id) > 2n ** 53n).toBe(true);
        expect(String(JSON.parse(id))).not.toBe(id);
      }
    });

    it('when /me is asked for id and name, then the id is a bare 17-digit JSON number that JSON.parse corrupts', async () => {
      const token = await shortUserToken(sandbox.base);
      const response = await fetch(`${graphBase(sandbox.base)}/me?fields=id,name`, bearer(token));
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toBe(`{"name":"Alex Rivera","id":${ALEX.id}}`);
      expect(String((JSON.parse(text) as { id: number }).id)).not.toBe(ALEX.id);
      const lossless = parseLossless(text) as { id: unknown };
      expect(isLosslessNumber(lossless.id) && lossless.id.toString()).toBe(ALEX.id);
      expect(sandbox.control.facebook.calls.fb_me).toBe(1);
    });

    it('when the token comes in the query, then it is accepted there too, and fields default to id and name', async () => {
      const { userAccessToken } = sandbox.control.facebook.issueTokens(SAM.id);
      const response = await fetch(`${graphBase(sandbox.base)}/me?access_token=${userAccessToken}`);
      expect(await response.text()).toBe(`{"name":"Sam Okafor","id":${SAM.id}}`);
    });

    it('when /me is asked with a Page token, then it is the Page, its id a string', async () => {
      const { pages } = sandbox.control.facebook.issueTokens(ALEX.id);
      const { body } = await getJson(
        `${graphBase(sandbox.base)}/me?fields=id,name`,
        bearer(pages[0]?.accessToken ?? ''),
      );
      expect(body).toEqual({ name: 'Sunny Bakery', id: PAGES.sunny.id });
    });

    it('when a field does not exist, or no token is sent, then Graph answers 100 or 2500', async () => {
      const token = await shortUserToken(sandbox.base);
      const error = graphErrorOf(
        (await getJson(`${graphBase(sandbox.base)}/me?fields=id,username`, bearer(token))).body,
      );
      expect([error.code, error.message]).toEqual([
        100,
        '(#100) Tried accessing nonexisting field (username) on node type (User)',
      ]);
      const missing = graphErrorOf((await getJson(`${graphBase(sandbox.base)}/me`)).body);
      expect(missing.code).toBe(2500);
    });

    it('when the user token is an hour and a half old, then /me answers 190/463', async () => {
      const token = await shortUserToken(sandbox.base);
      sandbox.clock.advance(HOUR + 30 * MINUTE);
      await expectGraphError(`${graphBase(sandbox.base)}/me?access_token=${token}`, 190, 463);
    });

    it('when the version is not a Graph version, then Graph answers 2500 with 404', async () => {
      const token = await shortUserToken(sandbox.base);
      const { status, body } = await getJson(`${sandbox.base}/facebook/graph/latest/me?access_token=${token}`);
      expect(status).toBe(404);
      expect(graphErrorOf(body).code).toBe(2500);
    });
  });
});
