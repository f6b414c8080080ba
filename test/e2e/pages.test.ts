import type { Browser, BrowserContext, Page } from 'playwright-core';
import { SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import { startTestApp, type TestApp } from '../support/harness';
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
const ACCOUNT_PAGE = /\/account(#_)?$/;

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
  const summaries: AxeSummary[] = [];

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
    writeAxeReport(summaries);
    await context.close();
    await browser.close();
    await app.close();
  });

  async function check(name: string, options: { photo?: boolean } = {}): Promise<void> {
    const summary = await runAxe(page, name);
    summaries.push(summary);
    if (options.photo !== false) await screenshot(page, name);
    expect({ page: name, blocking: blockingViolations(summary) }).toEqual({ page: name, blocking: [] });
  }

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
