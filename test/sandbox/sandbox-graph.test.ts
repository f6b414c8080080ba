import { DAY, HOUR } from '../../src/shared/clock';
import {
  BASIC,
  CLIENT_SECRET,
  getJson,
  graphErrorOf,
  ODD,
  type RunningSandbox,
  shortLivedToken,
  startSandbox,
} from './sandbox-support';

describe('sandbox Graph: exchange, refresh, /me', () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => sandbox.control.reset());

  const exchangeUrl = (token: string, extra = '') =>
    `${sandbox.base}/graph/access_token?grant_type=ig_exchange_token&client_secret=${CLIENT_SECRET}&access_token=${token}${extra}`;
  const refreshUrl = (token: string) =>
    `${sandbox.base}/graph/refresh_access_token?grant_type=ig_refresh_token&access_token=${token}`;
  const meUrl = (token: string, fields?: string) =>
    `${sandbox.base}/graph/v25.0/me?access_token=${token}${fields === undefined ? '' : `&fields=${fields}`}`;

  async function expectGraphError(url: string, code: number, subcode: number | undefined, message?: RegExp) {
    const { status, body } = await getJson(url);
    expect(status).toBe(400);
    const error = graphErrorOf(body);
    expect(error.code).toBe(code);
    expect(error.error_subcode).toBe(subcode);
    expect(error.fbtrace_id).toEqual(expect.any(String));
    if (message) expect(error.message).toMatch(message);
    return error;
  }

  describe('long-lived exchange', () => {
    it('when a valid short-lived token is exchanged, then a 5183944-second bearer token answers', async () => {
      const { status, body } = await getJson(exchangeUrl(await shortLivedToken(sandbox.base)));
      expect(status).toBe(200);
      expect(body).toEqual({ access_token: expect.stringMatching(/^IGAA/), token_type: 'bearer', expires_in: 5183944 });
      const info = sandbox.control.tokenInfo((body as { access_token: string }).access_token);
      expect(info?.kind).toBe('long');
      expect(info?.expiresAt).toBe(sandbox.clock.now() + 5183944 * 1000);
      expect(sandbox.control.calls.exchange).toBe(1);
    });

    it('when the secret is wrong, then Graph answers 101', async () => {
      const token = await shortLivedToken(sandbox.base);
      await expectGraphError(exchangeUrl(token).replace(CLIENT_SECRET, 'nope'), 101, undefined, /client secret/);
    });

    it('when grant_type is wrong, then Graph answers 100', async () => {
      const token = await shortLivedToken(sandbox.base);
      await expectGraphError(exchangeUrl(token).replace('ig_exchange_token', 'fb_exchange_token'), 100, undefined);
    });

    it('when the short-lived token is an hour old, then it is expired (190/463)', async () => {
      const token = await shortLivedToken(sandbox.base);
      sandbox.clock.advance(HOUR);
      await expectGraphError(exchangeUrl(token), 190, 463, /expired/);
    });

    it('when the token is unknown, then Graph answers 190', async () => {
      await expectGraphError(exchangeUrl('IGAAnope'), 190, undefined, /Cannot parse access token/);
    });

    it('when a parameter is repeated, then Graph answers 100', async () => {
      await expectGraphError(exchangeUrl(await shortLivedToken(sandbox.base), '&access_token=x'), 100, undefined);
    });
  });

  describe('refresh', () => {
    it('when a long-lived token is 24 hours old, then refresh answers a new 60-day token and the old one still works', async () => {
      const old = sandbox.control.issueLongLivedToken(ODD.igUserId);
      sandbox.clock.advance(DAY);
      const { status, body } = await getJson(refreshUrl(old));
      expect(status).toBe(200);
      expect(body).toEqual({ access_token: expect.stringMatching(/^IGAA/), token_type: 'bearer', expires_in: 5183944 });
      const fresh = (body as { access_token: string }).access_token;
      expect(fresh).not.toBe(old);
      expect(sandbox.control.tokenInfo(fresh)).toMatchObject({ issuedAt: sandbox.clock.now(), scopes: [BASIC] });
      expect((await getJson(meUrl(old))).status).toBe(200);
    });

    it('when a long-lived token is younger than 24 hours, then refresh answers code 100 IGApiException, not 190', async () => {
      const token = sandbox.control.issueLongLivedToken(ODD.igUserId);
      sandbox.clock.advance(DAY - 1);
      const error = await expectGraphError(refreshUrl(token), 100, undefined, /at least 24 hours old/);
      expect(error.type).toBe('IGApiException');
      expect((await getJson(meUrl(token))).status).toBe(200);
    });

    it('when the long-lived token has expired, then refresh answers 190/463', async () => {
      const token = sandbox.control.issueLongLivedToken(ODD.igUserId, { issuedAt: sandbox.clock.now() - 61 * DAY });
      await expectGraphError(refreshUrl(token), 190, 463);
    });

    it('when the token was revoked, then refresh answers 190/467', async () => {
      const token = sandbox.control.issueLongLivedToken(ODD.igUserId, { issuedAt: sandbox.clock.now() - 2 * DAY });
      sandbox.control.revokeTokens(ODD.igUserId);
      await expectGraphError(refreshUrl(token), 190, 467, /session has been invalidated/);
    });

    it('when a short-lived token is refreshed, then Graph answers 100', async () => {
      await expectGraphError(refreshUrl(await shortLivedToken(sandbox.base)), 100, undefined);
    });
  });

  describe('/me', () => {
    const ALL = 'id,user_id,username,name,account_type,profile_picture_url,followers_count,media_count';

    it('when every field is asked, then ids are strings, counts are numbers, and X-App-Usage is sent', async () => {
      const token = sandbox.control.issueLongLivedToken(ODD.igUserId);
      const response = await fetch(meUrl(token, ALL));
      expect(response.headers.get('x-app-usage')).toBe('{"call_count":1,"total_cputime":1,"total_time":1}');
      const text = await response.text();
      expect(text).toContain(`"id":"${ODD.appScopedId}"`);
      expect(text).toContain(`"user_id":"${ODD.igUserId}"`);
      expect(JSON.parse(text)).toEqual({
        id: ODD.appScopedId,
        user_id: ODD.igUserId,
        username: 'sunny.bakery',
        name: 'Sunny Bakery',
        account_type: 'BUSINESS',
        profile_picture_url: `${sandbox.base}/avatars/${ODD.igUserId}.svg`,
        followers_count: 1284,
        media_count: 87,
      });
    });

    it('when no fields are asked, then only the id answers', async () => {
      const { body } = await getJson(meUrl(sandbox.control.issueLongLivedToken(ODD.igUserId)));
      expect(body).toEqual({ id: ODD.appScopedId });
    });

    it('when the shape is wrapped, then the profile comes inside data[]', async () => {
      sandbox.control.setResponseShape('wrapped');
      const { body } = await getJson(meUrl(sandbox.control.issueLongLivedToken(ODD.igUserId), 'user_id,username'));
      expect(body).toEqual({ data: [{ user_id: ODD.igUserId, username: 'sunny.bakery', id: ODD.appScopedId }] });
    });

    it('when the token comes as a Bearer header or is short-lived, then it works too', async () => {
      const short = await shortLivedToken(sandbox.base);
      const { status, body } = await getJson(`${sandbox.base}/graph/v25.0/me?fields=username`, {
        headers: { Authorization: `Bearer ${short}` },
      });
      expect(status).toBe(200);
      expect(body).toMatchObject({ username: 'sunny.bakery' });
    });

    it('when the profile changes, then /me shows the change', async () => {
      const token = sandbox.control.issueLongLivedToken(ODD.igUserId);
      sandbox.control.updateProfile(ODD.appScopedId, { username: 'sunny.bakery.2', followersCount: 2000 });
      const { body } = await getJson(meUrl(token, 'username,followers_count'));
      expect(body).toMatchObject({ username: 'sunny.bakery.2', followers_count: 2000 });
    });

    it('when a field does not exist, then Graph answers 100 naming it', async () => {
      const token = sandbox.control.issueLongLivedToken(ODD.igUserId);
      await expectGraphError(meUrl(token, 'id,email'), 100, undefined, /Tried accessing nonexisting field \(email\)/);
    });

    it('when the version is malformed, then Graph answers 2500', async () => {
      const token = sandbox.control.issueLongLivedToken(ODD.igUserId);
      await expectGraphError(meUrl(token).replace('v25.0', '25'), 2500, undefined, /Unknown path components/);
    });

    it('when no token is given, then Graph answers 190 asking for an active token', async () => {
      await expectGraphError(`${sandbox.base}/graph/v25.0/me`, 190, undefined, /An active access token must be used/);
    });

    it('when the token is unknown, then Graph answers 190 Cannot parse access token', async () => {
      await expectGraphError(meUrl('IGAAunknown'), 190, undefined, /Cannot parse access token/);
    });

    it('when the long-lived token is past its expiry, then Graph answers 190/463', async () => {
      const token = sandbox.control.issueLongLivedToken(ODD.igUserId);
      sandbox.clock.advance(5183944 * 1000);
      await expectGraphError(meUrl(token), 190, 463);
    });

    it.each([
      ['revokeTokens', 467],
      ['expireTokens', 463],
      ['changePassword', 460],
      ['removeApp', 458],
    ] as const)(
      'when %s is called, then existing tokens answer 190/%i and a new token works',
      async (method, subcode) => {
        const token = sandbox.control.issueLongLivedToken(ODD.igUserId);
        const other = sandbox.control.issueLongLivedToken('17841401234567893');
        await sandbox.control[method](ODD.appScopedId);
        await expectGraphError(meUrl(token), 190, subcode, /^Error validating access token/);
        expect(sandbox.control.tokenInfo(token)?.invalidated).toBeDefined();
        expect((await getJson(meUrl(other))).status).toBe(200);
        expect((await getJson(meUrl(sandbox.control.issueLongLivedToken(ODD.igUserId)))).status).toBe(200);
      },
    );

    it('when removeApp is called, then the onRemoveApp hook receives the account', async () => {
      const removed: string[] = [];
      sandbox.control.onRemoveApp = async (account) => {
        removed.push(account.igUserId);
      };
      try {
        await sandbox.control.removeApp(ODD.igUserId);
      } finally {
        delete sandbox.control.onRemoveApp;
      }
      expect(removed).toEqual([ODD.igUserId]);
    });
  });

  it('when an unknown Graph path is asked, then a 404 Graph error answers', async () => {
    const { status, body } = await getJson(`${sandbox.base}/graph/v25.0/me/no_such_edge`);
    expect(status).toBe(404);
    expect(graphErrorOf(body).code).toBe(2500);
  });
});
