import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createSandbox, graphError, tokenError } from '../../src/sandbox/sandbox';
import { ManualClock } from '../../src/shared/clock';
import {
  authorizeUrl,
  CLIENT_ID,
  CLIENT_SECRET,
  codeFor,
  getJson,
  graphErrorOf,
  ODD,
  postForm,
  REDIRECT_URI,
  type RunningSandbox,
  startSandbox,
  tokenForm,
} from './sandbox-support';

describe('sandbox control: scripts, counters, pages', () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => sandbox.control.reset());

  const meUrl = () =>
    `${sandbox.base}/graph/v25.0/me?fields=username&access_token=${sandbox.control.issueLongLivedToken(ODD.igUserId)}`;

  it('when a status, raw body and headers are scripted, then the next call answers exactly that once', async () => {
    sandbox.control.script('me', { status: 502, body: '{"oops":', headers: { 'Retry-After': '7' } });
    const scripted = await fetch(meUrl());
    expect(scripted.status).toBe(502);
    expect(scripted.headers.get('retry-after')).toBe('7');
    expect(scripted.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await scripted.text()).toBe('{"oops":');
    expect((await fetch(meUrl())).status).toBe(200);
  });

  it('when several responses are scripted, then they answer in order (FIFO), one per call', async () => {
    sandbox.control.script('me', sandbox.control.graphError(4, undefined, undefined, 'IGApiException'));
    sandbox.control.script('me', sandbox.control.graphError(190, 460));
    const first = graphErrorOf((await getJson(meUrl())).body);
    const second = graphErrorOf((await getJson(meUrl())).body);
    expect([first.code, first.type]).toEqual([4, 'IGApiException']);
    expect([second.code, second.error_subcode, second.message]).toEqual([
      190,
      460,
      expect.stringMatching(/changed their password/),
    ]);
    expect((await getJson(meUrl())).status).toBe(200);
    expect(sandbox.control.calls.me).toBe(3);
  });

  it('when a token error is scripted, then the token endpoint answers it and the code is left unused', async () => {
    const code = await codeFor(sandbox.base);
    sandbox.control.script('token', tokenError('Insufficient developer role'));
    const scripted = await postForm(`${sandbox.base}/oauth/access_token`, tokenForm(code));
    expect(scripted.status).toBe(400);
    expect(await scripted.json()).toEqual({
      error_type: 'OAuthException',
      code: 400,
      error_message: 'Insufficient developer role',
    });
    expect((await postForm(`${sandbox.base}/oauth/access_token`, tokenForm(code))).status).toBe(200);
  });

  it('when only a delay is scripted, then the answer is normal but late', async () => {
    sandbox.control.script('exchange', { delayMs: 150 });
    const started = Date.now();
    const short = /"access_token":"([^"]+)"/.exec(
      await (await postForm(`${sandbox.base}/oauth/access_token`, tokenForm(await codeFor(sandbox.base)))).text(),
    )?.[1];
    const { status } = await getJson(
      `${sandbox.base}/graph/access_token?grant_type=ig_exchange_token&client_secret=${CLIENT_SECRET}&access_token=${short ?? ''}`,
    );
    expect(status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('when a delayed error is scripted, then it answers after the delay', async () => {
    sandbox.control.script('refresh', { ...graphError(2), delayMs: 100 });
    const started = Date.now();
    const { body } = await getJson(`${sandbox.base}/graph/refresh_access_token?grant_type=ig_refresh_token`);
    expect(graphErrorOf(body).code).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('when the client gives up during a scripted delay, then the sandbox stops waiting and answers nobody', async () => {
    sandbox.control.script('me', { delayMs: 5_000 });
    const started = Date.now();
    await expect(fetch(meUrl(), { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    // The next call is answered at once: nothing queued behind the abandoned one.
    expect((await fetch(meUrl())).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('when requests fail, then they are still counted, and resetCalls zeroes the counters in place', async () => {
    const calls = sandbox.control.calls;
    await fetch(authorizeUrl(sandbox.base, { client_id: 'wrong' }), { redirect: 'manual' });
    await postForm(`${sandbox.base}/oauth/access_token`, 'code=x');
    await fetch(`${sandbox.base}/graph/access_token`);
    await fetch(`${sandbox.base}/graph/refresh_access_token`);
    await fetch(`${sandbox.base}/graph/v1/me`);
    expect({ ...calls }).toEqual({ authorize: 1, token: 1, exchange: 1, refresh: 1, me: 1 });
    sandbox.control.resetCalls();
    expect({ ...calls }).toEqual({ authorize: 0, token: 0, exchange: 0, refresh: 0, me: 0 });
  });

  it('when reset is called, then scripts, tokens and profile changes are gone', async () => {
    const token = sandbox.control.issueLongLivedToken(ODD.igUserId);
    sandbox.control.script('me', { status: 500 });
    sandbox.control.setResponseShape('wrapped');
    sandbox.control.updateProfile(ODD.igUserId, { username: 'changed' });
    sandbox.control.reset();
    expect(sandbox.control.tokenInfo(token)).toBeUndefined();
    expect(sandbox.control.responseShape).toBe('flat');
    expect(sandbox.control.accounts()[0]?.username).toBe('sunny.bakery');
    const { status, body } = await getJson(meUrl());
    expect(status).toBe(200);
    expect(body).toEqual({ username: 'sunny.bakery', id: ODD.appScopedId });
  });

  it('when accounts() is mutated by a caller, then the sandbox is not', () => {
    const accounts = sandbox.control.accounts();
    if (accounts[0]) accounts[0].username = 'hacked';
    expect(sandbox.control.accounts()[0]?.username).toBe('sunny.bakery');
  });

  it('when an unknown account id is used, then control methods throw', () => {
    expect(() => sandbox.control.revokeTokens('123')).toThrow(/no sandbox account/);
    expect(() => sandbox.control.issueLongLivedToken('123')).toThrow(/no sandbox account/);
  });

  it('when the accounts page is shown, then every account has revoke and remove buttons', async () => {
    const response = await fetch(`${sandbox.base}/accounts`);
    expect(response.status).toBe(200);
    const html = await response.text();
    for (const account of sandbox.control.accounts()) {
      expect(html).toContain(`@${account.username}`);
      expect(html).toContain(`action="/sandbox/accounts/${account.igUserId}/revoke"`);
      expect(html).toContain(`action="/sandbox/accounts/${account.igUserId}/remove"`);
    }
    expect(html).toContain('Revoke tokens');
    expect(html).toContain('Remove app');
  });

  it('when "Revoke tokens" is pressed, then tokens die and the page redirects back with a notice', async () => {
    const token = sandbox.control.issueLongLivedToken(ODD.igUserId);
    const response = await postForm(`${sandbox.base}/accounts/${ODD.igUserId}/revoke`, '');
    expect(response.status).toBe(303);
    const location = response.headers.get('location') ?? '';
    expect(location).toBe(`/sandbox/accounts?notice=revoke:${ODD.igUserId}`);
    expect(sandbox.control.tokenInfo(token)?.invalidated).toBe('revoked');
    const page = await (await fetch(`${sandbox.base.replace('/sandbox', '')}${location}`)).text();
    expect(page).toContain('Revoked every token of @sunny.bakery.');
  });

  it('when "Remove app" is pressed, then removeApp runs with its hook', async () => {
    const seen: string[] = [];
    sandbox.control.onRemoveApp = (account) => {
      seen.push(account.username);
    };
    try {
      const token = sandbox.control.issueLongLivedToken(ODD.igUserId);
      const response = await postForm(`${sandbox.base}/accounts/${ODD.igUserId}/remove`, '');
      expect(response.status).toBe(303);
      expect(sandbox.control.tokenInfo(token)?.invalidated).toBe('app_removed');
      expect(seen).toEqual(['sunny.bakery']);
    } finally {
      delete sandbox.control.onRemoveApp;
    }
  });

  it('when an account button is posted cross-site, then it is refused', async () => {
    const response = await fetch(`${sandbox.base}/accounts/${ODD.igUserId}/revoke`, {
      method: 'POST',
      headers: { 'Sec-Fetch-Site': 'cross-site' },
    });
    expect(response.status).toBe(403);
  });

  it('when an avatar is asked, then a small SVG with the initial answers; unknown ids get 404', async () => {
    const response = await fetch(`${sandbox.base}/avatars/${ODD.igUserId}.svg`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    const svg = await response.text();
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('>S</text>');
    expect((await fetch(`${sandbox.base}/avatars/123.svg`)).status).toBe(404);
    expect((await fetch(`${sandbox.base}/avatars/${ODD.igUserId}.png`)).status).toBe(404);
  });

  it('when the stylesheet is asked, then the router serves it', async () => {
    const response = await fetch(`${sandbox.base}/sandbox.css`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/css/);
    expect(await response.text()).toContain(':focus-visible');
  });

  it('when an unknown path outside /graph is asked, then plain text 404 answers', async () => {
    const response = await fetch(`${sandbox.base}/nope`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  });

  it('when the consent page is served standalone, then its CSP allows the cross-origin redirect back', async () => {
    const response = await fetch(authorizeUrl(sandbox.base));
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('form-action');
  });
});

describe('sandbox router mounted inside another app', () => {
  it('when createSandbox is mounted at /sandbox, then it serves the flow and uses the public URL for avatars', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { router, control } = createSandbox({
      clock: new ManualClock(Date.UTC(2026, 0, 1)),
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [REDIRECT_URI],
      basePath: '/sandbox/',
      publicUrl: `${origin}/`,
      responseShape: 'wrapped',
    });
    const app = express();
    app.use('/sandbox', router);
    server.on('request', app);
    try {
      const token = control.issueLongLivedToken(ODD.igUserId);
      const { body } = await getJson(
        `${origin}/sandbox/graph/v25.0/me?fields=profile_picture_url&access_token=${token}`,
      );
      expect(body).toEqual({
        data: [{ profile_picture_url: `${origin}/sandbox/avatars/${ODD.igUserId}.svg`, id: ODD.appScopedId }],
      });
      const consent = await (await fetch(authorizeUrl(`${origin}/sandbox`))).text();
      expect(consent).toContain('action="/sandbox/oauth/authorize"');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('when accounts carry ids that are not decimal digits, then createSandbox refuses them', () => {
    expect(() =>
      createSandbox({
        clock: new ManualClock(),
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        redirectUris: [REDIRECT_URI],
        basePath: '/sandbox',
        publicUrl: 'http://localhost:3000',
        accounts: [
          {
            appScopedId: '12e3',
            igUserId: '17841400000000001',
            username: 'x',
            name: 'X',
            accountType: 'BUSINESS',
            followersCount: 0,
            mediaCount: 0,
            tester: true,
          },
        ],
      }),
    ).toThrow(/decimal digits/);
  });
});
