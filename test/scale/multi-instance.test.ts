import { ODD_ACCOUNT } from '../support/harness';
import { createTestDatabase, describeOnPostgres, type TestDatabase } from '../support/postgres';
import {
  Browser,
  connectAcross,
  type RunningProcess,
  type SandboxProcess,
  sharedSecrets,
  startSandboxProcess,
  startWebProcess,
} from '../support/processes';

/**
 * Two igconnect processes on one PostgreSQL database, behind an imaginary balancer (one PUBLIC_URL,
 * shared secrets), talking to one standalone sandbox process. Nothing is sticky: any request may land on
 * either instance.
 */
describeOnPostgres('several instances on one PostgreSQL', () => {
  const PUBLIC_URL = 'http://igconnect.lb.test';
  let database: TestDatabase;
  let sandbox: SandboxProcess;
  let a: RunningProcess;
  let b: RunningProcess;

  beforeAll(async () => {
    database = await createTestDatabase();
    sandbox = await startSandboxProcess([`${PUBLIC_URL}/auth/instagram/callback`]);
    const env = { ...sharedSecrets(), ...sandbox.instagramEnv, PUBLIC_URL, DATABASE_URL: database.url };
    // Both start (and migrate) at the same time, as a rolling deploy of a fresh database would.
    [a, b] = await Promise.all([startWebProcess(env), startWebProcess(env)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), sandbox?.stop()]);
    await database?.drop();
  });

  afterEach(() => {
    for (const p of [a, b]) expect(p.output()).not.toMatch(/unexpected error|"level":50/);
  });

  const accountPage = (browser: Browser, origin: string) => browser.get(`${origin}/account`);

  it('when a flow starts on instance A and its callback lands on B, then it completes and both show the account', async () => {
    const browser = new Browser();
    const callback = await connectAcross(browser, {
      startOrigin: a.url,
      callbackOrigin: b.url,
      account: ODD_ACCOUNT.igUserId,
    });
    expect(callback.status).toBe(303);
    expect(callback.location).toBe('/account');
    for (const origin of [a.url, b.url]) {
      const page = await accountPage(browser, origin);
      expect(page.status).toBe(200);
      expect(page.text).toContain(`data-instagram-user-id="${ODD_ACCOUNT.igUserId}"`);
    }
    const calls = await sandbox.calls();
    expect(calls.token).toBe(1);
    expect(calls.exchange).toBe(1);
  });

  it('when the same callback is replayed on the other instance, then no second token request is made', async () => {
    const browser = new Browser();
    const start = await browser.get(`${a.url}/auth/instagram`);
    const consent = await browser.get(start.location ?? '');
    const request = /name="request"\s+value="([^"]+)"/.exec(consent.text)?.[1] ?? '';
    const decided = await browser.postForm(`${sandbox.url}/oauth/authorize`, { request, decision: 'allow' });
    const callback = new URL(decided.location ?? '');
    const before = (await sandbox.calls()).token ?? 0;
    const results = await Promise.all(
      [a.url, b.url, a.url, b.url].map((origin) => browser.get(`${origin}${callback.pathname}${callback.search}`)),
    );
    expect(results.filter((r) => r.status === 303)).toHaveLength(1);
    expect((await sandbox.calls()).token).toBe(before + 1);
  });

  it('when an account is disconnected on A, then B no longer shows it on the very next request', async () => {
    const browser = new Browser();
    await connectAcross(browser, { startOrigin: b.url, callbackOrigin: a.url });
    const onA = await accountPage(browser, a.url);
    const form =
      /action="\/account\/connections\/([0-9a-f-]{36})\/disconnect"[\s\S]*?name="_csrf" value="([^"]+)"/.exec(onA.text);
    expect(form).not.toBeNull();
    const [, id = '', csrf = ''] = form ?? [];
    expect((await accountPage(browser, b.url)).text).toContain(`/account/connections/${id}/disconnect`);

    const disconnected = await browser.postForm(`${a.url}/account/connections/${id}/disconnect`, { _csrf: csrf });
    expect(disconnected.status).toBe(303);
    const onB = await accountPage(browser, b.url);
    expect(onB.status).toBe(200);
    expect(onB.text).not.toContain(id);
    expect(onB.text).toContain('The account was disconnected'); // the flash set on A is shown by B: the session is shared
  });

  it('when a browser signs out on B, then A treats it as signed out too', async () => {
    const browser = new Browser();
    await connectAcross(browser, { startOrigin: a.url, callbackOrigin: a.url });
    const page = await accountPage(browser, b.url);
    const csrf = /action="\/logout"[\s\S]*?name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    expect((await browser.postForm(`${b.url}/logout`, { _csrf: csrf })).status).toBe(303);
    const after = await accountPage(browser, a.url);
    expect(after.text).not.toContain('data-instagram-user-id');
  });
});
