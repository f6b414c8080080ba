import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PAGES } from '../support/facebook';
import { startTestApp, type TestApp } from '../support/harness';
import { FACEBOOK, INSTAGRAM } from '../support/providers';
import { DESKTOP, launchBrowser, type WatchedPage, watchedPage } from './support/browser';
import { ACCOUNT_PAGE, FACEBOOK_FLOW, FLOWS, INSTAGRAM_FLOW, type BrowserFlow } from './support/flows';

const exact = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Clicks Connect (or another link into the flow) and returns once the sandbox's consent screen is up. */
async function openConsent(page: Page, flow: BrowserFlow, linkName: RegExp): Promise<void> {
  await page.getByRole('link', { name: linkName }).first().click();
  await page.waitForURL(flow.consentUrl);
  await page.getByRole('heading', { name: flow.consentHeading }).waitFor();
}

function card(page: Page, igUserId: string) {
  return page.locator(`[data-instagram-user-id="${igUserId}"]`);
}

// One browser for the whole file: starting chromium costs more than most tests here.
let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser.close();
});

/** A fresh app for `env` and a page in a browser context that keeps the CSP, per test. */
function browserPerTest(env: () => Record<string, string>) {
  const state = {} as { app: TestApp; context: BrowserContext; watched: WatchedPage };
  beforeEach(async () => {
    state.app = await startTestApp({ env: env() });
    state.context = await browser.newContext({ viewport: DESKTOP });
    state.watched = await watchedPage(state.context);
  });
  afterEach(async () => {
    await state.context.close();
    await state.app.close();
  });
  return state;
}

describe.each(FLOWS)('connecting in a real browser (%s)', (_name, flow) => {
  const p = flow.provider;
  const [sunny, jo] = p.accounts;
  const t = browserPerTest(() => p.env);
  const connectionCount = async () => (await t.app.container.db.selectFrom('connections').selectAll().execute()).length;

  it('when a person connects two accounts and disconnects one, then the other remains', async () => {
    const { page } = t.watched;
    await page.goto(`${t.app.url}/`);
    await openConsent(page, flow, exact(p.connectLabel));
    await flow.allowAs(page, jo);

    await page.getByText(`@${jo.username} is connected.`).waitFor();
    expect(await card(page, jo.igUserId).getAttribute('data-status')).toBe('active');
    expect(await card(page, jo.igUserId).getAttribute('data-provider')).toBe(p.id);
    const joCard = await card(page, jo.igUserId).innerText();
    for (const fact of flow.cardFacts(jo)) expect(joCard).toContain(fact);

    await openConsent(page, flow, flow.anotherLink);
    await flow.allowAs(page, sunny);
    expect(await page.locator('[data-instagram-user-id]').count()).toBe(2);
    expect(await page.getByRole('heading', { name: 'All 2 accounts are working' }).count()).toBe(1);

    await page.getByRole('button', { name: `Disconnect @${jo.username}` }).click();
    await page.waitForURL(ACCOUNT_PAGE);
    await page.getByText('The account was disconnected and its token deleted.').waitFor();
    expect(await card(page, jo.igUserId).count()).toBe(0);
    expect(await card(page, sunny.igUserId).getAttribute('data-status')).toBe('active');
    expect(await connectionCount()).toBe(1);
    expect(t.watched.problems).toEqual([]);
  });

  it('when the person denies on the consent screen, then the cancel page says so and nothing is stored', async () => {
    const { page } = t.watched;
    await page.goto(`${t.app.url}/`);
    await openConsent(page, flow, exact(p.connectLabel));
    const response = page.waitForResponse((r) => r.url().includes(p.resultPath));
    await page.getByRole('button', { name: p.cancelLabel }).click();
    expect((await response).status()).toBe(200);

    await page.locator('[data-error-code="CONNECT_CANCELLED"]').waitFor();
    // The callback redirected: neither the state nor the error stays in the address bar.
    expect(new URL(page.url()).pathname).toBe(p.resultPath);
    expect(new URL(page.url()).search).toBe('');
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Connection cancelled');
    // The way forward leads back into the flow.
    expect(await page.getByRole('link', { name: p.connectLabel }).getAttribute('href')).toBe(p.startPath);
    expect(await connectionCount()).toBe(0);
    expect(t.watched.problems).toEqual([]);
  });

  it('when the callback cannot be matched to the browser, then the error page explains it and hides the details', async () => {
    const { page } = t.watched;
    const response = await page.goto(`${t.app.url}${p.callbackPath}?code=abc&state=not-ours`);
    expect(response?.status()).toBe(400);
    await page.locator('[data-error-code="STATE_INVALID"]').waitFor();
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('This sign-in link has expired');
    expect(await page.getByRole('link', { name: 'Connect again' }).getAttribute('href')).toBe(p.startPath);
    const details = page.locator('details.deployer');
    expect(await details.getAttribute('open')).toBeNull();
    expect(await page.getByText(/check TRUST_PROXY/).isVisible()).toBe(false);
    await page.getByText('For the site owner').click();
    expect(await page.getByText(/check TRUST_PROXY/).isVisible()).toBe(true);
    expect(t.watched.problems).toEqual([]);
  });

  it('when a token is revoked, then the status page shows Reconnect and reconnecting works', async () => {
    const { page } = t.watched;
    await page.goto(`${t.app.url}/`);
    await openConsent(page, flow, exact(p.connectLabel));
    await flow.allowAs(page, sunny);
    const before = await t.app.container.db.selectFrom('connections').select('id').executeTakeFirstOrThrow();

    // The person revokes the access at the provider; the next check finds out.
    p.revoke(t.app, sunny);
    await card(page, sunny.igUserId).getByRole('button', { name: 'Validate now' }).click();
    await page.waitForURL(ACCOUNT_PAGE);
    expect(await card(page, sunny.igUserId).getAttribute('data-status')).toBe('needs_reconnect');
    await page.getByText(flow.revokedText).waitFor();
    await page.getByText(/1 of 1 account needs you/).waitFor();

    await openConsent(page, flow, exact(`Reconnect @${sunny.username}`));
    await flow.allowAs(page, sunny);
    expect(await card(page, sunny.igUserId).getAttribute('data-status')).toBe('active');
    await page.getByText('Your account is working').waitFor();
    const after = await t.app.container.db.selectFrom('connections').select('id').execute();
    expect(after.map((r) => r.id)).toEqual([before.id]);
  });
});

