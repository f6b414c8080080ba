import type { Page } from 'playwright-core';
import { SANDBOX_FACEBOOK_PEOPLE } from '../../../src/sandbox/sandbox';
import { FACEBOOK, INSTAGRAM, type ProviderCase, type TestAccount } from '../../support/providers';

/**
 * Each way in as a person clicks through it in the browser: the sandbox's consent screen, choosing one
 * account there, and what the status page then says about it. The browser suites run once per entry.
 */

// Meta appends a fragment to its redirect (Instagram `#_`, Facebook `#_=_`), and a fragment survives the
// app's own redirect to /account.
export const ACCOUNT_PAGE = /\/account(#_(=_)?)?$/;

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export interface BrowserFlow {
  provider: ProviderCase;
  /** The consent screen's address. */
  consentUrl: RegExp;
  /** Its main heading. */
  consentHeading: RegExp;
  /** The link on the status page that adds another account through this way in. */
  anotherLink: RegExp;
  /** On the consent screen: chooses `account` alone and allows; returns once back on the status page. */
  allowAs(page: Page, account: TestAccount): Promise<void>;
  /** What the account's card says right after connecting (the harness clock: 2026-11-01 12:00 UTC). */
  cardFacts(account: TestAccount): string[];
  /** The status page's sentence for a connection whose access was revoked at the provider. */
  revokedText: string;
}

export const INSTAGRAM_FLOW: BrowserFlow = {
  provider: INSTAGRAM,
  consentUrl: /\/sandbox\/oauth\/authorize\?/,
  consentHeading: /Allow app/,
  // Only Instagram Login configured: the status page's button has no provider in its name.
  anotherLink: /^Connect another account$/,
  allowAs: async (page, account) => {
    await page.getByRole('radio', { name: new RegExp(`@${escape(account.username)}\\b`) }).check();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(ACCOUNT_PAGE);
  },
  // A long-lived token lasts 5183944 s (60 days); Jo is a creator, the others businesses.
  cardFacts: (account) => [
    'Working',
    'in 60 days',
    'Thu, 31 Dec 2026, 11:59 UTC',
    account.username === 'trail.runner.jo' ? 'Creator account' : 'Business account',
  ],
  revokedText: 'The access was revoked on Instagram.',
};

/** The Pages of the person behind an account, as the dialog lists them. */
function pagesOf(account: TestAccount) {
  return SANDBOX_FACEBOOK_PEOPLE.find((person) => person.id === account.subjectId)?.pages ?? [];
}

export const FACEBOOK_FLOW: BrowserFlow = {
  provider: FACEBOOK,
  consentUrl: /\/sandbox\/facebook\/v\d+\.\d+\/dialog\/oauth\?/,
  consentHeading: /wants to use your Facebook account/,
  // Both ways in configured: each button names its own.
  anotherLink: /^Connect through Facebook$/,
  allowAs: async (page, account) => {
    await page.locator(`#person-${account.subjectId}`).check();
    // Granular consent: only the account's Page (and its Instagram account) stays ticked, so that this
    // one account is found and the picker is skipped.
    for (const p of pagesOf(account)) {
      if (p.id === account.pageId) await page.locator(`#page-${p.id}`).check();
      else await page.locator(`#page-${p.id}`).uncheck();
    }
    await page.locator(`#ig-${account.igUserId}`).check();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(ACCOUNT_PAGE);
  },
  // A Page token from a long-lived user token never expires; data access lapses 90 days after connecting.
  cardFacts: (account) => [
    'Working',
    'Never',
    'Data access ends',
    'in 90 days',
    'Business account',
    `through the Facebook Page ${pagesOf(account).find((p) => p.id === account.pageId)?.name ?? '?'}`,
  ],
  revokedText: 'The access was revoked on Facebook.',
};

/** For `describe.each`: each entry's name first, for `%s` in the title. */
export const FLOWS: ReadonlyArray<[string, BrowserFlow]> = [
  [INSTAGRAM.name, INSTAGRAM_FLOW],
  [FACEBOOK.name, FACEBOOK_FLOW],
];
