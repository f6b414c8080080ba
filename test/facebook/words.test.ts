import { FACEBOOK_LOGIN_SCOPES } from '../../src/providers/facebook.config';
import { INSTAGRAM_LOGIN_SCOPES } from '../../src/providers/instagram.config';
import { apiKey, bearer } from '../api/api-support';
import { ALEX, authorizeFacebook, FACEBOOK_ENV, PAGES, SAM } from '../support/facebook';
import { authorize, finishCallback, pathOf, startTestApp, type TestApp } from '../support/harness';

/**
 * The words people read name the way in they used: a Facebook connect link's pages say Facebook, and the
 * status page describes Facebook Login's permissions with the words of its provider definition.
 */
describe('words of each way in', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startTestApp({ env: FACEBOOK_ENV });
  });
  afterEach(async () => {
    await app.close();
  });

  async function linkFor(provider: string): Promise<string> {
    const { key } = await apiKey(app);
    const created = await app
      .agent()
      .post('/api/v1/connect-sessions')
      .set(bearer(key))
      .send({ end_user_id: 'user-7', provider });
    if (created.status !== 201) throw new Error(`create answered ${created.status}: ${created.text}`);
    return pathOf(created.body.url as string);
  }

  it('when a Facebook link fails and there is no return_url, then its page names Facebook, not Instagram', async () => {
    const browser = app.agent();
    app.sandbox.facebook.script('fb_token', { status: 500, body: 'upstream exploded' });
    const callback = await authorizeFacebook(browser, { person: SAM, startPath: await linkFor('facebook') });
    expect((await browser.get(pathOf(callback))).headers.location).toBe('/connect/result');
    const page = await browser.get('/connect/result');
    expect(page.text).toContain('data-link-error="provider_unavailable"');
    expect(page.text).toContain('Facebook did not answer');
    expect(page.text).toContain('Facebook could not be reached');
    expect(page.text).not.toContain('Instagram did not answer');
  });

  it('when an Instagram link fails the same way, then its page still names Instagram', async () => {
    const browser = app.agent();
    app.sandbox.script('token', { status: 500, body: 'upstream exploded' });
    const callback = await authorize(browser, { startPath: await linkFor('instagram') });
    expect((await browser.get(pathOf(callback))).headers.location).toBe('/connect/result');
    const page = await browser.get('/connect/result');
    expect(page.text).toContain('Instagram did not answer');
    expect(page.text).not.toContain('Facebook');
  });

  it('when the Pages shared have no Instagram account, then the link page says so rather than "something went wrong"', async () => {
    const browser = app.agent();
    const callback = await authorizeFacebook(browser, {
      person: ALEX,
      pages: [PAGES.corner.id],
      instagramAccounts: [],
      startPath: await linkFor('facebook'),
    });
    expect((await browser.get(pathOf(callback))).headers.location).toBe('/connect/result');
    const page = await browser.get('/connect/result');
    expect(page.text).toContain('data-link-error="no_accounts"');
    expect(page.text).toContain('No Instagram account to connect');
    expect(page.text).not.toContain('Something went wrong');
  });

  it("when a Facebook connection is shown, then its permissions carry Facebook Login's words", async () => {
    const agent = app.agent();
    await finishCallback(agent, await authorizeFacebook(agent, { person: SAM }));
    const page = await agent.get('/account');
    expect(page.status).toBe(200);
    expect(page.text).toContain('See the profile and media <code>instagram_basic</code>');
    expect(page.text).toContain('See the list of your Pages <code>pages_show_list</code>');
    expect(page.text).toContain('Reach Pages owned by a business portfolio <code>business_management</code>');
  });

  it('when a provider is configured, then every permission it accepts has words in its definition', () => {
    const words = (id: string) => app.container.providers.find(id)?.scopeWords ?? {};
    for (const scope of FACEBOOK_LOGIN_SCOPES) expect(words('facebook')[scope]).toMatch(/^[A-Z]/);
    for (const scope of INSTAGRAM_LOGIN_SCOPES) expect(words('instagram')[scope]).toMatch(/^[A-Z]/);
  });
});
