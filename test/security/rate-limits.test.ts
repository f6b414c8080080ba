import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DEFAULT_RELIABILITY } from '../../src/config/reliability-config';
import { MINUTE } from '../../src/shared/clock';
import { pathOf, startTestApp, type TestApp } from '../support/harness';
import { FACEBOOK, INSTAGRAM, PROVIDERS } from '../support/providers';

/**
 * Rate limits on the start route, the callback and webhooks: counted in the database per client
 * address and window, so they hold across instances and cannot be reset by a forged header.
 */
describe.each(PROVIDERS)('security: rate limits (%s)', (_name, p) => {
  let app: TestApp;
  const start = p.startPath;
  const deauthorize = p.webhookPath('deauthorize');

  beforeEach(async () => {
    app = await startTestApp({
      env: { ...p.env, RATE_LIMIT_START: '3', RATE_LIMIT_CALLBACK: '3', RATE_LIMIT_WEBHOOKS: '3' },
    });
  });
  afterEach(async () => {
    await app.close();
  });

  const transactions = async () =>
    (await app.container.db.selectFrom('oauth_transactions').selectAll().execute()).length;

  it('when one address starts more attempts than allowed, then it gets a 429 page with Retry-After and nothing is created', async () => {
    for (let i = 0; i < 3; i++) expect((await app.agent().get(start)).status).toBe(302);
    const refused = await app.agent().get(start);
    expect(refused.status).toBe(429);
    expect(refused.text).toContain('data-error-code="RATE_LIMITED"');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.headers['set-cookie']).toBeUndefined();
    expect(await transactions()).toBe(3);
  });

  it('when one address hammers the callback, then the extra callbacks get 429 and never reach the token endpoint', async () => {
    const agent = app.agent();
    const url = await p.authorize(agent);
    for (let i = 0; i < 3; i++) await app.agent().get(`${p.callbackPath}?state=guess&code=x`);
    const refused = await agent.get(pathOf(url));
    expect(refused.status).toBe(429);
    expect(p.calls(app, 'code')).toBe(0);
  });

  it('when webhooks are hammered, then the extra calls get a JSON 429 whatever they accept, with no cookie', async () => {
    for (let i = 0; i < 3; i++) await app.agent().post(deauthorize);
    const refused = await app.agent().post(deauthorize).set('Accept', 'text/html');
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/application\/json/);
    expect(refused.body).toEqual({ error: { code: 'RATE_LIMITED' } });
    expect(refused.headers['retry-after']).toBeDefined();
    expect(refused.headers['set-cookie']).toBeUndefined();
  });

  it('when the window has passed, then the same address is allowed again', async () => {
    for (let i = 0; i < 4; i++) await app.agent().get(start);
    app.clock.advance(MINUTE);
    expect((await app.agent().get(start)).status).toBe(302);
  });

  it('when a client forges X-Forwarded-For without a trusted proxy, then it cannot escape its count', async () => {
    for (let i = 0; i < 3; i++) await app.agent().get(start).set('X-Forwarded-For', `203.0.113.${i}`);
    const refused = await app.agent().get(start).set('X-Forwarded-For', '198.51.100.7');
    expect(refused.status).toBe(429);
  });

  it('when ten requests race for the last three places, then exactly three get through', async () => {
    const responses = await Promise.all(Array.from({ length: 10 }, () => app.agent().get(start)));
    expect(responses.filter((r) => r.status === 302)).toHaveLength(3);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(7);
  });

  it('when many windows have passed, then their counters are swept without a timer', async () => {
    await app.agent().get(start);
    app.clock.advance(2 * MINUTE);
    // The sweep runs on every 200th counted request.
    for (let i = 0; i < 199; i++) {
      app.clock.advance(MINUTE);
      await app.agent().post(deauthorize);
    }
    const rows = await app.container.db.selectFrom('rate_limits').selectAll().execute();
    expect(rows.filter((r) => r.bucket.startsWith('auth-start|'))).toHaveLength(0);
    expect(rows.length).toBeLessThan(5);
  });
});

describe('security: rate limits across both ways in', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp({ env: { ...FACEBOOK.env, RATE_LIMIT_START: '3' } });
  });
  afterEach(async () => {
    await app.close();
  });

  it('when one address alternates between the start routes, then they share one count', async () => {
    expect((await app.agent().get(INSTAGRAM.startPath)).status).toBe(302);
    expect((await app.agent().get(FACEBOOK.startPath)).status).toBe(302);
    expect((await app.agent().get(INSTAGRAM.startPath)).status).toBe(302);
    expect((await app.agent().get(FACEBOOK.startPath)).status).toBe(429);
  });
});

