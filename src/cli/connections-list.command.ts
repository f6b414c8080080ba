import { toConnection } from '../connections/connections.service';
import type { CliCommand } from './cli-command';
import { isoMinute, relativeTo, table } from './format';

export const connectionsListCommand: CliCommand = {
  name: 'connections list',
  summary: 'list every connection with its state, expiry and next planned action',
  usage: 'connections list [--json]',
  async run({ container, args, out }) {
    const { db, clock, config } = container;
    const now = clock.now();
    const rows = await db.selectFrom('connections').selectAll().orderBy('connected_at').execute();
    const connections = rows.map((row) => toConnection(row, config.lifecycle));
    if (args.includes('--json')) {
      out.write(
        `${JSON.stringify(
          connections.map(({ tokenFingerprint: _f, ...c }) => c),
          null,
          2,
        )}\n`,
      );
      return 0;
    }
    out.write(
      table(
        ['id', 'username', 'instagram id', 'status', 'token expires', 'last check', 'next'],
        connections.map((c) => [
          c.id,
          `@${c.username}`,
          c.igUserId,
          c.status === 'active' ? 'active' : `needs_reconnect (${c.statusReason ?? '?'})`,
          `${isoMinute(c.tokenExpiresAt.getTime())} (${relativeTo(now, c.tokenExpiresAt.getTime())})`,
          c.lastValidatedAt ? `${c.lastValidationOutcome ?? '?'} ${relativeTo(now, c.lastValidatedAt.getTime())}` : '-',
          c.nextAction.kind === 'none'
            ? 'reconnect needed'
            : `${c.nextAction.kind} ${relativeTo(now, c.nextAction.at)}`,
        ]),
      ),
    );
    out.write(
      `${connections.length} connection(s), ${connections.filter((c) => c.status !== 'active').length} need reconnecting\n`,
    );
    return 0;
  },
};
