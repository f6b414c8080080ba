import { DAY } from '../../src/shared/clock';
import { sessionCookie, startTestApp, type TestApp } from '../support/harness';
import { PROVIDERS } from '../support/providers';
import {
  csrfFrom,
  SIGNED_OUT_MARKER,
  setCookies,
  startHttpsApp,
  storedTokens,
  PRODUCTION_ORIGIN,
} from './security-support';

/** Session cookies and session lifetime: fixation, tampering, expiry, and what a cookie may carry. */
describe.each(PROVIDERS)('security: sessions and cookies (%s)', (_name, p) => {
  let app: TestApp;
  const connect = p.connect;

  beforeEach(async () => {
    app = await startTestApp({ env: p.env });
  });
  afterEach(async () => {
    await app.close();
  });

  it('when a session cookie is set, then it is HttpOnly, SameSite=Lax, path / and not the default name', async () => {
    const cookie = setCookies(await app.agent().get(p.startPath))[0] ?? '';
    expect(cookie).toMatch(/^igconnect\.sid=/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    expect(cookie).toContain('Path=/');
    expect(cookie).not.toMatch(/Domain=/i);
  });

  it('when an attacker plants a session id before the victim connects, then the victim ends up with a new one', async () => {
    const agent = app.agent();
    const planted = sessionCookie(await agent.get(p.startPath));
    const after = sessionCookie(await connect(agent));
    expect(planted).toBeDefined();
    expect(after).toBeDefined();
    expect(after).not.toBe(planted);
    // The planted id no longer signs anyone in.
    const attacker = await app
      .agent()
      .get('/account')
      .set('Cookie', planted ?? '');
    expect(attacker.text).toContain(SIGNED_OUT_MARKER);
  });

  it('when the session cookie signature is tampered with, then the request is treated as signed out, not a 500', async () => {
    const agent = app.agent();
    const cookie = sessionCookie(await connect(agent)) ?? '';
    const tampered = `${cookie.slice(0, -3)}${cookie.endsWith('A') ? 'B' : 'A'}xx`;
    const response = await app.agent().get('/account').set('Cookie', tampered);
    expect(response.status).toBe(200);
    expect(response.text).toContain(SIGNED_OUT_MARKER);
  });

  it('when a cookie names a session id that does not exist, then no session is adopted under that id', async () => {
    const response = await app
      .agent()
      .get(p.startPath)
      .set('Cookie', 'igconnect.sid=s%3Aattacker-chosen-id.invalidsignature');
    const issued = sessionCookie(response) ?? '';
    expect(issued).not.toContain('attacker-chosen-id');
    const sids = (await app.container.db.selectFrom('sessions').select('sid').execute()).map((r) => r.sid);
    expect(sids).not.toContain('attacker-chosen-id');
  });

  it('when a person has connected, then neither the cookie nor the stored session holds the token', async () => {
    const agent = app.agent();
    const response = await connect(agent);
    const [token] = await storedTokens(app);
    expect(setCookies(response).join(';')).not.toContain(token);
    const sessions = await app.container.db.selectFrom('sessions').selectAll().execute();
    expect(JSON.stringify(sessions)).not.toContain(token);
  });

  it('when a session sits idle for more than 14 days, then it no longer signs the person in', async () => {
    const agent = app.agent();
    await connect(agent);
    app.clock.advance(15 * DAY);
    expect((await agent.get('/account')).text).toContain(SIGNED_OUT_MARKER);
  });

  it('when a session stays active past the 30-day absolute limit, then it ends anyway', async () => {
    const agent = app.agent();
    await connect(agent);
    for (let day = 10; day <= 30; day += 10) {
      app.clock.advance(10 * DAY);
      expect((await agent.get('/account')).text).not.toContain(SIGNED_OUT_MARKER);
    }
    app.clock.advance(2 * DAY);
    expect((await agent.get('/account')).text).toContain(SIGNED_OUT_MARKER);
  });

  it('when a person signs out, then replaying their old cookie does not sign anyone in', async () => {
    const agent = app.agent();
    const cookie = sessionCookie(await connect(agent)) ?? '';
    const page = await agent.get('/account');
    expect(
      (
        await agent
          .post('/logout')
          .type('form')
          .send({ _csrf: csrfFrom(page.text) })
      ).status,
    ).toBe(303);
    const replay = await app.agent().get('/account').set('Cookie', cookie);
    expect(replay.text).toContain(SIGNED_OUT_MARKER);
  });

  it('when another site posts a sign-out form, then it is refused and the person stays signed in', async () => {
    const agent = app.agent();
    await connect(agent);
    const response = await agent.post('/logout').type('form').set('Sec-Fetch-Site', 'cross-site').send({});
    expect(response.status).toBe(403);
    expect((await agent.get('/account')).text).not.toContain(SIGNED_OUT_MARKER);
  });
});

/** Behaviour of the session layer itself, whichever way in is configured. */
describe('security: sessions and cookies (any provider)', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('when someone only looks at the home page, then no session and no cookie are created', async () => {
    const response = await app.agent().get('/');
    expect(response.headers['set-cookie']).toBeUndefined();
    expect(await app.container.db.selectFrom('sessions').selectAll().execute()).toHaveLength(0);
  });
});

describe.each(PROVIDERS)('security: production cookies behind a TLS proxy (%s)', (_name, p) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startHttpsApp({}, p);
  });
  afterAll(async () => {
    await app.close();
  });

  it('when PUBLIC_URL is https, then the session cookie is Secure with the __Host- prefix and no Domain', async () => {
    const response = await app.agent().get(p.startPath).set('X-Forwarded-Proto', 'https');
    expect(response.status).toBe(302);
    const cookie = setCookies(response)[0] ?? '';
    expect(cookie).toMatch(/^__Host-igconnect\.sid=/);
    expect(cookie).toContain('Secure');
    expect(cookie).toContain('Path=/');
    expect(cookie).toContain('HttpOnly');
    expect(cookie).not.toMatch(/Domain=/i);
    expect(new URL(response.headers.location as string).searchParams.get('redirect_uri')).toBe(
      `${PRODUCTION_ORIGIN}${p.callbackPath}`,
    );
  });

  it('when PUBLIC_URL is https, then pages carry HSTS', async () => {
    const response = await app.agent().get('/').set('X-Forwarded-Proto', 'https');
    expect(response.status).toBe(200);
    expect(response.headers['strict-transport-security']).toMatch(/max-age=\d{7,}/);
  });
});