/** The status page's own behaviour, the same whichever way the account came in. */
describe('connecting in a real browser (any provider)', () => {
  const [sunny] = INSTAGRAM.accounts;
  const t = browserPerTest(() => INSTAGRAM.env);

  it('when Disconnect is pressed, then the button shows it is busy and a second press is not sent', async () => {
    const { page } = t.watched;
    await page.goto(`${t.app.url}/`);
    await openConsent(page, INSTAGRAM_FLOW, exact(INSTAGRAM.connectLabel));
    await INSTAGRAM_FLOW.allowAs(page, sunny);

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
    expect(t.watched.problems).toEqual([]);
  });
});

/**
 * Facebook Login only: one authorization reaches every Instagram account behind the person's Pages; the
 * person picks among several, and Pages they unticked on Facebook's screen are named.
 */
describe('choosing accounts in a real browser (Facebook Login for Business)', () => {
  const t = browserPerTest(() => FACEBOOK.env);

  it('when a person with two linked Pages unticks a third, then both accounts connect in one go and the unticked Page is named', async () => {
    const { page } = t.watched;
    await page.goto(`${t.app.url}/`);
    await openConsent(page, FACEBOOK_FLOW, exact(FACEBOOK.connectLabel));
    // Alex Rivera, the first person, is preselected with every Page; Pixel Garden Studio is left out.
    expect(await page.locator('input[name="person"]:checked').getAttribute('value')).toBe(
      FACEBOOK.accounts[0].subjectId,
    );
    await page.getByRole('checkbox', { name: new RegExp(`Page ${PAGES.pixel.name}`) }).uncheck();
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.waitForURL(/\/auth\/facebook\/choose(#_=_)?$/);
    await page.getByRole('heading', { name: 'Choose the accounts to connect' }).waitFor();
    const boxes = page.getByRole('checkbox');
    expect(await boxes.count()).toBe(2);
    for (const p of [PAGES.sunny, PAGES.trail]) {
      const box = page.getByRole('checkbox', {
        name: new RegExp(`@${p.username.replace(/\./g, '\\.')} · Page ${p.name}`),
      });
      expect(await box.isChecked()).toBe(true);
    }
    await page.getByText(`The Page “${PAGES.pixel.name}” was left out when you chose what to share.`).waitFor();
    await page.getByText(`The Page “${PAGES.corner.name}” has no Instagram professional account linked.`).waitFor();

    await page.getByRole('button', { name: 'Connect the ticked accounts' }).click();
    await page.waitForURL(ACCOUNT_PAGE);
    const flash = await page.getByRole('status').innerText();
    expect(flash).toContain(`@${PAGES.sunny.username} and @${PAGES.trail.username} are connected.`);
    expect(flash).toContain(`“${PAGES.pixel.name}” was left out when you chose which Pages to share`);
    for (const p of [PAGES.sunny, PAGES.trail]) {
      expect(await card(page, p.ig).getAttribute('data-provider')).toBe('facebook');
      expect(await card(page, p.ig).getAttribute('data-status')).toBe('active');
    }
    expect(await card(page, PAGES.pixel.ig).count()).toBe(0);
    const rows = await t.app.container.db.selectFrom('connections').select('account_id').execute();
    expect(rows.map((r) => r.account_id).sort()).toEqual([PAGES.sunny.ig, PAGES.trail.ig].sort());
    expect(t.watched.problems).toEqual([]);
  });

  it('when the person unticks an account in the picker, then only the ticked one is connected', async () => {
    const { page } = t.watched;
    await page.goto(`${t.app.url}/`);
    await openConsent(page, FACEBOOK_FLOW, exact(FACEBOOK.connectLabel));
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(/\/auth\/facebook\/choose(#_=_)?$/);
    // Every account behind Alex's Pages, the business-owned one too (business_management is asked for).
    expect(await page.getByRole('checkbox').count()).toBe(3);
    await page.getByRole('checkbox', { name: new RegExp(`@${PAGES.sunny.username.replace(/\./g, '\\.')}`) }).uncheck();
    await page.getByRole('button', { name: 'Connect the ticked accounts' }).click();
    await page.waitForURL(ACCOUNT_PAGE);
    expect(await page.locator('[data-instagram-user-id]').count()).toBe(2);
    expect(await card(page, PAGES.sunny.ig).count()).toBe(0);
    expect(t.watched.problems).toEqual([]);
  });
});
