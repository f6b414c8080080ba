import { spawnSync } from 'node:child_process';
import { ODD_ACCOUNT } from '../support/harness';
import { SANDBOX_ENTRY, type SandboxProcess, startSandboxProcess } from '../support/processes';

/** `npm run sandbox`: the sandbox as a process of its own, shared by several app instances. */
describe('standalone sandbox server', () => {
  let sandbox: SandboxProcess;

  beforeAll(async () => {
    sandbox = await startSandboxProcess(
      ['http://igconnect.lb.test/auth/instagram/callback'],
      ['http://igconnect.lb.test/auth/facebook/callback'],
    );
  });
  afterAll(async () => {
    await sandbox?.stop();
  });

  it('when a test mints a token over the control routes, then the Graph API accepts it and the calls are counted', async () => {
    await fetch(`${sandbox.url}/_control/calls/reset`, { method: 'POST' });
    const minted = await fetch(`${sandbox.url}/_control/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ account: ODD_ACCOUNT.igUserId }),
    });
    expect(minted.status).toBe(201);
    const { access_token: token } = (await minted.json()) as { access_token: string };
    const me = await fetch(`${sandbox.url}/graph/v25.0/me?fields=user_id`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(me.status).toBe(200);
    expect(await me.text()).toContain(ODD_ACCOUNT.igUserId);
    expect((await sandbox.calls()).me).toBe(1);
  });

  it('when a test moves the sandbox clock ahead, then its tokens age: a fresh token becomes refreshable', async () => {
    const minted = await fetch(`${sandbox.url}/_control/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ account: ODD_ACCOUNT.igUserId }),
    });
    const { access_token: token } = (await minted.json()) as { access_token: string };
    const refresh = () =>
      fetch(`${sandbox.url}/graph/refresh_access_token?grant_type=ig_refresh_token&access_token=${token}`);
    expect((await refresh()).status).toBe(400); // younger than 24 hours
    const before = ((await (await fetch(`${sandbox.url}/_control/clock`)).json()) as { now: number }).now;
    const moved = await fetch(`${sandbox.url}/_control/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceMs: 25 * 3_600_000 }),
    });
    expect(((await moved.json()) as { now: number }).now).toBeGreaterThanOrEqual(before + 25 * 3_600_000);
    expect((await refresh()).status).toBe(200);
    const backwards = await fetch(`${sandbox.url}/_control/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceMs: -1 }),
    });
    expect(backwards.status).toBe(400);
  });

  it('when the control routes get a malformed or unknown account, then they answer 400 and 404', async () => {
    const post = (body: string) =>
      fetch(`${sandbox.url}/_control/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    expect((await post('{"account": 17}')).status).toBe(400);
    expect((await post('{"account": "17841400000000001"}')).status).toBe(404);
  });

  it('when the authorize URL carries the registered redirect URI, then the consent screen is shown', async () => {
    const url = new URL(`${sandbox.url}/oauth/authorize`);
    url.search = new URLSearchParams({
      client_id: sandbox.appId,
      redirect_uri: 'http://igconnect.lb.test/auth/instagram/callback',
      response_type: 'code',
      scope: 'instagram_business_basic',
      state: 's'.repeat(43),
    }).toString();
    const consent = await fetch(url);
    expect(consent.status).toBe(200);
    expect(await consent.text()).toContain('name="request"');
  });

  it('when a test mints Facebook tokens over the control routes, then the Page token reads its Instagram account and calls are counted', async () => {
    await fetch(`${sandbox.url}/_control/facebook/calls/reset`, { method: 'POST' });
    const minted = await fetch(`${sandbox.url}/_control/facebook/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ person: '10160123456789013' }),
    });
    expect(minted.status).toBe(201);
    const seeded = (await minted.json()) as {
      user_access_token: string;
      pages: Array<{ id: string; access_token: string; instagram_business_account_id: string | null }>;
    };
    expect(seeded.user_access_token).toMatch(/^EAA/);
    const sunny = seeded.pages.find((page) => page.instagram_business_account_id === ODD_ACCOUNT.igUserId);
    const profile = await fetch(`${sandbox.url}/facebook/graph/v25.0/${ODD_ACCOUNT.igUserId}?fields=username`, {
      headers: { authorization: `Bearer ${sunny?.access_token ?? ''}` },
    });
    expect(profile.status).toBe(200);
    expect(await profile.json()).toEqual({ username: 'sunny.bakery', id: ODD_ACCOUNT.igUserId });
    expect((await sandbox.facebookCalls()).fb_ig_user).toBe(1);
    const bad = await fetch(`${sandbox.url}/_control/facebook/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"person": 10160123456789013}',
    });
    expect(bad.status).toBe(400);
    const unknown = await fetch(`${sandbox.url}/_control/facebook/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"person": "10160000000000001"}',
    });
    expect(unknown.status).toBe(404);
  });

  it('when the Facebook dialog URL carries the registered Facebook redirect URI and app id, then the consent screen is shown', async () => {
    const url = new URL(sandbox.facebookEnv.FACEBOOK_AUTHORIZE_URL ?? '');
    url.search = new URLSearchParams({
      client_id: sandbox.facebookEnv.FACEBOOK_APP_ID ?? '',
      redirect_uri: 'http://igconnect.lb.test/auth/facebook/callback',
      response_type: 'code',
      config_id: '123',
      state: 's'.repeat(43),
    }).toString();
    const consent = await fetch(url);
    expect(consent.status).toBe(200);
    expect(await consent.text()).toContain('name="pages"');
    const appToken = `${sandbox.facebookEnv.FACEBOOK_APP_ID ?? ''}|${sandbox.facebookEnv.FACEBOOK_APP_SECRET ?? ''}`;
    const oembed = await fetch(
      `${sandbox.facebookEnv.FACEBOOK_GRAPH_URL ?? ''}/v25.0/instagram_oembed?url=${encodeURIComponent('https://www.instagram.com/p/C7sUnNyBk01/')}`,
      { headers: { authorization: `Bearer ${appToken}` } },
    );
    expect(oembed.status).toBe(200);
  });

  it('when FACEBOOK_APP_ID is not numeric, then the sandbox refuses to start and says so', () => {
    const result = spawnSync(process.execPath, [SANDBOX_ENTRY], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        SANDBOX_PORT: '0',
        FACEBOOK_APP_ID: 'sandbox',
        SANDBOX_FACEBOOK_REDIRECT_URIS: 'not a url',
      },
      encoding: 'utf8',
      timeout: 15000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('FACEBOOK_APP_ID must be numeric');
    expect(result.stderr).toContain('SANDBOX_FACEBOOK_REDIRECT_URIS: "not a url" is not an absolute http(s) URL');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('when started with NODE_ENV=production, then it refuses without a stack trace', () => {
    const result = spawnSync(process.execPath, [SANDBOX_ENTRY], {
      env: { PATH: process.env.PATH, NODE_ENV: 'production', SANDBOX_PORT: '0' },
      encoding: 'utf8',
      timeout: 15000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('the sandbox never runs with NODE_ENV=production');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
