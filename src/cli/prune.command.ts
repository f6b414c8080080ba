import type { RetentionConfig } from '../config/config';
import { type CliCommand, stringFlag } from './cli-command';
import { table } from './format';

const MAX_BATCH_SIZE = 10_000;

/**
 * Runs the retention job now (what keeper processes run every RETENTION_INTERVAL_HOURS): safe while the
 * app runs, in batches, and safe to interrupt (Ctrl-C finishes the batch under way; run it again).
 */
export const pruneCommand: CliCommand = {
  name: 'prune',
  summary: 'delete what igconnect no longer keeps (old audit records and events, expired links, ...) now',
  usage: 'prune [--batch-size N]',
  options: { 'batch-size': { type: 'string' } },
  async run({ container, args, out, err }) {
    const text = stringFlag(args, 'batch-size');
    const batchSize = text === undefined ? container.config.retention.batchSize : Number(text);
    if (text !== undefined && !(/^\d{1,5}$/.test(text) && batchSize >= 1 && batchSize <= MAX_BATCH_SIZE)) {
      err.write(`--batch-size must be a whole number from 1 to ${MAX_BATCH_SIZE}\n`);
      return 2;
    }
    out.write(describeRetention(container.config.retention));
    const stop = () => void container.retention.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    let summary;
    try {
      summary = await container.retention.run({ batchSize });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    out.write(
      table(
        ['table', 'deleted'],
        Object.entries(summary.deleted).map(([name, n]) => [name, String(n)]),
      ),
    );
    const total = Object.values(summary.deleted).reduce((sum, n) => sum + n, 0);
    out.write(
      `deleted ${total} row${total === 1 ? '' : 's'} in ${summary.batches} batch${summary.batches === 1 ? '' : 'es'} of at most ${batchSize}\n`,
    );
    if (summary.interrupted) {
      out.write('interrupted: run `prune` again to continue\n');
      return 1;
    }
    return 0;
  },
};

function days(ms: number, what: string): string {
  const n = Math.round(ms / 86_400_000);
  return ms === 0 ? `${what}: kept forever` : `${what}: ${n} day${n === 1 ? '' : 's'}`;
}

export function describeRetention(settings: RetentionConfig): string {
  return [
    'keeping:',
    `  ${days(settings.auditMs, 'token reads (audit)')}`,
    `  ${days(settings.eventsMs, 'delivered or given-up events')}`,
    `  ${days(settings.connectLinksMs, 'connect links, past their expiry')}`,
    '  expired sessions, sign-in states, pending choices and rate-limit windows: deleted',
    '',
  ].join('\n');
}
