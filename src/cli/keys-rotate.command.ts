import { countRowsOnOldKeys, describeKeyUsage, keyUsage, rotateTokenKeys } from '../connections/key-rotation';
import { resealChoices } from '../connections/pending-choices';
import { type CliCommand, stringFlag } from './cli-command';
import { createProgress } from './progress';

const DEFAULT_BATCH_SIZE = 100;

/**
 * Re-encrypts every token still on an old key under the ring's first key. Safe while the app runs and
 * safe to interrupt (Ctrl-C finishes the current batch): run it again to continue.
 */
export const keysRotateCommand: CliCommand = {
  name: 'keys rotate',
  summary: 're-encrypt every stored token under the current (first) key of TOKEN_ENCRYPTION_KEYS',
  usage: 'keys rotate [--batch-size N]',
  options: { 'batch-size': { type: 'string' } },
  async run({ container, args, out, err }) {
    const batchSize = parseBatchSize(stringFlag(args, 'batch-size'));
    if (batchSize === undefined) {
      err.write('--batch-size must be a whole number from 1 to 10000\n');
      return 2;
    }
    const { db, vault, connections } = container;
    const total = await countRowsOnOldKeys({ db, vault });
    out.write(`${total} token${total === 1 ? '' : 's'} to move onto key ${vault.currentKeyId}\n`);
    const progress = createProgress({ total, label: 'keys rotate', stream: err });
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    let result;
    try {
      result = await rotateTokenKeys(
        { db, vault, connections },
        { batchSize, signal: controller.signal, onBatch: (n) => progress.tick(n) },
      );
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    if (!result.interrupted) progress.done();

    out.write(`rotated ${result.rotated}; changed by the app meanwhile ${result.changedMeanwhile}\n`);
    if (!result.interrupted) {
      // The picker's sealed Page tokens too: an old key removed after this run must strand none of them.
      const choices = await resealChoices(db, vault, container.clock.now());
      out.write(
        `pending choices: re-sealed ${choices.resealed}; expired and deleted ${choices.expiredDeleted}; unreadable and deleted ${choices.unreadableDeleted}\n`,
      );
    }
    const usage = await keyUsage({ db, vault });
    const remaining = usage.filter((u) => !u.current).reduce((sum, u) => sum + u.rows, 0);
    out.write(`rows per key id:\n${describeKeyUsage(usage).join('\n')}\n`);
    out.write(`${remaining} row${remaining === 1 ? '' : 's'} remain on old keys\n`);
    if (result.interrupted) out.write('interrupted: run `keys rotate` again to continue\n');
    if (result.unreadable.length > 0) {
      err.write(`could not decrypt ${result.unreadable.length} token(s); these connections must connect again:\n`);
      for (const u of result.unreadable) err.write(`  connection ${u.connectionId} (key ${u.keyId}): ${u.reason}\n`);
      return 1;
    }
    return result.interrupted ? 1 : 0;
  },
};

function parseBatchSize(value: string | undefined): number | undefined {
  if (value === undefined) return DEFAULT_BATCH_SIZE;
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 && n <= 10000 ? n : undefined;
}
