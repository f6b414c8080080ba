import { describeKeyUsage, findUnreadableTokens, keyUsage } from '../connections/key-rotation';
import { choicesPerKey } from '../connections/pending-choices';
import type { CliCommand } from './cli-command';

/**
 * Pending choices (Facebook Login's picker) hold Page tokens sealed for at most 15 minutes; they are
 * counted apart from connections, and `keys rotate` re-seals them too.
 */
export function describeChoices(perKey: Map<string, number>, currentKeyId: string): string {
  if (perKey.size === 0) return 'pending choices (Facebook Login picker): none\n';
  const lines = [...perKey].map(
    ([keyId, n]) => `  ${keyId}${keyId === currentKeyId ? ' (current)' : ''}: ${n} choice${n === 1 ? '' : 's'}`,
  );
  return `pending choices (Facebook Login picker, each gone within 15 minutes) per key id:\n${lines.join('\n')}\n`;
}

/** Which key each stored token uses, and every token that cannot be decrypted with the configured ring. */
export const keysStatusCommand: CliCommand = {
  name: 'keys status',
  summary: 'count stored tokens per encryption key id and list tokens that cannot be decrypted',
  async run({ container, out, err }) {
    const { db, vault } = container;
    const usage = await keyUsage({ db, vault });
    out.write(`rows per key id:\n${describeKeyUsage(usage).join('\n')}\n`);
    const old = usage.filter((u) => !u.current).reduce((sum, u) => sum + u.rows, 0);
    out.write(`${old} row${old === 1 ? '' : 's'} on old keys${old > 0 ? ' (run `keys rotate`)' : ''}\n`);
    out.write(describeChoices(await choicesPerKey(db), vault.currentKeyId));
    const unreadable = await findUnreadableTokens({ db, vault });
    if (unreadable.length === 0) {
      out.write('every stored token decrypts\n');
      return 0;
    }
    err.write(`could not decrypt ${unreadable.length} token(s); these connections must connect again:\n`);
    for (const u of unreadable) err.write(`  connection ${u.connectionId} (key ${u.keyId}): ${u.reason}\n`);
    return 1;
  },
};
