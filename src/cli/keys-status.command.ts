import { describeKeyUsage, findUnreadableTokens, keyUsage } from '../connections/key-rotation';
import type { CliCommand } from './cli-command';

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
