import type { CliCommand } from './cli-command';
import { isoMinute, relativeTo, table } from './format';

export const connectionsListCommand: CliCommand = {
  name: 'connections list',
  summary: 'list every connection with its state, expiry and next planned action',
  usage: 'connections list [--json]',
  options: { json: { type: 'boolean' } },
  async run({ container, args, out }) {
    const now = container.clock.now();
    const connections = await container.connections.listAll();
    if (args.values.json === true) {
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
        ['id', 'provider', 'username', 'account id', 'status', 'token expires', 'last check', 'next'],
        connections.map((c) => [
          c.id,
          c.provider,
          `@${c.profile.username}`,
          c.accountId,
          c.status === 'active' ? 'active' : `needs_reconnect (${c.statusReason ?? '?'})`,
          c.tokenExpiresAt === null ? 'never' : `${isoMinute(c.tokenExpiresAt)} (${relativeTo(now, c.tokenExpiresAt)})`,
          c.lastValidatedAt !== null ? `${c.lastValidationOutcome ?? '?'} ${relativeTo(now, c.lastValidatedAt)}` : '-',
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
