import type { Browser, BrowserContext, Page } from 'playwright-core';
import { graphError, SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import { PAGES, SAM } from '../support/facebook';
import { startTestApp, type TestApp } from '../support/harness';
import { FACEBOOK } from '../support/providers';
import {
  type AxeSummary,
  blockingViolations,
  DESKTOP,
  launchBrowser,
  MOBILE,
  runAxe,
  screenshot,
  writeAxeReport,
} from './support/browser';

const [sunny, jo] = SANDBOX_TEST_ACCOUNTS as [(typeof SANDBOX_TEST_ACCOUNTS)[0], (typeof SANDBOX_TEST_ACCOUNTS)[0]];
const ACCOUNT_PAGE = /\/account(#_(=_)?)?$/;

/** Every page's axe summary, from both blocks below, for test-results/axe-summary.json. */
const summaries: AxeSummary[] = [];
afterAll(() => writeAxeReport(summaries));

/** Runs axe on the page as it is now; photographs it for docs/screenshots unless told not to. */
async function checkPage(page: Page, name: string, options: { photo?: boolean } = {}): Promise<void> {
  const summary = await runAxe(page, name);
  summaries.push(summary);
  if (options.photo !== false) await screenshot(page, name);
  expect({ page: name, blocking: blockingViolations(summary) }).toEqual({ page: name, blocking: [] });
}

/**
 * Every page people see, in the states that matter: each is checked by axe (no serious or critical
 * violation) and photographed into docs/screenshots for the README. The journeys that keep the CSP
 * are in connect-journey.test.ts and keyboard.test.ts.
 */
describe('every page, checked by axe and photographed', () => {
  let app: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser();
    // Three permissions, so the consent screen and the status page show granted and declined ones.
    app = await startTestApp({
      env: {
        INSTAGRAM_SCOPES:
          'instagram_business_basic,instagram_business_manage_comments,instagram_business_manage_insights',
      },
    });
    // bypassCSP: axe is injected as an inline script, which the app's CSP refuses (see runAxe).
    context = await browser.newContext({ viewport: DESKTOP, bypassCSP: true });
    page = await context.newPage();
  });
  afterAll(async () => {
    await context.close();
    await browser.close();
    await app.close();
  });

  const check = (name: string, options: { photo?: boolean } = {}) => checkPage(page, name, options);

  async function connectAs(account: { username: string }, options: { link: RegExp; decline?: string[] }) {
    await page.getByRole('link', { name: options.link }).first().click();
    await page.waitForURL(/\/sandbox\/oauth\/authorize\?/);
    await page.getByRole('radio', { name: new RegExp(`@${account.username.replace(/\./g, '\\.')}\\b`) }).check();
    for (const scope of options.decline ?? []) await page.locator(`#scope-${scope}`).uncheck();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(ACCOUNT_PAGE);
  }

  it('when nobody is signed in, then home and the empty status page pass axe', async () => {
    await page.goto(`${app.url}/`);
    await check('home');
    await page.goto(`${app.url}/account`);
    await page.getByRole('heading', { name: 'No accounts connected yet' }).waitFor();
    await check('status-empty');
  });

  it('when the sandbox asks for consent, then its page passes axe', async () => {
    await page.goto(`${app.url}/`);
    await page.getByRole('link', { name: /^Connect to Instagram$/ }).click();
    await page.waitForURL(/\/sandbox\/oauth\/authorize\?/);
    await check('consent');
  });

  it('when two accounts are connected, then the status page passes axe on desktop and mobile', async () => {
    await page.goto(`${app.url}/`);
    await connectAs(sunny, { link: /^Connect to Instagram$/ });
    await app.clock.advance(3 * 24 * 3600 * 1000);
    await connectAs(jo, { link: /^Connect another account$/, decline: ['instagram_business_manage_insights'] });
    await page.getByText('Permissions declined').waitFor();
    await check('status');
    await page.setViewportSize(MOBILE);
    await page.reload();
    await check('status-mobile');
    await page.setViewportSize(DESKTOP);
  });

  it('when an account needs reconnecting, then the status page says so at the top and passes axe', async () => {
    // The state the token keeper leaves behind when Instagram stops accepting a token.
    await app.container.db
      .updateTable('connections')
      .set({ status: 'needs_reconnect' })
      .where('account_id', '=', sunny.igUserId)
      .execute();
    await page.goto(`${app.url}/account`);
    await page.getByRole('heading', { name: '1 of 2 accounts needs you' }).waitFor();
    await check('status-needs-you');
  });

  it('when the person denies, then the cancel page passes axe', async () => {
    await page.goto(`${app.url}/auth/instagram`);
    await page.waitForURL(/\/sandbox\/oauth\/authorize\?/);
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.locator('[data-error-code="CONNECT_CANCELLED"]').waitFor();
    await check('cancel');
  });

  it('when something goes wrong, then the error pages pass axe with the deployer details open too', async () => {
    await page.goto(`${app.url}/auth/instagram/callback?code=abc&state=not-ours`);
    await page.locator('[data-error-code="STATE_INVALID"]').waitFor();
    await check('error');
    await page.getByText('For the site owner').click();
    await check('error-details', { photo: false });
    await page.goto(`${app.url}/no/such/page`);
    await page.locator('[data-error-code="NOT_FOUND"]').waitFor();
    await check('not-found', { photo: false });
  });

  it('when every account is disconnected, then the signed-in empty state passes axe', async () => {
    await page.goto(`${app.url}/account`);
    for (const account of [sunny, jo]) {
      await page.getByRole('button', { name: `Disconnect @${account.username}` }).click();
      await page.waitForURL(ACCOUNT_PAGE);
    }
    await page.getByRole('heading', { name: 'No accounts connected right now' }).waitFor();
    await check('status-empty-signed-in', { photo: false });
  });
});