// How clients are told apart and counted is the same for every route: these run on Instagram's start route.
describe('security: rate limits behind a trusted proxy and across instances', () => {
  let dir: string;
  let apps: TestApp[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'igconnect-rl-'));
  });
  afterEach(async () => {
    for (const app of apps) await app.close();
    apps = [];
    rmSync(dir, { recursive: true, force: true });
  });

  it('when clients behind a trusted proxy have different addresses, then each has its own count', async () => {
    const app = await startTestApp({ env: { RATE_LIMIT_START: '2', TRUST_PROXY: 'loopback' } });
    apps.push(app);
    const from = (ip: string) => app.agent().get('/auth/instagram').set('X-Forwarded-For', ip);
    await from('203.0.113.1');
    await from('203.0.113.1');
    expect((await from('203.0.113.1')).status).toBe(429);
    expect((await from('203.0.113.2')).status).toBe(302);
  });

  it('when two instances share one database, then they share one count', async () => {
    const env = { RATE_LIMIT_START: '2', DATABASE_URL: `sqlite:${join(dir, 'shared.db')}` };
    const first = await startTestApp({ env });
    apps.push(first);
    const second = await startTestApp({ env });
    apps.push(second);
    expect((await first.agent().get('/auth/instagram')).status).toBe(302);
    expect((await second.agent().get('/auth/instagram')).status).toBe(302);
    expect((await first.agent().get('/auth/instagram')).status).toBe(429);
  });

  it('when a limit is set to 0, then that route is not limited', async () => {
    const app = await startTestApp({ env: { RATE_LIMIT_START: '0' } });
    apps.push(app);
    const responses = await Promise.all(Array.from({ length: 40 }, () => app.agent().get('/auth/instagram')));
    expect(responses.every((r) => r.status === 302)).toBe(true);
  });
});

describe('security: rate limits for people sharing an address', () => {
  let app: TestApp;

  afterEach(async () => {
    await app.close();
  });

  /** Behind a trusted proxy (loopback), so that each request can say which client it comes from. */
  const start = (grouping: { ipv6Prefix: number; addressFactor: number }) =>
    startTestApp({
      env: { RATE_LIMIT_START: '2', TRUST_PROXY: 'loopback' },
      configure: (config) => Object.assign(config, { reliability: { ...DEFAULT_RELIABILITY, rateLimits: grouping } }),
    });
  const from = (ip: string, userAgent: string) =>
    app.agent().get('/auth/instagram').set('X-Forwarded-For', ip).set('User-Agent', userAgent);

  it('when several browsers share one address (a NAT), then each gets its own allowance beneath the address ceiling', async () => {
    app = await start({ ipv6Prefix: 64, addressFactor: 3 });
    const ip = '198.51.100.20';
    const statuses = async (userAgent: string, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await from(ip, userAgent)).status);
      return out;
    };
    // One browser over its own allowance is refused alone…
    expect(await statuses('Browser A', 3)).toEqual([302, 302, 429]);
    // …its neighbours are not locked out…
    expect(await statuses('Browser B', 2)).toEqual([302, 302]);
    expect(await statuses('Browser C', 2)).toEqual([302, 302]);
    // …until all of them together reach the address ceiling (2 × 3).
    expect(await statuses('Browser D', 1)).toEqual([429]);
    // Another address is untouched.
    expect((await from('198.51.100.21', 'Browser D')).status).toBe(302);
  });

  it('when IPv6 clients come from one /64, then they share one count; another /64 has its own', async () => {
    app = await start({ ipv6Prefix: 64, addressFactor: 10 });
    expect((await from('2001:db8:1:2::a', 'Browser')).status).toBe(302);
    expect((await from('2001:db8:1:2:ffff::b', 'Browser')).status).toBe(302);
    expect((await from('2001:db8:1:2::c', 'Browser')).status).toBe(429);
    expect((await from('2001:db8:1:3::a', 'Browser')).status).toBe(302);
  });

  it('when the IPv6 prefix is configured to /128, then each address counts alone', async () => {
    app = await start({ ipv6Prefix: 128, addressFactor: 10 });
    for (const ip of ['2001:db8:1:2::a', '2001:db8:1:2::b', '2001:db8:1:2::c']) {
      expect((await from(ip, 'Browser')).status).toBe(302);
    }
  });
});
