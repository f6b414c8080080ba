import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { SANDBOX_TEST_ACCOUNTS } from '../../src/sandbox/sandbox';
import { apiKey, bearer } from '../api/api-support';
import { startTestApp, type TestApp } from '../support/harness';
import {
  type AxeSummary,
  blockingViolations,
  DESKTOP,
  launchBrowser,
  runAxe,
  type WatchedPage,
  watchedPage,
} from './support/browser';

const [sunny, jo] = SANDBOX_TEST_ACCOUNTS as [(typeof SANDBOX_TEST_ACCOUNTS)[0], (typeof SANDBOX_TEST_ACCOUNTS)[0]];

/** The deployer's own site, on another origin: the page return_url points at shows what it was given. */
async function startDeployerSite(): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><title>Deployer</title><h1>Back at the deployer</h1></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function consentAs(page: Page, username: string): Promise<void> {
  await page.getByRole('heading', { name: /Allow app/ }).waitFor();
  await page.getByRole('radio', { name: new RegExp(`@${username.replace(/\./g, '\\.')}\\b`) }).check();
}

describe('connect links in a real browser', () => {
  let app: TestApp;
  let deployer: { origin: string; server: Server };
  let browser: Browser;
  let key: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser.close();
  });
  beforeEach(async () => {
    deployer = await startDeployerSite();
    app = await startTestApp({ env: { RETURN_URL_ORIGINS: deployer.origin } });
    ({ key } = await apiKey(app));
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    await app.close();
    await new Promise<void>((resolve) => deployer.server.close(() => resolve()));
  });

  async function createLink(body: Record<string, unknown>): Promise<{ id: string; url: string }> {
    const response = await app.agent().post('/api/v1/connect-sessions').set(bearer(key)).send(body);
    expect(response.status).toBe(201);
    return response.body as { id: string; url: string };
  }

  /** A browser of its own (cookies, session), keeping the app's CSP unless axe must run in it. */
  async function newBrowserPage(options: { bypassCSP?: boolean } = {}): Promise<WatchedPage> {
    const context = await browser.newContext({ viewport: DESKTOP, bypassCSP: options.bypassCSP ?? false });
    contexts.push(context);
    return watchedPage(context);
  }

  it('when two browsers open the same link and both allow, then only one connection results, for that end user', async () => {
    const link = await createLink({ end_user_id: 'user-42', return_url: `${deployer.origin}/instagram/done?step=2` });
    const [first, second] = [await newBrowserPage(), await newBrowserPage()];

    // Both open the link and reach Instagram's consent screen, each choosing a different account.
    await Promise.all([first.page.goto(link.url), second.page.goto(link.url)]);
    await consentAs(first.page, sunny.username);
    await consentAs(second.page, jo.username);

    // Both press Allow at the same moment.
    await Promise.all([
      first.page.getByRole('button', { name: 'Allow' }).click(),
      second.page.getByRole('button', { name: 'Allow' }).click(),
    ]);
    const landed = (page: Page) =>
      page.waitForURL((url) => url.origin === deployer.origin || url.pathname === '/connect/result');
    await Promise.all([landed(first.page), landed(second.page)]);

    const pages = [first.page, second.page];
    const back = pages.filter((page) => new URL(page.url()).origin === deployer.origin);
    const refused = pages.filter((page) => new URL(page.url()).pathname === '/connect/result');
    expect(back).toHaveLength(1);
    expect(refused).toHaveLength(1);

    const rows = await app.container.db.selectFrom('connections').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.end_user_id).toBe('user-42');

    const returned = new URL(back[0]?.url() ?? '');
    expect(returned.pathname).toBe('/instagram/done');
    expect([...returned.searchParams]).toEqual([
      ['step', '2'],
      ['connection_id', rows[0]?.id],
      ['status', 'connected'],
    ]);
    await back[0]?.getByRole('heading', { name: 'Back at the deployer' }).waitFor();

    const loser = refused[0] as Page;
    await loser.getByRole('heading', { name: 'This link was already used' }).waitFor();
    const backLink = loser.getByRole('link', { name: `Back to ${new URL(deployer.origin).host}` });
    expect(await backLink.getAttribute('href')).toBe(
      `${deployer.origin}/instagram/done?step=2&status=error&error=link_used`,
    );
    // Neither browser was signed in to igconnect.
    for (const page of pages) {
      await page.goto(`${app.url}/account`);
      expect(await page.locator('[data-instagram-user-id]').count()).toBe(0);
    }
    expect(first.problems).toEqual([]);
    expect(second.problems).toEqual([]);
  });

  it('when a link is cancelled, used, reused or unknown, then every page it shows passes axe', async () => {
    const { page, problems } = await newBrowserPage({ bypassCSP: true });
    const summaries: AxeSummary[] = [];
    const check = async (name: string, status: number | undefined, expected: number) => {
      expect({ name, status }).toEqual({ name, status: expected });
      const summary = await runAxe(page, name);
      summaries.push(summary);
      expect({ page: name, blocking: blockingViolations(summary) }).toEqual({ page: name, blocking: [] });
    };

    const link = await createLink({ end_user_id: 'user-7' });
    await page.goto(link.url);
    await consentAs(page, sunny.username);
    const cancelled = page.waitForResponse((r) => r.url().endsWith('/connect/result'));
    await page.getByRole('button', { name: 'Deny' }).click();
    await check('link cancelled', (await cancelled).status(), 200);
    await page.getByRole('heading', { name: 'Connection cancelled' }).waitFor();

    await page.goto(link.url);
    await consentAs(page, sunny.username);
    const connected = page.waitForResponse((r) => r.url().endsWith('/connect/result'));
    await page.getByRole('button', { name: 'Allow' }).click();
    await check('link connected', (await connected).status(), 200);
    await page.getByText(`@${sunny.username} is connected.`).waitFor();
    // No way into igconnect's own pages: the person belongs to the deployer's product.
    expect(await page.getByRole('link', { name: 'Connected accounts' }).count()).toBe(0);

    await check('link closed', (await page.reload())?.status(), 200);
    await page.getByRole('heading', { name: 'You can close this page' }).waitFor();

    await check('link used', (await page.goto(link.url))?.status(), 410);
    const withReturn = await createLink({ end_user_id: 'user-7', return_url: `${deployer.origin}/back` });
    app.clock.advance(1800_000);
    await check('link expired', (await page.goto(withReturn.url))?.status(), 410);
    await page.getByRole('link', { name: /^Back to / }).waitFor();
    await check('link unknown', (await page.goto(`${app.url}/connect/igcl_${'A'.repeat(43)}`))?.status(), 404);

    app.sandbox.script('token', { status: 500, body: 'upstream exploded' });
    const failing = await createLink({ end_user_id: 'user-7' });
    await page.goto(failing.url);
    await consentAs(page, jo.username);
    const failed = page.waitForResponse((r) => r.url().endsWith('/connect/result'));
    await page.getByRole('button', { name: 'Allow' }).click();
    await check('link error', (await failed).status(), 503);
    await page.getByRole('heading', { name: 'Instagram did not answer' }).waitFor();
    expect(problems).toEqual([]);
  });
});
