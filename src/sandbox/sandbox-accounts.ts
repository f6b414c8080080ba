import { isDecimalId } from './sandbox-wire';

export interface SandboxAccount {
  /** App-scoped user id: `id` on /me and `user_id` in the code-exchange answer. */
  appScopedId: string;
  /** Instagram professional account id (17841…): `user_id` on /me, the id webhooks use. */
  igUserId: string;
  username: string;
  name: string;
  accountType: 'BUSINESS' | 'MEDIA_CREATOR';
  followersCount: number;
  mediaCount: number;
  /** In development mode only accepted Instagram Testers may authorize ("Insufficient developer role"). */
  tester: boolean;
}

export type SandboxProfileUpdate = Partial<Omit<SandboxAccount, 'appScopedId' | 'igUserId'>>;

/**
 * Built-in professional accounts. Every id is odd and above 2^53, so `JSON.parse` changes its last digit
 * (17841405793187219 → …220): a client that parses the flat token answer naively stores the wrong id.
 * The first account is the one docs/instagram-platform.md and the app's tests name.
 */
export const SANDBOX_TEST_ACCOUNTS: readonly SandboxAccount[] = Object.freeze(
  [
    {
      appScopedId: '26173461234567891',
      igUserId: '17841405793187219',
      username: 'sunny.bakery',
      name: 'Sunny Bakery',
      accountType: 'BUSINESS',
      followersCount: 1284,
      mediaCount: 87,
      tester: true,
    },
    {
      appScopedId: '26173469876543211',
      igUserId: '17841401234567893',
      username: 'trail.runner.jo',
      name: 'Jo on the Trails',
      accountType: 'MEDIA_CREATOR',
      followersCount: 15230,
      mediaCount: 412,
      tester: true,
    },
    {
      appScopedId: '26173462468013579',
      igUserId: '17841407654321097',
      username: 'pixel.garden.studio',
      name: 'Pixel Garden Studio',
      accountType: 'BUSINESS',
      followersCount: 342,
      mediaCount: 19,
      tester: true,
    },
    {
      appScopedId: '26173463333333333',
      igUserId: '17841408888888881',
      username: 'not_a_tester',
      name: 'Not A Tester',
      accountType: 'MEDIA_CREATOR',
      followersCount: 57,
      mediaCount: 3,
      tester: false,
    },
  ].map((account) => Object.freeze(account as SandboxAccount)),
);

/** Fails fast on accounts the wire format cannot carry (the flat answer writes ids as bare numbers). */
export function validateAccounts(accounts: readonly SandboxAccount[]): SandboxAccount[] {
  if (accounts.length === 0) throw new Error('sandbox needs at least one account');
  const ids = new Set<string>();
  for (const account of accounts) {
    for (const id of [account.appScopedId, account.igUserId]) {
      if (!isDecimalId(id)) throw new Error(`sandbox account ids must be decimal digits: ${id}`);
      if (ids.has(id)) throw new Error(`sandbox account id used twice: ${id}`);
      ids.add(id);
    }
  }
  return accounts.map((account) => ({ ...account }));
}
