import type { Browser, BrowserContext, Page } from 'playwright-core';
import { SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import { startTestApp, type TestApp } from '../support/harness';
import { DESKTOP, launchBrowser, type WatchedPage, watchedPage } from './support/browser';

const [sunny, jo] = SANDBOX_TEST_ACCOUNTS as [(typeof SANDBOX_TEST_ACCOUNTS)[0], (typeof SANDBOX_TEST_ACCOUNTS)[0]];

// Instagram appends `#_` to its redirect, and a fragment survives the app's own redirect to /account.
const ACCOUNT_PAGE = /\/account(#_)?$/;

/** Clicks Connect (or another link into the flow) and returns once the sandbox's consent screen is up. */
async function openConsent(page: Page, linkName: RegExp): Promise<void> {
  await page.getByRole('link', { name: linkName }).first().click();
  await page.waitForURL(/\/sandbox\/oauth\/authorize\?/);
  await page.getByRole('heading', { name: /Allow app/ }).waitFor();
}

async function allowAs(page: Page, username: string): Promise<void> {
  await page.getByRole('radio', { name: new RegExp(`@${username.replace(/\./g, '\\.')}\\b`) }).check();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(ACCOUNT_PAGE);
}

function card(page: Page, igUserId: string) {
  return page.locator(`[data-instagram-user-id="${igUserId}"]`);
}

describe('connecting in a real browser', () => {
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

  const connectionCount = async () => (await app.container.db.selectFrom('connections').selectAll().execute()).length;

  it('when a person connects two accounts and disconnects one, then the other remains', async () => {
    const { page } = watched;
    await page.goto(`${app.url}/`);
    await openConsent(page, /^Connect to Instagram$/);
    await allowAs(page, jo.username);

    await page.getByText(`@${jo.username} is connected.`).waitFor();
    expect(await card(page, jo.igUserId).getAttribute('data-status')).toBe('active');
    const joCard = await card(page, jo.igUserId).innerText();
    expect(joCard).toContain('Working');
    // The harness clock is 2026-11-01 12:00 UTC; a long-lived token lasts 5183944 s (60 days).
    expect(joCard).toContain('in 60 days');
    expect(joCard).toContain('Thu, 31 Dec 2026, 11:59 UTC');
    expect(joCard).toContain('Creator account');

    await openConsent(page, /^Connect another account$/);
    await allowAs(page, sunny.username);
    expect(await page.locator('[data-instagram-user-id]').count()).toBe(2);
    expect(await page.getByRole('heading', { name: 'All 2 accounts are working' }).count()).toBe(1);

    await page.getByRole('button', { name: `Disconnect @${jo.username}` }).click();
    await page.waitForURL(ACCOUNT_PAGE);
    await page.getByText('The account was disconnected and its token deleted.').waitFor();
    expect(await card(page, jo.igUserId).count()).toBe(0);
    expect(await card(page, sunny.igUserId).getAttribute('data-status')).toBe('active');
    expect(await connectionCount()).toBe(1);
    expect(watched.problems).toEqual([]);
  });

  it('when the person denies on the consent screen, then the cancel page says so and nothing is stored', async () => {
    const { page } = watched;
    await page.goto(`${app.url}/`);
    await openConsent(page, /^Connect to Instagram$/);
    const response = page.waitForResponse((r) => r.url().includes('/auth/instagram/result'));
    await page.getByRole('button', { name: 'Deny' }).click();
    expect((await response).status()).toBe(200);

    await page.locator('[data-error-code="CONNECT_CANCELLED"]').waitFor();
    // The callback redirected: neither the state nor the error stays in the address bar.
    expect(new URL(page.url()).pathname).toBe('/auth/instagram/result');
    expect(new URL(page.url()).search).toBe('');
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Connection cancelled');
    // The way forward leads back into the flow.
    expect(await page.getByRole('link', { name: 'Connect to Instagram' }).getAttribute('href')).toBe('/auth/instagram');
    expect(await connectionCount()).toBe(0);
    expect(watched.problems).toEqual([]);
  });

  it('when the callback cannot be matched to the browser, then the error page explains it and hides the details', async () => {
    const { page } = watched;
    const response = await page.goto(`${app.url}/auth/instagram/callback?code=abc&state=not-ours`);
    expect(response?.status()).toBe(400);
    await page.locator('[data-error-code="STATE_INVALID"]').waitFor();
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('This sign-in link has expired');
    const details = page.locator('details.deployer');
    expect(await details.getAttribute('open')).toBeNull();
    expect(await page.getByText(/check TRUST_PROXY/).isVisible()).toBe(false);
    await page.getByText('For the site owner').click();
    expect(await page.getByText(/check TRUST_PROXY/).isVisible()).toBe(true);
    expect(watched.problems).toEqual([]);
  });

  it('when Disconnect is pressed, then the button shows it is busy and a second press is not sent', async () => {
    const { page } = watched;
    await page.goto(`${app.url}/`);
    await openConsent(page, /^Connect to Instagram$/);
    await allowAs(page, sunny.username);

    // Let app.js see each submit first (its listener was added first), then stop the navigation so the
    // page stays to be looked at, and count the submits app.js let through.
    await page.evaluate(`document.addEventListener('submit', (event) => {
      if (!event.defaultPrevented) window.submitsLetThrough = (window.submitsLetThrough || 0) + 1;
      event.preventDefault();
    })`);
    const button = page.getByRole('button', { name: `Disconnect @${sunny.username}` });
    await button.focus();
    await page.keyboard.press('Enter');
    const busy = page.getByRole('button', { name: 'Disconnecting…' });
    expect(await busy.getAttribute('aria-disabled')).toBe('true');
    expect(await busy.evaluate((element) => element.classList.contains('is-busy'))).toBe(true);
    await page.keyboard.press('Enter');
    expect(await page.evaluate('window.submitsLetThrough')).toBe(1);
    expect(watched.problems).toEqual([]);
  });

  it('when a token is revoked, then the status page shows Reconnect and reconnecting works', async () => {
    const { page } = watched;
    await page.goto(`${app.url}/`);
    await openConsent(page, /^Connect to Instagram$/);
    await allowAs(page, sunny.username);
    const before = await app.container.db.selectFrom('connections').select('id').executeTakeFirstOrThrow();

    // The person revokes the access on Instagram; the next check finds out.
    app.sandbox.revokeTokens(sunny.igUserId);
    await card(page, sunny.igUserId).getByRole('button', { name: 'Validate now' }).click();
    await page.waitForURL(ACCOUNT_PAGE);
    expect(await card(page, sunny.igUserId).getAttribute('data-status')).toBe('needs_reconnect');
    await page.getByText('The access was revoked on Instagram.').waitFor();
    await page.getByText(/1 of 1 account needs you/).waitFor();

    await openConsent(page, new RegExp(`^Reconnect @${sunny.username.replace(/\./g, '\\.')}$`));
    await allowAs(page, sunny.username);
    expect(await card(page, sunny.igUserId).getAttribute('data-status')).toBe('active');
    await page.getByText('Your account is working').waitFor();
    const after = await app.container.db.selectFrom('connections').select('id').execute();
    expect(after.map((r) => r.id)).toEqual([before.id]);
  });
});
