import type { Browser, BrowserContext } from 'playwright-core';
import { PAGES, SAM } from '../support/facebook';
import { startTestApp, type TestApp } from '../support/harness';
import { FACEBOOK } from '../support/providers';
import { DESKTOP, focusInfo, launchBrowser, tabTo, type WatchedPage, watchedPage } from './support/browser';
import { ACCOUNT_PAGE, FLOWS } from './support/flows';

const exact = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/**
 * How a person picks the account on each sandbox's consent screen with the keyboard alone: the first
 * choice is preselected, an arrow key moves to the second, Space confirms it. Instagram lists accounts,
 * Facebook lists people (whose Pages and Instagram accounts follow).
 */
const CHOICES = {
  instagram: {
    first: /^@sunny\.bakery\b/,
    second: /^@trail\.runner\.jo\b/,
    chosen: { igUserId: '17841401234567893', username: 'trail.runner.jo' },
    /** The account the Shift+Tab walk connects (Instagram: the preselected one; Facebook: Sam's). */
    walkedBack: 'sunny.bakery',
  },
  facebook: {
    first: /^Alex Rivera\b/,
    second: /^Sam Okafor\b/,
    chosen: { igUserId: '17841409876543213', username: 'harbor.coffee' },
    walkedBack: 'harbor.coffee',
  },
} as const;

// One browser for the whole file: starting chromium costs more than most tests here.
let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser.close();
});

/** Only the keyboard: Tab, Shift+Tab, arrows, Space and Enter. Every focus stop must be visible. */
describe.each(FLOWS)('keyboard only (%s)', (_name, flow) => {
  const p = flow.provider;
  const choice = CHOICES[p.id];
  let app: TestApp;
  let context: BrowserContext;
  let watched: WatchedPage;

  beforeEach(async () => {
    app = await startTestApp({ env: p.env });
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

    const homeStops = await tabTo(page, exact(p.connectLabel));
    expect(homeStops[0]?.label).toBe('Skip to content');
    await page.keyboard.press('Enter');
    await page.waitForURL(flow.consentUrl);

    // The first choice is preselected; the arrow keys move the choice, Space confirms it.
    await tabTo(page, choice.first);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Space');
    const chosen = await focusInfo(page);
    expect(chosen?.label).toMatch(choice.second);
    expect(chosen?.visible).toBe(true);
    expect(await page.getByRole('radio', { name: choice.second }).isChecked()).toBe(true);
    expect(await page.getByRole('radio', { name: choice.first }).isChecked()).toBe(false);

    // Facebook's screen lists every person's Pages and Instagram accounts before its buttons.
    await tabTo(page, /^Allow$/, { max: 40 });
    await page.keyboard.press('Enter');
    await page.waitForURL(ACCOUNT_PAGE);
    const chosenCard = page.locator(`[data-instagram-user-id="${choice.chosen.igUserId}"]`);
    expect(await chosenCard.getAttribute('data-status')).toBe('active');
    expect(await page.locator('[data-instagram-user-id]').count()).toBe(1);

    await tabTo(page, exact(`Disconnect @${choice.chosen.username}`));
    await page.keyboard.press('Enter');
    await page.getByText('The account was disconnected and its token deleted.').waitFor();
    expect(await page.locator('[data-instagram-user-id]').count()).toBe(0);
    expect(watched.problems).toEqual([]);
  });

  it('when the status page is walked backwards with Shift+Tab, then every stop is visible too', async () => {
    const { page } = watched;
    await page.goto(`${app.url}/`);
    await tabTo(page, exact(p.connectLabel));
    await page.keyboard.press('Enter');
    await page.waitForURL(flow.consentUrl);
    if (p.id === 'facebook') {
      // Sam, whose one Page leads to one account: no picker on the way.
      await tabTo(page, choice.first);
      await page.keyboard.press('ArrowDown');
    }
    await tabTo(page, /^Allow$/, { max: 40 });
    await page.keyboard.press('Enter');
    await page.waitForURL(ACCOUNT_PAGE);

    // From the end of the page back to the brand link, through the summary, details and forms.
    await page.keyboard.press('End');
    const stops = await tabTo(page, /^igconnect$/, { shift: true, max: 40 });
    expect(stops.map((s) => s.label)).toEqual(
      expect.arrayContaining(['Sign out of igconnect', `Disconnect @${choice.walkedBack}`, 'Technical details']),
    );
    expect(watched.problems).toEqual([]);
  });
});

describe('keyboard only (any provider)', () => {
  let app: TestApp;
  let context: BrowserContext;
  let watched: WatchedPage;

  beforeEach(async () => {
    app = await startTestApp();
    context = await browser.newContext({ viewport: DESKTOP });
    watched = await watchedPage(context);
  });
  afterEach(async () => {
    await context.close();
    await app.close();
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
});

/** The pages only Facebook Login has: the account picker, and the preview of a public post. */
describe('keyboard only (Facebook Login for Business: picker and preview)', () => {
  let app: TestApp;
  let context: BrowserContext;
  let watched: WatchedPage;

  beforeEach(async () => {
    app = await startTestApp({ env: FACEBOOK.env });
    context = await browser.newContext({ viewport: DESKTOP });
    watched = await watchedPage(context);
  });
  afterEach(async () => {
    await context.close();
    await app.close();
  });

  it('when the picker is used with the keyboard, then an account can be unticked and the rest connected', async () => {
    const { page } = watched;
    await page.goto(`${app.url}/`);
    await tabTo(page, exact(FACEBOOK.connectLabel));
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/sandbox\/facebook\//);
    // Alex, preselected, shares every Page: three accounts are found.
    await tabTo(page, /^Allow$/, { max: 40 });
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/auth\/facebook\/choose(#_=_)?$/);

    await tabTo(page, /^@trail\.runner\.jo · Page Trail Runner Jo$/);
    await page.keyboard.press('Space');
    expect(await page.getByRole('checkbox', { name: /@trail\.runner\.jo/ }).isChecked()).toBe(false);
    await tabTo(page, /^Connect the ticked accounts$/);
    await page.keyboard.press('Enter');
    await page.waitForURL(ACCOUNT_PAGE);
    const connected = await page
      .locator('[data-instagram-user-id]')
      .evaluateAll((cards) => cards.map((c) => c.getAttribute('data-instagram-user-id')));
    expect(connected.sort()).toEqual([PAGES.sunny.ig, PAGES.pixel.ig].sort());
    expect(watched.problems).toEqual([]);
  });

  it('when a public post is previewed with the keyboard, then the address is typed, sent with Enter and the post shown', async () => {
    const { page } = watched;
    // Signed in first (the preview page is for people who connected an account), as Sam: no picker.
    await page.goto(`${app.url}/auth/facebook`);
    await page.locator(`#person-${SAM}`).check();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(ACCOUNT_PAGE);

    await tabTo(page, /^Preview a public Instagram post$/, { max: 40 });
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/account\/preview$/);
    await tabTo(page, /^Post, reel or IGTV address$/);
    await page.keyboard.type('https://www.instagram.com/p/C7sUnNyBk01/');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/account\/preview\?url=/);
    await page.locator('[data-embed]').waitFor();
    await tabTo(page, /^Embed markup from Meta$/);
    await page.keyboard.press('Enter');
    expect(await page.locator('[data-embed] details').getAttribute('open')).not.toBeNull();
    expect(watched.problems).toEqual([]);
  });
});
