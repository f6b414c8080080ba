import { startTestApp, type TestApp } from '../support/harness';
import { FACEBOOK, PROVIDERS } from '../support/providers';
import { PRODUCTION_ORIGIN, rawGet, startHttpsApp } from './security-support';

/**
 * Redirects: plain-http page requests go to PUBLIC_URL's https origin (never a client-chosen host),
 * machine endpoints are never redirected, and no redirect target comes from user input.
 */
describe('security: HTTP to HTTPS redirect behind a TLS proxy', () => {
  let app: TestApp;

  beforeAll(async () => {
    // Both ways in configured, so that both providers' callbacks exist.
    app = await startHttpsApp({}, FACEBOOK);
  });
  afterAll(async () => {
    await app.close();
  });

  it('when a page is requested over plain http, then it is a 308 to the same path and query on PUBLIC_URL', async () => {
    const response = await app.agent().get('/account?tab=1').set('X-Forwarded-Proto', 'http');
    expect(response.status).toBe(308);
    expect(response.headers.location).toBe(`${PRODUCTION_ORIGIN}/account?tab=1`);
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  it('when the plain-http request names another Host, then the redirect still goes to PUBLIC_URL', async () => {
    const response = await app.agent().get('/').set('Host', 'evil.example').set('X-Forwarded-Host', 'evil.example');
    expect(response.status).toBe(308);
    expect(response.headers.location).toBe(`${PRODUCTION_ORIGIN}/`);
  });

  it('when the request target is absolute-form for another host, then the redirect stays on PUBLIC_URL', async () => {
    const response = await rawGet(app, 'http://evil.example/steal');
    expect(response.status).toBe(308);
    expect(new URL(response.headers.location as string).origin).toBe(PRODUCTION_ORIGIN);
  });

  it('when the path starts with two slashes, then the redirect cannot become protocol-relative', async () => {
    const response = await rawGet(app, '//evil.example/steal');
    expect(response.status).toBe(308);
    expect(new URL(response.headers.location as string).origin).toBe(PRODUCTION_ORIGIN);
  });

  it.each(['/webhooks/instagram/deauthorize', '/webhooks/facebook/data-deletion', '/healthz', '/readyz'])(
    'when %s is called over plain http, then it is never redirected',
    async (path) => {
      const response = await app.agent().get(path);
      expect(response.status).not.toBe(308);
      expect(response.headers.location).toBeUndefined();
    },
  );

  it('when the trusted proxy says https, then the page is served without a redirect', async () => {
    const response = await app.agent().get('/').set('X-Forwarded-Proto', 'https');
    expect(response.status).toBe(200);
  });
});

describe('security: proxy headers without TRUST_PROXY', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startHttpsApp({ TRUST_PROXY: 'false' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('when a client claims X-Forwarded-Proto: https but no proxy is trusted, then it is still redirected and a warning is logged once', async () => {
    const first = await app.agent().get('/').set('X-Forwarded-Proto', 'https');
    const second = await app.agent().get('/').set('X-Forwarded-Proto', 'https');
    expect(first.status).toBe(308);
    expect(second.status).toBe(308);
    const warnings = app.logs.filter((line) => line.includes('TRUST_PROXY is off'));
    expect(warnings).toHaveLength(1);
  });
});

describe.each(PROVIDERS)('security: no open redirect after connecting (%s)', (_name, p) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ env: p.env });
  });
  afterAll(async () => {
    await app.close();
  });

  it.each(['next=https%3A%2F%2Fevil.example', 'returnTo=%2F%2Fevil.example', 'redirect=%2F%5Cevil.example'])(
    'when the start URL carries %s, then the flow still ends on /account',
    async (query) => {
      const agent = app.agent();
      const start = await agent.get(`${p.startPath}?${query}`);
      expect(start.headers.location).not.toContain('evil.example');
      const done = await p.connect(agent);
      expect(done.status).toBe(303);
      expect(done.headers.location).toBe('/account');
    },
  );
});
