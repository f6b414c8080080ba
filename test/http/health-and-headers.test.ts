import { startTestApp, type TestApp } from '../support/harness';

describe('health, headers and error pages', () => {
  let app: TestApp;

  beforeEach(async () => {
    app = await startTestApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('when the database answers, then /healthz and /readyz are 200 and set no cookie', async () => {
    const health = await app.agent().get('/healthz');
    expect(health.status).toBe(200);
    expect(health.headers['set-cookie']).toBeUndefined();
    const ready = await app.agent().get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready' });
  });

  it('when the database is gone, then /readyz is 503 and /healthz still 200', async () => {
    await app.container.db.destroy();
    expect((await app.agent().get('/readyz')).status).toBe(503);
    expect((await app.agent().get('/healthz')).status).toBe(200);
    app.container.close = async () => undefined; // already closed
  });

  it('when any page is served, then the hardened headers are present', async () => {
    const home = await app.agent().get('/');
    expect(home.status).toBe(200);
    expect(home.text).toContain('Connect to Instagram');
    const csp = home.headers['content-security-policy'] as string;
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("base-uri 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(home.headers['x-frame-options']).toBe('DENY');
    expect(home.headers['referrer-policy']).toBe('no-referrer');
    expect(home.headers['x-powered-by']).toBeUndefined();
    expect(home.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(home.headers['set-cookie']).toBeUndefined(); // saveUninitialized: false
  });

  it('when a page does not exist, then a 404 page is shown', async () => {
    const response = await app.agent().get('/nope');
    expect(response.status).toBe(404);
    expect(response.text).toContain('data-error-code="NOT_FOUND"');
  });

  it('when the session cookie is set, then it is HttpOnly and SameSite=Lax with a non-default name', async () => {
    const start = await app.agent().get('/auth/instagram');
    const cookie = ((start.headers['set-cookie'] as unknown as string[]) ?? [])[0] ?? '';
    expect(cookie).toMatch(/^igconnect\.sid=/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
  });
});
