import type { SkippedAccount } from '../providers/provider-definition';

/**
 * What the person reads after connecting: which accounts are connected, and which Pages could not be —
 * left out on the consent screen, or without an Instagram account — so they can fix it.
 */
export function connectedText(usernames: string[], skipped: SkippedAccount[] = []): string {
  const names = usernames.map((u) => `@${u}`);
  const done =
    names.length === 0
      ? 'Your account is connected.'
      : names.length === 1
        ? `${names[0]} is connected.`
        : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are connected.`;
  return [done, skippedText(skipped)].filter(Boolean).join(' ');
}

export function skippedText(skipped: SkippedAccount[]): string {
  const notShared = skipped.filter((s) => s.reason === 'not_shared').map((s) => `“${s.name}”`);
  const noAccount = skipped.filter((s) => s.reason === 'no_instagram_account').map((s) => `“${s.name}”`);
  const parts: string[] = [];
  if (notShared.length > 0) {
    parts.push(
      `Not connected: ${list(notShared)} ${notShared.length === 1 ? 'was' : 'were'} left out when you chose which Pages to share. Connect again and tick ${notShared.length === 1 ? 'it' : 'them'} to add ${notShared.length === 1 ? 'its' : 'their'} Instagram account.`,
    );
  }
  if (noAccount.length > 0) {
    parts.push(
      `${list(noAccount)} ${noAccount.length === 1 ? 'has' : 'have'} no Instagram professional account linked; link one in the Page's settings to connect it.`,
    );
  }
  return parts.join(' ');
}

function list(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
