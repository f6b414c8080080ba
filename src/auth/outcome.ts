import type { SkippedAccount } from '../providers/provider-definition';

/**
 * What the person reads after connecting: which accounts are connected. The accounts that could not be
 * (left out on the consent screen, or with nothing to connect behind them) travel with the message as
 * data; views/account.ejs says them in words, so the person can fix them.
 */
export interface ConnectedFlash {
  kind: 'success';
  text: string;
  skipped?: SkippedAccount[];
}

export function connectedFlash(usernames: string[], skipped: SkippedAccount[] = []): ConnectedFlash {
  const names = usernames.map((u) => `@${u}`);
  const text =
    names.length === 0
      ? 'Your account is connected.'
      : names.length === 1
        ? `${names[0]} is connected.`
        : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are connected.`;
  return skipped.length > 0 ? { kind: 'success', text, skipped } : { kind: 'success', text };
}

/** For the deployer's details on an error page: which Pages were found and why none could be connected. */
export function skippedDetail(skipped: SkippedAccount[]): string | undefined {
  if (skipped.length === 0) return undefined;
  const why = {
    not_shared: 'not shared',
    no_instagram_account: 'no account linked',
    business_pages_hidden: 'not granted',
  };
  return skipped.map((s) => `“${s.name}” (${why[s.reason]})`).join(', ');
}
