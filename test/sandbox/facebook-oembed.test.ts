import { OEMBED_POSTS } from '../../src/sandbox/sandbox';
import { ALEX, APP_TOKEN, bearer, FB_APP_ID, FB_APP_SECRET, graphBase, startFacebookSandbox } from './facebook-support';
import { getJson, graphErrorOf, type RunningSandbox } from './sandbox-support';

describe('sandbox Facebook instagram_oembed', () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startFacebookSandbox();
  });
  afterAll(async () => {
    await sandbox.close();
  });
  beforeEach(() => sandbox.control.reset());

  const POST = 'https://www.instagram.com/p/C7sUnNyBk01/';
  const REEL = 'https://www.instagram.com/reel/C8tRa1LrUn5/';
  const oembedUrl = (params: Record<string, string>) =>
    `${graphBase(sandbox.base)}/instagram_oembed?${new URLSearchParams(params).toString()}`;

  it('when a known public post is asked with the app token, then Meta’s oEmbed JSON answers with a blockquote', async () => {
    const response = await fetch(oembedUrl({ url: POST, access_token: APP_TOKEN }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      version: '1.0',
      author_name: 'sunny.bakery',
      provider_name: 'Instagram',
      provider_url: 'https://www.instagram.com/',
      type: 'rich',
      width: 658,
      html: expect.stringMatching(
        /^<blockquote class="instagram-media" data-instgrm-captioned data-instgrm-permalink="https:\/\/www\.instagram\.com\/p\/C7sUnNyBk01\/\?utm_source=ig_embed&amp;utm_campaign=loading"/,
      ),
      thumbnail_url: `${sandbox.base}/facebook/thumbnails/C7sUnNyBk01.svg`,
      thumbnail_width: 640,
      thumbnail_height: 640,
    });
    const html = body.html as string;
    // The caption's markup is escaped; the embed script comes last.
    expect(html).toContain('7 &lt;every&gt; morning &amp; gone');
    expect(html).not.toContain('<every>');
    expect(html.endsWith('<script async src="//www.instagram.com/embed.js"></script>')).toBe(true);
    expect(html).not.toContain(FB_APP_SECRET);
    expect((await fetch(body.thumbnail_url as string)).status).toBe(200);
    expect(sandbox.control.facebook.calls.fb_oembed).toBe(1);
  });

  it('when a reel is asked, then it answers without thumbnails (clients must cope)', async () => {
    const { status, body } = await getJson(oembedUrl({ url: REEL, access_token: APP_TOKEN }));
    expect(status).toBe(200);
    expect(body).toMatchObject({ author_name: 'trail.runner.jo', type: 'rich' });
    expect(body).not.toHaveProperty('thumbnail_url');
  });

  it.each([
    ['without www and trailing slash', 'https://instagram.com/p/C7sUnNyBk01'],
    ['with a share query string', 'https://www.instagram.com/p/C7sUnNyBk01/?igsh=MWQ1ZGUxMzBkMA=='],
    ['over http', 'http://www.instagram.com/reel/C8tRa1LrUn5/'],
  ])('when the URL is %s, then it is recognised', async (_name, url) => {
    expect((await getJson(oembedUrl({ url, access_token: APP_TOKEN }))).status).toBe(200);
  });

  it('when maxwidth, hidecaption, omitscript and fields are given, then the answer follows them', async () => {
    const narrow = (
      await getJson(
        oembedUrl({ url: POST, maxwidth: '400', hidecaption: 'true', omitscript: 'true', access_token: APP_TOKEN }),
      )
    ).body as Record<string, string | number>;
    expect(narrow.width).toBe(400);
    expect(narrow.html).not.toContain('data-instgrm-captioned');
    expect(narrow.html).not.toContain('<script');
    const wide = (await getJson(oembedUrl({ url: POST, maxwidth: '2000', access_token: APP_TOKEN }))).body as {
      width: number;
    };
    expect(wide.width).toBe(658);
    const some = (await getJson(oembedUrl({ url: POST, fields: 'author_name,html', access_token: APP_TOKEN }))).body;
    expect(Object.keys(some as object).sort()).toEqual(['author_name', 'html']);
  });

  it('when the app token comes from client_credentials or a Bearer header, then it is accepted', async () => {
    const minted = await getJson(
      `${graphBase(sandbox.base)}/oauth/access_token?grant_type=client_credentials&client_id=${FB_APP_ID}&client_secret=${FB_APP_SECRET}`,
    );
    const appToken = (minted.body as { access_token: string }).access_token;
    expect((await getJson(oembedUrl({ url: POST }), bearer(appToken))).status).toBe(200);
  });

  it.each([
    ['no token', {}],
    ['a wrong app secret', { access_token: `${FB_APP_ID}|nope` }],
    ['another app’s id', { access_token: `1234|${FB_APP_SECRET}` }],
  ])('when oEmbed is asked with %s, then Graph answers 190', async (_name, params) => {
    const { status, body } = await getJson(oembedUrl({ url: POST, ...params }));
    expect(status).toBe(400);
    expect(graphErrorOf(body).code).toBe(190);
  });

  it('when oEmbed is asked with a user token, then Graph answers 190 (oEmbed wants the app token)', async () => {
    const { userAccessToken } = sandbox.control.facebook.issueTokens(ALEX.id);
    expect(graphErrorOf((await getJson(oembedUrl({ url: POST, access_token: userAccessToken }))).body).code).toBe(190);
  });

  it.each([
    ['an unknown shortcode', { url: 'https://www.instagram.com/p/Czzzzzzzzzz/' }, /No public Instagram media/],
    ['a profile URL', { url: 'https://www.instagram.com/sunny.bakery/' }, /public Instagram post or reel/],
    ['another site', { url: 'https://evil.example/p/C7sUnNyBk01/' }, /public Instagram post or reel/],
    ['no url', {}, /url is required/],
    ['a maxwidth under 320', { url: POST, maxwidth: '100' }, /maxwidth/],
    ['a maxwidth that is not a number', { url: POST, maxwidth: 'wide' }, /maxwidth/],
    ['an unknown field', { url: POST, fields: 'html,secret' }, /\(secret\)/],
  ])('when oEmbed is asked with %s, then Graph answers 100 in its envelope', async (_name, params, message) => {
    const { status, body } = await getJson(oembedUrl({ access_token: APP_TOKEN, ...params }));
    expect(status).toBe(400);
    const error = graphErrorOf(body);
    expect(error.code).toBe(100);
    expect(error.message).toMatch(message);
  });

  it('when the known posts are listed, then each belongs to a sandbox account and has a post or reel URL', () => {
    expect(OEMBED_POSTS.map((post) => post.kind)).toEqual(expect.arrayContaining(['p', 'reel']));
    for (const post of OEMBED_POSTS) expect(post.shortcode).toMatch(/^[A-Za-z0-9_-]{11}$/);
  });
});
