import { startTestApp, type TestApp, connect } from '../support/harness';
import { FACEBOOK_ENV } from '../support/facebook';
import { apiKey, bearer } from '../api/api-support';

/**
 * Public posts with the app token: GET /api/v1/oembed answers Meta's oEmbed JSON, calling
 * instagram_oembed with the app access token built server-side (never shown), answers cached, URLs
 * checked against post and reel shapes, Meta's refusals in the API's error shape; and the signed-in
 * preview page.
 */
const POST = 'https://www.instagram.com/p/C7sUnNyBk01/';
const REEL = 'https://www.instagram.com/reel/C8tRa1LrUn5/';

describe('oEmbed with the app token', () => {
  let app: TestApp;
  let key: string;

  beforeEach(async () => {
    app = await startTestApp({ env: FACEBOOK_ENV });
    ({ key } = await apiKey(app));
  });
  afterEach(async () => {
    await app.close();
  });

  const oembed = (query: string, headers = bearer(key)) => app.agent().get(`/api/v1/oembed${query}`).set(headers);
  const appSecret = () => app.container.config.providers.facebook!.appSecret;

  it('when a public post is asked for, then Meta oEmbed JSON comes back and the app token never does', async () => {
    const answer = await oembed(`?url=${encodeURIComponent(POST)}&maxwidth=400`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ provider_name: 'Instagram', type: 'rich' });
    expect(answer.body.html).toContain('blockquote');
    expect(answer.text).not.toContain(appSecret());
    for (const line of app.logs) expect(line).not.toContain(appSecret());
    expect((await oembed(`?url=${encodeURIComponent(REEL)}`)).status).toBe(200);
  });

  it('when the same post is asked for again, then the answer comes from the cache', async () => {
    await oembed(`?url=${encodeURIComponent(POST)}`);
    await oembed(`?url=${encodeURIComponent(POST)}`);
    expect(app.sandbox.facebook.calls.fb_oembed).toBe(1);
  });

  it.each([
    ['?url=https%3A%2F%2Fexample.com%2Fp%2Fabc%2F'],
    ['?url=http%3A%2F%2Fwww.instagram.com%2Fp%2FC7sUnNyBk01%2F'],
    ['?url=https%3A%2F%2Fwww.instagram.com%2Fsunny.bakery%2F'],
    ['?url=javascript%3Aalert(1)'],
    ['?maxwidth=400'],
    [`?url=${encodeURIComponent(POST)}&maxwidth=9999`],
    [`?url=${encodeURIComponent(POST)}&extra=1`],
  ])('when the query is %s, then it is 400 invalid_request and Meta is not called', async (query) => {
    const answer = await oembed(query);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_request');
    expect(app.sandbox.facebook.calls.fb_oembed).toBe(0);
  });

  it('when Meta has no public post at the URL, then it is 404 in the API error shape', async () => {
    const answer = await oembed(`?url=${encodeURIComponent('https://www.instagram.com/p/Zz9NoSuchPost/')}`);
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('not_found');
  });

  it('when Meta throttles, then it is 429', async () => {
    app.sandbox.facebook.script(
      'fb_oembed',
      app.sandbox.facebook.graphError(4, undefined, 'Application request limit reached'),
    );
    const answer = await oembed(`?url=${encodeURIComponent(REEL)}`);
    expect(answer.status).toBe(429);
  });

  it('when there is no key, then it is 401', async () => {
    expect((await oembed(`?url=${encodeURIComponent(POST)}`, {} as ReturnType<typeof bearer>)).status).toBe(401);
  });

  it('when a signed-in person pastes a post URL on the preview page, then it shows the post without running any script', async () => {
    const agent = app.agent();
    await connect(agent);
    expect((await agent.get('/account')).text).toContain('href="/account/preview"');
    const page = await agent.get(`/account/preview?url=${encodeURIComponent(POST)}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('data-embed');
    expect(page.text).not.toMatch(/<script[^>]*instagram/);
    expect(page.text).toContain('&lt;blockquote');
    const refused = await agent.get('/account/preview?url=https%3A%2F%2Fevil.example%2F');
    expect(refused.text).toContain('not the address of a public post');
    expect((await app.agent().get('/account/preview')).status).toBe(404);
  });
});

describe('oEmbed without Facebook Login', () => {
  it('when no Meta app is configured, then the API says so', async () => {
    const app = await startTestApp();
    try {
      const { key } = await apiKey(app);
      const answer = await app
        .agent()
        .get(`/api/v1/oembed?url=${encodeURIComponent(POST)}`)
        .set(bearer(key));
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('not_configured');
    } finally {
      await app.close();
    }
  });
});
