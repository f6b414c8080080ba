import { DAY, HOUR, MINUTE, SECOND } from '../../src/shared/clock';
import {
  ACCOUNT_FIELDS,
  ALEX,
  APP_TOKEN,
  bearer,
  debugToken,
  FB_APP_ID,
  graphBase,
  igUserUrl,
  longUserToken,
  pagesOf,
  pageToken,
  PAGES,
  SAM,
  shortUserToken,
  startFacebookSandbox,
} from './facebook-support';
import { getJson, graphErrorOf, type RunningSandbox } from './sandbox-support';

describe('sandbox Facebook Graph: Pages, Page tokens, the Instagram account, debug_token, revocation', () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startFacebookSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => sandbox.control.reset());

  async function expectGraphError(
    url: string,
    init: RequestInit,
    code: number,
    subcode: number | undefined,
    message?: RegExp,
  ) {
    const { status, body } = await getJson(url, init);
    expect(status).toBe(400);
    const error = graphErrorOf(body);
    expect([error.code, error.error_subcode]).toEqual([code, subcode]);
    if (message) expect(error.message).toMatch(message);
    return error;
  }

  describe('/me/accounts', () => {
    it('when every Page is shared with business_management, then each comes with a Page token and its Instagram account', async () => {
      const token = await longUserToken(sandbox.base);
      const response = await fetch(
        `${graphBase(sandbox.base)}/me/accounts?fields=${encodeURIComponent(ACCOUNT_FIELDS)}`,
        bearer(token),
      );
      expect(response.status).toBe(200);
      const body = (await response.json()) as { data: Array<Record<string, unknown>>; paging: unknown };
      expect(body.data).toEqual([
        {
          id: PAGES.sunny.id,
          name: 'Sunny Bakery',
          access_token: expect.stringMatching(/^EAA/),
          instagram_business_account: {
            id: PAGES.sunny.ig,
            username: 'sunny.bakery',
            name: 'Sunny Bakery',
            profile_picture_url: `${sandbox.base}/facebook/avatars/${PAGES.sunny.ig}.svg`,
          },
        },
        expect.objectContaining({
          id: PAGES.trail.id,
          instagram_business_account: expect.objectContaining({ id: PAGES.trail.ig }),
        }),
        { id: PAGES.corner.id, name: 'Corner Shop', access_token: expect.stringMatching(/^EAA/) },
        expect.objectContaining({ id: PAGES.pixel.id, access_token: expect.any(String) }),
      ]);
      expect(body.paging).toEqual({ cursors: { before: expect.any(String), after: expect.any(String) } });
      expect(sandbox.control.facebook.calls.fb_accounts).toBe(1);
      // The avatar the profile points at is served.
      const avatar = await fetch(`${sandbox.base}/facebook/avatars/${PAGES.sunny.ig}.svg`);
      expect(avatar.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    });

    it('when the person left a Page out in granular consent, then it is listed without token and without its Instagram account', async () => {
      const token = await longUserToken(sandbox.base, { pages: [PAGES.sunny.id, PAGES.corner.id, PAGES.pixel.id] });
      const pages = await pagesOf(sandbox.base, token);
      const trail = pages.find((page) => page.id === PAGES.trail.id);
      expect(trail).toEqual({ id: PAGES.trail.id, name: 'Trail Runner Jo' });
      expect(pages.find((page) => page.id === PAGES.sunny.id)?.access_token).toMatch(/^EAA/);
    });

    it('when the person shared the Page but not its Instagram account, then the Page has a token but no instagram_business_account', async () => {
      const token = await longUserToken(sandbox.base, { instagramAccounts: [PAGES.trail.ig, PAGES.pixel.ig] });
      const sunny = (await pagesOf(sandbox.base, token)).find((page) => page.id === PAGES.sunny.id);
      expect(sunny?.access_token).toMatch(/^EAA/);
      expect(sunny).not.toHaveProperty('instagram_business_account');
    });

    it('when business_management is declined, then the business-owned Page is not listed at all', async () => {
      const token = await longUserToken(sandbox.base, { scopes: [] });
      expect(sandbox.control.facebook.tokenInfo(token)?.scopes).toEqual(['instagram_basic', 'pages_show_list']);
      const ids = (await pagesOf(sandbox.base, token)).map((page) => page.id);
      expect(ids).toEqual([PAGES.sunny.id, PAGES.trail.id, PAGES.corner.id]);
    });

    it('when business_management is not even requested, then the business-owned Page is not listed either', async () => {
      const token = await longUserToken(sandbox.base, { params: { scope: 'instagram_basic,pages_show_list' } });
      expect((await pagesOf(sandbox.base, token)).map((page) => page.id)).not.toContain(PAGES.pixel.id);
    });

    it('when another person logs in, then only their Pages are listed, whatever the form sent', async () => {
      const token = await longUserToken(sandbox.base, { person: SAM.id });
      const pages = await pagesOf(sandbox.base, token);
      expect(pages.map((page) => page.id)).toEqual([PAGES.harbor.id]);
      expect(sandbox.control.facebook.tokenInfo(token)?.pageIds).toEqual([PAGES.harbor.id]);
    });

    it('when /me/accounts is asked twice with the same user token, then the same Page token answers', async () => {
      const token = await longUserToken(sandbox.base);
      const first = pageToken(await pagesOf(sandbox.base, token), PAGES.sunny.id);
      expect(pageToken(await pagesOf(sandbox.base, token), PAGES.sunny.id)).toBe(first);
    });

    it('when a limit is given, then pages follow the after cursor and next repeats the request', async () => {
      const token = await longUserToken(sandbox.base);
      const first = await getJson(`${graphBase(sandbox.base)}/me/accounts?fields=id&limit=3`, bearer(token));
      const body = first.body as { data: Array<{ id: string }>; paging: { cursors: { after: string }; next: string } };
      expect(body.data.map((page) => page.id)).toEqual([PAGES.sunny.id, PAGES.trail.id, PAGES.corner.id]);
      expect(body.paging.next).toBe(
        `${graphBase(sandbox.base)}/me/accounts?fields=id&limit=3&after=${body.paging.cursors.after}`,
      );
      const second = await getJson(body.paging.next, bearer(token));
      const rest = second.body as { data: Array<{ id: string }>; paging: Record<string, unknown> };
      expect(rest.data.map((page) => page.id)).toEqual([PAGES.pixel.id]);
      expect(rest.paging).not.toHaveProperty('next');
    });

    it('when a Page token asks /me/accounts, or a field does not exist, then Graph answers 100', async () => {
      const { pages, userAccessToken } = sandbox.control.facebook.issueTokens(ALEX.id);
      await expectGraphError(
        `${graphBase(sandbox.base)}/me/accounts`,
        bearer(pages[0]?.accessToken ?? ''),
        100,
        undefined,
        /\(accounts\) on node type \(Page\)/,
      );
      await expectGraphError(
        `${graphBase(sandbox.base)}/me/accounts?fields=id,tokens`,
        bearer(userAccessToken),
        100,
        undefined,
        /\(tokens\)/,
      );
      await expectGraphError(
        `${graphBase(sandbox.base)}/me/accounts?fields=${encodeURIComponent('instagram_business_account{id,biography}')}`,
        bearer(userAccessToken),
        100,
        undefined,
        /\(biography\)/,
      );
      await expectGraphError(
        `${graphBase(sandbox.base)}/me/accounts?fields=${encodeURIComponent('id,{')}`,
        bearer(userAccessToken),
        100,
        undefined,
      );
    });

    it('when the token lacks pages_show_list, then Graph answers a permission error', async () => {
      const { userAccessToken } = sandbox.control.facebook.issueTokens(ALEX.id, { scopes: ['instagram_basic'] });
      await expectGraphError(
        `${graphBase(sandbox.base)}/me/accounts`,
        bearer(userAccessToken),
        200,
        undefined,
        /pages_show_list/,
      );
    });
  });

  describe('Page token lifetime', () => {
    it('when Pages are listed with a long-lived user token, then the Page token never expires (debug_token expires_at 0)', async () => {
      const token = await longUserToken(sandbox.base);
      const page = pageToken(await pagesOf(sandbox.base, token), PAGES.sunny.id);
      const data = await debugToken(sandbox.base, page);
      expect(data).toMatchObject({
        type: 'PAGE',
        expires_at: 0,
        is_valid: true,
        profile_id: PAGES.sunny.id,
        user_id: ALEX.id,
      });
      // Still working after the user token itself has expired, until data access lapses.
      sandbox.clock.advance(61 * DAY);
      expect((await getJson(igUserUrl(sandbox.base, PAGES.sunny.ig), bearer(page))).status).toBe(200);
    });

    it('when Pages are listed with a short-lived user token, then the Page token lasts one hour', async () => {
      const token = await shortUserToken(sandbox.base);
      const page = pageToken(await pagesOf(sandbox.base, token), PAGES.sunny.id);
      const data = await debugToken(sandbox.base, page);
      expect(data.expires_at).toBe(Math.floor((sandbox.clock.now() + HOUR) / 1000));
      sandbox.clock.advance(HOUR - SECOND);
      expect((await getJson(igUserUrl(sandbox.base, PAGES.sunny.ig), bearer(page))).status).toBe(200);
      sandbox.clock.advance(SECOND);
      await expectGraphError(igUserUrl(sandbox.base, PAGES.sunny.ig), bearer(page), 190, 463, /Session has expired/);
    });
  });

  describe('the Instagram account node', () => {
    it('when the Page token of its Page reads it, then the profile answers with string ids and number counts', async () => {
      const pages = await pagesOf(sandbox.base, await longUserToken(sandbox.base));
      const response = await fetch(igUserUrl(sandbox.base, PAGES.sunny.ig), bearer(pageToken(pages, PAGES.sunny.id)));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        username: 'sunny.bakery',
        name: 'Sunny Bakery',
        profile_picture_url: `${sandbox.base}/facebook/avatars/${PAGES.sunny.ig}.svg`,
        followers_count: 1284,
        media_count: 87,
        id: PAGES.sunny.ig,
      });
      expect(sandbox.control.facebook.calls.fb_ig_user).toBe(1);
    });

    it('when another Page’s token reads it, then Graph answers 100/33 Unsupported get request', async () => {
      const pages = await pagesOf(sandbox.base, await longUserToken(sandbox.base));
      const error = await expectGraphError(
        igUserUrl(sandbox.base, PAGES.sunny.ig),
        bearer(pageToken(pages, PAGES.trail.id)),
        100,
        33,
        /Unsupported get request/,
      );
      expect(error.type).toBe('GraphMethodException');
    });

    it('when another person’s Page token reads it, or the account was left out, then Graph answers 100/33', async () => {
      const { pages } = sandbox.control.facebook.issueTokens(SAM.id);
      await expectGraphError(igUserUrl(sandbox.base, PAGES.sunny.ig), bearer(pages[0]?.accessToken ?? ''), 100, 33);
      const withoutIg = await pagesOf(sandbox.base, await longUserToken(sandbox.base, { instagramAccounts: [] }));
      await expectGraphError(
        igUserUrl(sandbox.base, PAGES.sunny.ig),
        bearer(pageToken(withoutIg, PAGES.sunny.id)),
        100,
        33,
      );
    });

    it('when the person’s user token reads an account they shared, then it answers too', async () => {
      const token = await longUserToken(sandbox.base);
      expect((await getJson(igUserUrl(sandbox.base, PAGES.trail.ig, 'username'), bearer(token))).body).toEqual({
        username: 'trail.runner.jo',
        id: PAGES.trail.ig,
      });
    });

    it('when no token, an unknown field or a non-numeric id is sent, then Graph answers its errors', async () => {
      const { pages } = sandbox.control.facebook.issueTokens(ALEX.id);
      const sunny = bearer(pages[0]?.accessToken ?? '');
      await expectGraphError(igUserUrl(sandbox.base, PAGES.sunny.ig), {}, 104, undefined);
      await expectGraphError(igUserUrl(sandbox.base, PAGES.sunny.ig, 'id,email'), sunny, 100, undefined, /\(email\)/);
      await expectGraphError(`${graphBase(sandbox.base)}/sunny.bakery?fields=id`, sunny, 803, undefined);
      await expectGraphError(igUserUrl(sandbox.base, '17841400000000001'), sunny, 100, 33);
    });
  });

  describe('invalidated tokens', () => {
    it.each([
      [
        'the person revoked the tokens',
        (id: string) => sandbox.control.facebook.revokeTokens(id),
        467,
        /revoked access/,
      ],
      [
        'the person changed their password',
        (id: string) => sandbox.control.facebook.changePassword(id),
        460,
        /changed their password/,
      ],
    ])(
      'when %s, then user and Page tokens answer 190 with its subcode, and a later login works',
      async (_name, act, subcode, message) => {
        const user = await longUserToken(sandbox.base);
        const page = pageToken(await pagesOf(sandbox.base, user), PAGES.sunny.id);
        act(ALEX.id);
        await expectGraphError(igUserUrl(sandbox.base, PAGES.sunny.ig), bearer(page), 190, subcode, message);
        await expectGraphError(`${graphBase(sandbox.base)}/me`, bearer(user), 190, subcode, message);
        const debug = await debugToken(sandbox.base, page);
        expect(debug.is_valid).toBe(false);
        expect(debug.error).toEqual({ code: 190, message: expect.stringMatching(message), subcode });
        const again = pageToken(await pagesOf(sandbox.base, await longUserToken(sandbox.base)), PAGES.sunny.id);
        expect((await getJson(igUserUrl(sandbox.base, PAGES.sunny.ig), bearer(again))).status).toBe(200);
      },
    );

    it('when the person loses their role on a Page, then only that Page’s tokens die (190/467) and it leaves the lists', async () => {
      const user = await longUserToken(sandbox.base);
      const pages = await pagesOf(sandbox.base, user);
      sandbox.control.facebook.removePageRole(ALEX.id, PAGES.sunny.id);
      await expectGraphError(
        igUserUrl(sandbox.base, PAGES.sunny.ig),
        bearer(pageToken(pages, PAGES.sunny.id)),
        190,
        467,
      );
      expect(
        (await getJson(igUserUrl(sandbox.base, PAGES.trail.ig), bearer(pageToken(pages, PAGES.trail.id)))).status,
      ).toBe(200);
      expect((await pagesOf(sandbox.base, user)).map((page) => page.id)).not.toContain(PAGES.sunny.id);
      const dialog = await (
        await fetch(
          `${sandbox.base}/facebook/v25.0/dialog/oauth?${new URLSearchParams({ client_id: FB_APP_ID, redirect_uri: 'https://app.example/auth/facebook/callback', response_type: 'code', scope: 'instagram_basic,pages_show_list' }).toString()}`,
        )
      ).text();
      expect(dialog).not.toContain(`value="${PAGES.sunny.id}"`);
    });

    it('when a token is unknown, then Graph answers 190 without subcode', async () => {
      await expectGraphError(
        igUserUrl(sandbox.base, PAGES.sunny.ig),
        bearer('EAAnope'),
        190,
        undefined,
        /Cannot parse access token/,
      );
    });
  });

  describe('debug_token', () => {
    it('when a long-lived user token is debugged, then its app, scopes, granular scopes, expiry and data access answer', async () => {
      const token = await longUserToken(sandbox.base, {
        params: { scope: 'instagram_basic,pages_show_list,business_management,instagram_manage_comments' },
        pages: [PAGES.sunny.id, PAGES.trail.id, PAGES.pixel.id],
        instagramAccounts: [PAGES.sunny.ig, PAGES.pixel.ig],
      });
      const now = Math.floor(sandbox.clock.now() / 1000);
      expect(await debugToken(sandbox.base, token)).toEqual({
        app_id: FB_APP_ID,
        type: 'USER',
        application: 'igconnect (sandbox)',
        data_access_expires_at: now + 90 * 86400,
        expires_at: now + 5183944,
        is_valid: true,
        issued_at: now,
        scopes: ['instagram_basic', 'pages_show_list', 'business_management', 'instagram_manage_comments'],
        granular_scopes: [
          { scope: 'instagram_basic', target_ids: [PAGES.sunny.ig, PAGES.pixel.ig] },
          { scope: 'pages_show_list', target_ids: [PAGES.sunny.id, PAGES.trail.id, PAGES.pixel.id] },
          { scope: 'instagram_manage_comments', target_ids: [PAGES.sunny.ig, PAGES.pixel.ig] },
        ],
        user_id: ALEX.id,
      });
      expect(sandbox.control.facebook.calls.fb_debug_token).toBe(1);
    });

    it('when the app token is APP_ID|APP_SECRET in a Bearer header, then it is accepted', async () => {
      const { userAccessToken } = sandbox.control.facebook.issueTokens(ALEX.id);
      const { status } = await getJson(
        `${graphBase(sandbox.base)}/debug_token?input_token=${userAccessToken}`,
        bearer(APP_TOKEN),
      );
      expect(status).toBe(200);
    });

    it('when the app token is missing, wrong, or a user token, then debug_token answers 190', async () => {
      const { userAccessToken } = sandbox.control.facebook.issueTokens(ALEX.id);
      const url = `${graphBase(sandbox.base)}/debug_token?input_token=${userAccessToken}`;
      await expectGraphError(url, {}, 190, undefined);
      await expectGraphError(`${url}&access_token=${FB_APP_ID}|wrong`, {}, 190, undefined);
      await expectGraphError(`${url}&access_token=${userAccessToken}`, {}, 190, undefined);
      await expectGraphError(
        `${graphBase(sandbox.base)}/debug_token?access_token=${APP_TOKEN}`,
        {},
        100,
        undefined,
        /input_token/,
      );
    });

    it('when the input token is unknown, then debug_token answers 200 with is_valid false', async () => {
      const { status, body } = await getJson(
        `${graphBase(sandbox.base)}/debug_token?input_token=EAAnope&access_token=${APP_TOKEN}`,
      );
      expect(status).toBe(200);
      expect(body).toEqual({
        data: { error: { code: 190, message: expect.any(String) }, is_valid: false, scopes: [] },
      });
    });
  });

  describe('data access expiry', () => {
    it('when 90 days pass after the last authorization, then Page and user tokens answer 190, and a new login restores them', async () => {
      const user = await longUserToken(sandbox.base);
      const page = pageToken(await pagesOf(sandbox.base, user), PAGES.sunny.id);
      const expiresAt = sandbox.control.facebook.dataAccessExpiresAt(ALEX.id) ?? 0;
      expect((await debugToken(sandbox.base, page)).data_access_expires_at).toBe(Math.floor(expiresAt / 1000));
      sandbox.clock.advance(90 * DAY - MINUTE);
      expect((await getJson(igUserUrl(sandbox.base, PAGES.sunny.ig), bearer(page))).status).toBe(200);
      sandbox.clock.advance(MINUTE);
      await expectGraphError(
        igUserUrl(sandbox.base, PAGES.sunny.ig),
        bearer(page),
        190,
        463,
        /Data access has expired/,
      );
      const debug = await debugToken(sandbox.base, page);
      expect([debug.is_valid, debug.expires_at, debug.error?.subcode]).toEqual([false, 0, 463]);
      // Logging in again moves data access for every token of the person, the old Page token included.
      await shortUserToken(sandbox.base);
      expect((await getJson(igUserUrl(sandbox.base, PAGES.sunny.ig), bearer(page))).status).toBe(200);
      expect(sandbox.control.facebook.dataAccessExpiresAt(ALEX.id)).toBe(sandbox.clock.now() + 90 * DAY);
    });
  });

  describe('DELETE /{user-id}/permissions', () => {
    const permissionsUrl = (userId: string) => `${graphBase(sandbox.base)}/${userId}/permissions`;

    it('when the person’s user token deletes /me/permissions, then every token of the person answers 190/458', async () => {
      const user = await longUserToken(sandbox.base);
      const page = pageToken(await pagesOf(sandbox.base, user), PAGES.sunny.id);
      const response = await fetch(permissionsUrl('me'), { method: 'DELETE', ...bearer(user) });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ success: true });
      await expectGraphError(
        igUserUrl(sandbox.base, PAGES.sunny.ig),
        bearer(page),
        190,
        458,
        new RegExp(`not authorized application ${FB_APP_ID}`),
      );
      await expectGraphError(`${graphBase(sandbox.base)}/me`, bearer(user), 190, 458);
      expect((await debugToken(sandbox.base, user)).data_access_expires_at).toBe(0);
      expect(sandbox.control.facebook.calls.fb_permissions).toBe(1);
    });

    it('when the app token deletes a person’s permissions by id, then that person’s tokens die and others’ do not', async () => {
      const alex = sandbox.control.facebook.issueTokens(ALEX.id);
      const sam = sandbox.control.facebook.issueTokens(SAM.id);
      const response = await fetch(`${permissionsUrl(ALEX.id)}?access_token=${encodeURIComponent(APP_TOKEN)}`, {
        method: 'DELETE',
      });
      expect(await response.json()).toEqual({ success: true });
      expect(sandbox.control.facebook.tokenInfo(alex.userAccessToken)?.invalidated).toBe('app_removed');
      expect(sandbox.control.facebook.tokenInfo(sam.userAccessToken)?.invalidated).toBeUndefined();
    });

    it('when a user token deletes another person’s permissions, or an unknown id, then Graph refuses and nothing dies', async () => {
      const alex = sandbox.control.facebook.issueTokens(ALEX.id);
      const sam = sandbox.control.facebook.issueTokens(SAM.id);
      const other = await getJson(permissionsUrl(SAM.id), { method: 'DELETE', ...bearer(alex.userAccessToken) });
      expect([other.status, graphErrorOf(other.body).code, graphErrorOf(other.body).error_subcode]).toEqual([
        400, 100, 33,
      ]);
      const unknown = await getJson(
        `${permissionsUrl('10160000000000001')}?access_token=${encodeURIComponent(APP_TOKEN)}`,
        { method: 'DELETE' },
      );
      expect(graphErrorOf(unknown.body).error_subcode).toBe(33);
      const me = await getJson(`${permissionsUrl('me')}?access_token=${encodeURIComponent(APP_TOKEN)}`, {
        method: 'DELETE',
      });
      expect(graphErrorOf(me.body).code).toBe(2500);
      const none = await getJson(permissionsUrl('me'), { method: 'DELETE' });
      expect(graphErrorOf(none.body).code).toBe(104);
      expect(sandbox.control.facebook.tokenInfo(sam.userAccessToken)?.invalidated).toBeUndefined();
      expect(sandbox.control.facebook.tokenInfo(alex.userAccessToken)?.invalidated).toBeUndefined();
    });

    it('when a Page token deletes permissions, then Graph refuses it', async () => {
      const { pages } = sandbox.control.facebook.issueTokens(ALEX.id);
      const { body } = await getJson(permissionsUrl('me'), {
        method: 'DELETE',
        ...bearer(pages[0]?.accessToken ?? ''),
      });
      expect(graphErrorOf(body).error_subcode).toBe(33);
    });
  });

  describe('Graph 404 and failures', () => {
    it('when an unknown Graph path is asked, then Graph answers 2500 with 404 in its envelope', async () => {
      const { status, body, headers } = await getJson(`${graphBase(sandbox.base)}/me/friends/extra`);
      expect(status).toBe(404);
      expect(graphErrorOf(body).code).toBe(2500);
      expect(headers.get('x-app-usage')).toBeTruthy();
    });

    it('when a Graph query has a bad percent-encoding, then the answer is a Graph envelope, never a stack trace', async () => {
      const response = await fetch(`${graphBase(sandbox.base)}/%E0%A4%A/permissions`, { method: 'DELETE' });
      expect(response.status).toBe(400);
      const text = await response.text();
      expect(text).not.toMatch(/\n\s+at /);
      expect(graphErrorOf(JSON.parse(text)).code).toBe(100);
    });
  });
});
