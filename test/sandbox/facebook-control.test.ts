import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createSandbox,
  type FacebookEndpoint,
  SANDBOX_FACEBOOK_APP_ID,
  SANDBOX_FACEBOOK_APP_SECRET,
  type ScriptedResponse,
} from '../../src/sandbox/sandbox';
import { DAY, ManualClock } from '../../src/shared/clock';
import {
  ALEX,
  APP_TOKEN,
  bearer,
  dialogUrl,
  exchangeUrl,
  FB_APP_ID,
  FB_APP_SECRET,
  FB_REDIRECT_URI,
  graphBase,
  igUserUrl,
  longLivedUrl,
  MORGAN,
  PAGES,
  SAM,
} from './facebook-support';
import { getJson, graphErrorOf, postForm, type RunningSandbox, startSandbox } from './sandbox-support';

/** Records Meta-style callbacks posted to it. */
async function startReceiver(): Promise<{ url: string; bodies: string[]; paths: string[]; close(): Promise<void> }> {
  const bodies: string[] = [];
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      bodies.push(body);
      paths.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      res.end(
        req.url?.includes('data-deletion') ? '{"url":"https://app.example/deletion/x","confirmation_code":"x"}' : '{}',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    paths,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function decodeSignedRequest(body: string, secret: string): Record<string, unknown> {
  const signed = new URLSearchParams(body).get('signed_request') ?? '';
  const [signature, payload] = signed.split('.');
  expect(
    createHmac('sha256', secret)
      .update(payload ?? '')
      .digest('base64url'),
  ).toBe(signature);
  return JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('sandbox Facebook control: scripts, counters, seeding, callbacks, the accounts page', () => {
  let sandbox: RunningSandbox;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver();
    sandbox = await startSandbox({
      facebook: {
        clientId: FB_APP_ID,
        clientSecret: FB_APP_SECRET,
        redirectUris: [FB_REDIRECT_URI],
        callbacks: {
          deauthorizeUrl: `${receiver.url}/webhooks/facebook/deauthorize`,
          dataDeletionUrl: `${receiver.url}/webhooks/facebook/data-deletion`,
        },
      },
    });
  });
  afterAll(async () => {
    await sandbox.close();
    await receiver.close();
  });
  beforeEach(() => {
    sandbox.control.reset();
    receiver.bodies.length = 0;
    receiver.paths.length = 0;
  });

  const fb = () => sandbox.control.facebook;

  /** One request per endpoint, each answered by what was scripted for it. */
  const REQUESTS: Record<FacebookEndpoint, () => Promise<Response>> = {
    fb_dialog: () => fetch(dialogUrl(sandbox.base), { redirect: 'manual' }),
    fb_token: () => fetch(exchangeUrl(sandbox.base, 'some-code')),
    fb_exchange: () => fetch(longLivedUrl(sandbox.base, 'EAAx')),
    fb_app_token: () =>
      fetch(
        `${graphBase(sandbox.base)}/oauth/access_token?grant_type=client_credentials&client_id=${FB_APP_ID}&client_secret=${FB_APP_SECRET}`,
      ),
    fb_me: () => fetch(`${graphBase(sandbox.base)}/me`),
    fb_accounts: () => fetch(`${graphBase(sandbox.base)}/me/accounts`),
    fb_ig_user: () => fetch(igUserUrl(sandbox.base, PAGES.sunny.ig)),
    fb_debug_token: () => fetch(`${graphBase(sandbox.base)}/debug_token?input_token=x&access_token=${APP_TOKEN}`),
    fb_permissions: () => fetch(`${graphBase(sandbox.base)}/me/permissions`, { method: 'DELETE' }),
    fb_oembed: () => fetch(`${graphBase(sandbox.base)}/instagram_oembed?url=x&access_token=${APP_TOKEN}`),
  };

  it.each(Object.keys(REQUESTS) as FacebookEndpoint[])(
    'when %s is scripted twice, then its next two calls answer the scripts in order, then the normal answer',
    async (endpoint) => {
      fb().script(endpoint, { status: 503, body: '{"oops":', headers: { 'Retry-After': '7' } });
      fb().script(endpoint, fb().graphError(4, undefined, undefined, 'OAuthException'));
      const first = await REQUESTS[endpoint]();
      expect([first.status, first.headers.get('retry-after'), await first.text()]).toEqual([503, '7', '{"oops":']);
      const second = await REQUESTS[endpoint]();
      expect(graphErrorOf(await second.json()).code).toBe(4);
      const third = await REQUESTS[endpoint]();
      expect(third.status).not.toBe(503);
      expect(await third.text()).not.toContain('Application request limit reached');
      expect(fb().calls[endpoint]).toBe(3);
      const others = Object.entries(fb().calls).filter(([name]) => name !== endpoint);
      expect(others.every(([, count]) => count === 0)).toBe(true);
    },
  );

  it('when an unknown endpoint is scripted, then it throws', () => {
    expect(() => fb().script('fb_nope' as FacebookEndpoint, {})).toThrow(/unknown sandbox endpoint/);
  });

  it('when a scripted delay has no status, then the normal answer comes after it', async () => {
    const { userAccessToken } = fb().issueTokens(ALEX.id);
    fb().script('fb_me', { delayMs: 120 } satisfies ScriptedResponse);
    const started = Date.now();
    const response = await fetch(`${graphBase(sandbox.base)}/me`, bearer(userAccessToken));
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('when the whole sandbox is reset, then Facebook scripts, counters, tokens, roles and authorizations are gone', async () => {
    const seeded = fb().issueTokens(ALEX.id);
    fb().removePageRole(ALEX.id, PAGES.sunny.id);
    fb().script('fb_me', { status: 500 });
    await fetch(`${graphBase(sandbox.base)}/debug_token`);
    const calls = fb().calls;
    sandbox.control.reset();
    expect(fb().tokenInfo(seeded.userAccessToken)).toBeUndefined();
    expect(fb().dataAccessExpiresAt(ALEX.id)).toBeUndefined();
    expect(Object.values(calls).every((count) => count === 0)).toBe(true);
    const again = fb().issueTokens(ALEX.id);
    expect(again.pages.map((page) => page.id)).toContain(PAGES.sunny.id);
    expect((await fetch(`${graphBase(sandbox.base)}/me`, bearer(again.userAccessToken))).status).toBe(200);
  });

  it('when Facebook counters are reset alone, then Instagram’s are left as they were', async () => {
    await fetch(`${sandbox.base}/graph/v25.0/me`);
    await fetch(`${graphBase(sandbox.base)}/me`);
    fb().resetCalls();
    expect(fb().calls.fb_me).toBe(0);
    expect(sandbox.control.calls.me).toBe(1);
  });

  it('when tokens are seeded, then the user token is long-lived, Page tokens never expire, and data access runs 90 days', async () => {
    const seeded = fb().issueTokens(ALEX.id, { issuedAt: sandbox.clock.now() - DAY });
    expect(seeded.pages.map((page) => [page.id, page.instagramBusinessAccountId])).toEqual([
      [PAGES.sunny.id, PAGES.sunny.ig],
      [PAGES.trail.id, PAGES.trail.ig],
      [PAGES.corner.id, undefined],
      [PAGES.pixel.id, PAGES.pixel.ig],
    ]);
    expect(fb().tokenInfo(seeded.userAccessToken)).toMatchObject({ type: 'USER', lifetime: 'long' });
    expect(seeded.userTokenExpiresAt).toBe(sandbox.clock.now() - DAY + 5183944 * 1000);
    expect(fb().tokenInfo(seeded.pages[0]?.accessToken ?? '')).toMatchObject({
      type: 'PAGE',
      expiresAt: null,
      pageId: PAGES.sunny.id,
    });
    expect(fb().dataAccessExpiresAt(ALEX.id)).toBe(sandbox.clock.now() - DAY + 90 * DAY);
    const profile = await getJson(
      igUserUrl(sandbox.base, PAGES.sunny.ig, 'username'),
      bearer(seeded.pages[0]?.accessToken ?? ''),
    );
    expect(profile.body).toEqual({ username: 'sunny.bakery', id: PAGES.sunny.ig });
  });

  it('when seeding leaves out business_management or names Pages, then the grant follows', () => {
    const seeded = fb().issueTokens(ALEX.id, { scopes: ['instagram_basic', 'pages_show_list'] });
    expect(seeded.pages.map((page) => page.id)).not.toContain(PAGES.pixel.id);
    const one = fb().issueTokens(ALEX.id, { pageIds: [PAGES.trail.id], lifetime: 'short' });
    expect(one.pages.map((page) => page.id)).toEqual([PAGES.trail.id]);
    expect(fb().tokenInfo(one.pages[0]?.accessToken ?? '')?.expiresAt).toBe(sandbox.clock.now() + 3600 * 1000);
    expect(() => fb().issueTokens(ALEX.id, { pageIds: [PAGES.harbor.id] })).toThrow(/has no Page/);
  });

  it('when an Instagram account behind a Page is renamed, then the Graph answers with the new name, same id', async () => {
    const seeded = fb().issueTokens(ALEX.id, { pageIds: [PAGES.sunny.id] });
    const changed = fb().updateInstagramAccount(PAGES.sunny.ig, { username: 'renamed.bakery', name: 'Renamed' });
    expect(changed).toMatchObject({ id: PAGES.sunny.ig, username: 'renamed.bakery', name: 'Renamed' });
    const profile = await getJson(
      igUserUrl(sandbox.base, PAGES.sunny.ig, 'username,name'),
      bearer(seeded.pages[0]?.accessToken ?? ''),
    );
    expect(profile.body).toEqual({ username: 'renamed.bakery', name: 'Renamed', id: PAGES.sunny.ig });
    expect(() => fb().updateInstagramAccount(PAGES.harbor.ig.replace(/3$/, '5'), { username: 'x' })).toThrow(
      /no sandbox Instagram account/,
    );
    sandbox.control.reset();
    expect(fb().people()[0]?.pages[0]?.instagram?.username).toBe('sunny.bakery');
  });

  it('when an unknown person id is used, then control methods throw', async () => {
    expect(() => fb().revokeTokens('123')).toThrow(/no sandbox Facebook person/);
    expect(() => fb().issueTokens('123')).toThrow(/no sandbox Facebook person/);
    expect(() => fb().removePageRole(ALEX.id, PAGES.harbor.id)).toThrow(/has no Page/);
    await expect(fb().removeApp('123')).rejects.toThrow(/no sandbox Facebook person/);
  });

  it('when people() is mutated by a caller, then the sandbox is not', () => {
    const people = fb().people();
    const page = people[0]?.pages[0];
    if (page?.instagram) page.instagram.username = 'hacked';
    expect(fb().people()[0]?.pages[0]?.instagram?.username).toBe('sunny.bakery');
    expect(fb().appId).toBe(FB_APP_ID);
    expect(fb().appAccessToken()).toBe(APP_TOKEN);
  });

  it('when the app is removed, then tokens answer 190/458 and a deauthorize signed with the Facebook secret names the person', async () => {
    const seeded = fb().issueTokens(ALEX.id);
    const answer = await fb().removeApp(ALEX.id);
    expect(answer?.status).toBe(200);
    expect(fb().tokenInfo(seeded.pages[0]?.accessToken ?? '')?.invalidated).toBe('app_removed');
    expect(receiver.paths).toEqual(['/webhooks/facebook/deauthorize']);
    const payload = decodeSignedRequest(receiver.bodies[0] ?? '', FB_APP_SECRET);
    expect(payload).toEqual({
      algorithm: 'HMAC-SHA256',
      issued_at: Math.floor(sandbox.clock.now() / 1000),
      user_id: ALEX.id,
    });
    const { body } = await getJson(igUserUrl(sandbox.base, PAGES.sunny.ig), bearer(seeded.pages[0]?.accessToken ?? ''));
    expect(graphErrorOf(body).error_subcode).toBe(458);
  });

  it('when a data deletion is requested, then the signed request goes to the data-deletion URL and its answer is returned', async () => {
    const answer = await fb().requestDataDeletion(SAM.id);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ url: 'https://app.example/deletion/x', confirmation_code: 'x' });
    expect(receiver.paths).toEqual(['/webhooks/facebook/data-deletion']);
    expect(decodeSignedRequest(receiver.bodies[0] ?? '', FB_APP_SECRET).user_id).toBe(SAM.id);
  });

  describe('accounts page', () => {
    it('when the accounts page is shown, then every Facebook person and Page is listed with its buttons', async () => {
      const html = await (await fetch(`${sandbox.base}/accounts`)).text();
      expect(html).toContain('Facebook test people');
      for (const person of fb().people()) {
        expect(html).toContain(`data-facebook-user-id="${person.id}"`);
        for (const action of ['revoke', 'password', 'remove', 'delete-data']) {
          expect(html).toContain(`action="/sandbox/accounts/facebook/${person.id}/${action}"`);
        }
        for (const page of person.pages) {
          expect(html).toContain(`action="/sandbox/accounts/facebook/${person.id}/pages/${page.id}/remove-role"`);
        }
      }
      expect(html).toContain('@pixel.garden.studio');
      expect(html).toContain('no Instagram account');
      expect(html).toContain('business-owned');
      expect(html).toContain('no role on the app');
      // The Instagram accounts are still there.
      expect(html).toContain('action="/sandbox/accounts/17841405793187219/revoke"');
    });

    it('when a person’s button is pressed, then it acts and the page says so', async () => {
      const seeded = fb().issueTokens(SAM.id);
      const response = await postForm(`${sandbox.base}/accounts/facebook/${SAM.id}/password`, '');
      expect(response.status).toBe(303);
      const location = response.headers.get('location') ?? '';
      expect(location).toBe(`/sandbox/accounts?notice=fb-password:${SAM.id}`);
      expect(fb().tokenInfo(seeded.userAccessToken)?.invalidated).toBe('password_changed');
      const page = await (await fetch(`${sandbox.base.replace('/sandbox', '')}${location}`)).text();
      expect(page).toContain('Simulated a Facebook password change (tokens invalidated) for Sam Okafor.');
    });

    it('when "Remove app" is pressed, then the deauthorize callback is sent', async () => {
      const response = await postForm(`${sandbox.base}/accounts/facebook/${ALEX.id}/remove`, '');
      expect(response.status).toBe(303);
      expect(receiver.paths).toEqual(['/webhooks/facebook/deauthorize']);
    });

    it('when a Page role is removed from the page, then that Page is marked and its tokens die', async () => {
      const seeded = fb().issueTokens(ALEX.id);
      const response = await postForm(
        `${sandbox.base}/accounts/facebook/${ALEX.id}/pages/${PAGES.trail.id}/remove-role`,
        '',
      );
      expect(response.status).toBe(303);
      const trail = seeded.pages.find((page) => page.id === PAGES.trail.id)?.accessToken ?? '';
      expect(fb().tokenInfo(trail)?.invalidated).toBe('revoked');
      const html = await (
        await fetch(`${sandbox.base.replace('/sandbox', '')}${response.headers.get('location') ?? ''}`)
      ).text();
      expect(html).toContain('Alex Rivera no longer has a role on the Page Trail Runner Jo');
      expect(html).toContain('role removed');
    });

    it('when a button is posted cross-site, or names an unknown person or action, then it is refused', async () => {
      const crossSite = await fetch(`${sandbox.base}/accounts/facebook/${ALEX.id}/revoke`, {
        method: 'POST',
        headers: { 'Sec-Fetch-Site': 'cross-site' },
      });
      expect(crossSite.status).toBe(403);
      const roleCrossSite = await fetch(
        `${sandbox.base}/accounts/facebook/${ALEX.id}/pages/${PAGES.sunny.id}/remove-role`,
        {
          method: 'POST',
          headers: { 'Sec-Fetch-Site': 'cross-site' },
        },
      );
      expect(roleCrossSite.status).toBe(403);
      expect((await postForm(`${sandbox.base}/accounts/facebook/123/revoke`, '')).status).toBe(404);
      expect((await postForm(`${sandbox.base}/accounts/facebook/${ALEX.id}/explode`, '')).status).toBe(404);
      expect(
        (await postForm(`${sandbox.base}/accounts/facebook/${SAM.id}/pages/${PAGES.sunny.id}/remove-role`, '')).status,
      ).toBe(404);
      expect(fb().people().length).toBe(3);
      expect(fb().tokenInfo('x')).toBeUndefined();
    });
  });
});

describe('sandbox Facebook surface without Facebook options or callbacks', () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('when no Facebook options are given, then the built-in app id and secret are accepted and no redirect URI is', async () => {
    expect(sandbox.control.facebook.appId).toBe(SANDBOX_FACEBOOK_APP_ID);
    const appToken = `${SANDBOX_FACEBOOK_APP_ID}|${SANDBOX_FACEBOOK_APP_SECRET}`;
    const { status } = await getJson(
      `${graphBase(sandbox.base)}/instagram_oembed?url=${encodeURIComponent('https://www.instagram.com/p/C7sUnNyBk01/')}&access_token=${encodeURIComponent(appToken)}`,
    );
    expect(status).toBe(200);
    const dialog = await fetch(dialogUrl(sandbox.base, { client_id: SANDBOX_FACEBOOK_APP_ID }));
    expect(dialog.status).toBe(400);
    expect(await dialog.text()).toContain('URL blocked');
  });

  it('when no callback URLs are configured, then removeApp still invalidates and the data-deletion button says why it failed', async () => {
    const seeded = sandbox.control.facebook.issueTokens(ALEX.id);
    expect(await sandbox.control.facebook.removeApp(ALEX.id)).toBeUndefined();
    expect(sandbox.control.facebook.tokenInfo(seeded.userAccessToken)?.invalidated).toBe('app_removed');
    await expect(sandbox.control.facebook.requestDataDeletion(ALEX.id)).rejects.toThrow(/no callback URLs/);
    const response = await postForm(`${sandbox.base}/accounts/facebook/${MORGAN.id}/delete-data`, '');
    expect(response.status).toBe(502);
    const html = await response.text();
    expect(html).toContain('The callback was not delivered');
    expect(html).not.toMatch(/\n\s+at /);
  });
});

describe('sandbox Facebook people validation', () => {
  const base = {
    clock: new ManualClock(),
    clientId: '1',
    clientSecret: 's',
    redirectUris: [],
    basePath: '/sandbox',
    publicUrl: 'http://localhost:3000',
  };

  it('when people carry ids that are not decimal digits, or one id twice, then createSandbox refuses them', () => {
    const page = { id: '1', name: 'P', category: 'c', businessOwned: false };
    expect(() =>
      createSandbox({
        ...base,
        facebook: { redirectUris: [], people: [{ id: '1e3', name: 'x', tester: true, pages: [] }] },
      }),
    ).toThrow(/decimal digits/);
    expect(() =>
      createSandbox({
        ...base,
        facebook: { redirectUris: [], people: [{ id: '1', name: 'x', tester: true, pages: [page] }] },
      }),
    ).toThrow(/used twice/);
    expect(() => createSandbox({ ...base, facebook: { redirectUris: [], people: [] } })).toThrow(/at least one person/);
  });
});