/**
 * The pages of Facebook Login for Business, with both ways in configured: the home page's two buttons,
 * Facebook's consent screen, the account picker, Facebook connections on the status page, a cancel and a
 * refusal of a Facebook flow, and the preview of a public post.
 */
describe('the Facebook Login pages, checked by axe and photographed', () => {
  let app: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser();
    app = await startTestApp({ env: FACEBOOK.env });
    context = await browser.newContext({ viewport: DESKTOP, bypassCSP: true });
    page = await context.newPage();
  });
  afterAll(async () => {
    await context.close();
    await browser.close();
    await app.close();
  });

  const check = (name: string, options: { photo?: boolean } = {}) => checkPage(page, name, options);

  it('when both ways in are configured, then the home page offers both and passes axe', async () => {
    await page.goto(`${app.url}/`);
    await page.getByRole('link', { name: FACEBOOK.connectLabel }).waitFor();
    await check('home-both', { photo: false });
  });

  it("when Facebook's sandbox asks for consent, then its page passes axe", async () => {
    await page.getByRole('link', { name: FACEBOOK.connectLabel }).click();
    await page.waitForURL(/\/sandbox\/facebook\/v\d+\.\d+\/dialog\/oauth\?/);
    await check('facebook-consent');
  });

  it('when several accounts are found and a Page was left out, then the picker passes axe on desktop and mobile', async () => {
    await page.getByRole('checkbox', { name: new RegExp(`Page ${PAGES.pixel.name}`) }).uncheck();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/\/auth\/facebook\/choose(#_=_)?$/);
    await page.getByRole('heading', { name: 'Choose the accounts to connect' }).waitFor();
    await check('picker');
    await page.setViewportSize(MOBILE);
    await check('picker-mobile', { photo: false });
    await page.setViewportSize(DESKTOP);
  });

  it('when Facebook connections are on the status page, then it passes axe', async () => {
    await page.getByRole('button', { name: 'Connect the ticked accounts' }).click();
    await page.waitForURL(ACCOUNT_PAGE);
    await page.getByText('Data access ends').first().waitFor();
    await check('status-facebook', { photo: false });
  });

  it('when a public post is previewed, then the preview page passes axe empty, refused and showing the post', async () => {
    await page.getByRole('link', { name: 'Preview a public Instagram post' }).click();
    await page.waitForURL(/\/account\/preview$/);
    await check('preview-empty', { photo: false });
    await page.getByLabel('Post, reel or IGTV address').fill('https://www.instagram.com/sunny.bakery/');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByText('That is not the address of a public post, reel or IGTV video.').waitFor();
    await check('preview-refused', { photo: false });
    await page.getByLabel('Post, reel or IGTV address').fill('https://www.instagram.com/p/C7sUnNyBk01/');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.locator('[data-embed]').waitFor();
    await check('preview');
  });

  it('when a Facebook flow is cancelled or refused, then its pages pass axe and name Facebook', async () => {
    await page.goto(`${app.url}/auth/facebook`);
    await page.getByRole('button', { name: FACEBOOK.cancelLabel }).click();
    await page.locator('[data-error-code="CONNECT_CANCELLED"]').waitFor();
    await check('cancel-facebook', { photo: false });

    await page.goto(`${app.url}/auth/facebook`);
    await page.locator(`#person-${SAM}`).check();
    app.sandbox.facebook.script('fb_token', graphError(1, undefined, 'Error validating client secret.'));
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.locator('[data-error-code="PROVIDER_INVALID_SECRET"]').waitFor();
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Facebook refused the connection');
    await page.getByText('For the site owner').click();
    await page.getByText(/FACEBOOK_APP_SECRET/).waitFor();
    await check('error-facebook', { photo: false });
  });
});
