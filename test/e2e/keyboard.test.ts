import type { Browser, BrowserContext } from 'playwright-core';
import { SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import { startTestApp, type TestApp } from '../support/harness';
import { DESKTOP, focusInfo, launchBrowser, tabTo, type WatchedPage, watchedPage } from './support/browser';

const [sunny, jo] = SANDBOX_TEST_ACCOUNTS as [(typeof SANDBOX_TEST_ACCOUNTS)[0], (typeof SANDBOX_TEST_ACCOUNTS)[0]];
const ACCOUNT_PAGE = /\/account(#_)?$/;

/** Only the keyboard: Tab, Shift+Tab, arrows, Space and Enter. Every focus stop must be visible. */
describe('keyboard only', () => {
  let app: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let watched: WatchedPage;

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser.close();
  });
  beforeEach(async () => {
    app = await startTestApp();
    context = await browser.newContext({ viewport: DESKTOP });
    watched = await watchedPage(context);
  });
  afterEach(async () => {
    await context.close();
    await app.close();
  });

  it('when a person uses only the keyboard, then they can connect an account of their choice and disconnect it', async () => {
    const { page } = watched;
    await page.goto(`${app.url}/`);

    const homeStops = await tabTo(page, /^Connect to Instagram$/);
    expect(homeStops[0]?.label).toBe('Skip to content');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/sandbox\/oauth\/authorize\?/);

    // The first account is preselected; the arrow keys move the choice, Space confirms it.
    await tabTo(page, /^@sunny\.bakery\b/);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Space');
    const chosen = await focusInfo(page);
    expect(chosen?.label).toMatch(/^@trail\.runner\.jo\b/);
    expect(chosen?.visible).toBe(true);
    expect(await page.getByRole('radio', { name: /@trail\.runner\.jo\b/ }).isChecked()).toBe(true);
    expect(await page.getByRole('radio', { name: /@sunny\.bakery\b/ }).isChecked()).toBe(false);

    await tabTo(page, /^Allow$/);
    await page.keyboard.press('Enter');
    await page.waitForURL(ACCOUNT_PAGE);
    expect(await page.locator(`[data-instagram-user-id="${jo.igUserId}"]`).getAttribute('data-status')).toBe('active');
    expect(await page.locator(`[data-instagram-user-id="${sunny.igUserId}"]`).count()).toBe(0);

    await tabTo(page, /^Disconnect @trail\.runner\.jo$/);
    await page.keyboard.press('Enter');
    await page.getByText('The account was disconnected and its token deleted.').waitFor();
    expect(await page.locator('[data-instagram-user-id]').count()).toBe(0);
    expect(watched.problems).toEqual([]);
  });

  it('when the skip link is used, then focus moves past the header to the page content', async () => {
    const { page } = watched;
    await page.goto(`${app.url}/`);
    await tabTo(page, /^Skip to content$/, { max: 1 });
    await page.keyboard.press('Enter');
    // The next Tab starts inside <main>: the Connect button, not the header's links.
    await tabTo(page, /^Connect to Instagram$/, { max: 1 });
    expect(watched.problems).toEqual([]);
  });

  it('when the status page is walked backwards with Shift+Tab, then every stop is visible too', async () => {
    const { page } = watched;
    await page.goto(`${app.url}/`);
    await tabTo(page, /^Connect to Instagram$/);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/sandbox\/oauth\/authorize\?/);
    await tabTo(page, /^Allow$/);
    await page.keyboard.press('Enter');
    await page.waitForURL(ACCOUNT_PAGE);

    // From the end of the page back to the brand link, through the summary, details and forms.
    await page.keyboard.press('End');
    const stops = await tabTo(page, /^igconnect$/, { shift: true, max: 40 });
    expect(stops.map((s) => s.label)).toEqual(
      expect.arrayContaining(['Sign out of igconnect', 'Disconnect @sunny.bakery', 'Technical details']),
    );
    expect(watched.problems).toEqual([]);
  });
});
