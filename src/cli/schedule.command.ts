import { decide } from '../lifecycle/lifecycle-policy';
import { type CliCommand, stringFlag } from './cli-command';
import { isoMinute, relativeTo, table } from './format';

export const scheduleCommand: CliCommand = {
  name: 'schedule',
  summary: 'show what the keeper will do next, soonest first',
  usage: 'schedule [--limit N]',
  options: { limit: { type: 'string' } },
  async run({ container, args, out }) {
    const { db, clock, config } = container;
    const limitText = stringFlag(args, 'limit');
    const limit = limitText === undefined ? 20 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1) {
      out.write('--limit takes a whole number\n');
      return 2;
    }
    const now = clock.now();
    const rows = await db
      .selectFrom('connections')
      .selectAll()
      .where('next_action_at', 'is not', null)
      .orderBy('next_action_at')
      .limit(limit)
      .execute();
    const counts = await db
      .selectFrom('connections')
      .select((eb) => [
        eb.fn.countAll<number>().as('total'),
        eb.fn.count<number>('id').filterWhere('next_action_at', '<=', now).as('due'),
        eb.fn.count<number>('id').filterWhere('status', '=', 'needs_reconnect').as('reconnect'),
      ])
      .executeTakeFirstOrThrow();
    out.write(
      table(
        ['when', '', 'action', 'username', 'id'],
        rows.map((row) => {
          const connection = container.connections.toConnection(row);
          const plan = connection.nextAction;
          const at = plan.kind === 'none' ? Number(row.next_action_at) : plan.at;
          // A due row shows what the keeper will actually do first, which may not be the earliest plan.
          const provider = container.providers.find(connection.provider);
          const due = provider ? decide(connection, now, provider.tokens, config.lifecycle) : 'wait';
          const label = due === 'wait' ? plan.kind : due;
          return [isoMinute(at), relativeTo(now, at), label, `@${connection.profile.username}`, row.id];
        }),
      ),
    );
    out.write(
      `${Number(counts.total)} connection(s): ${Number(counts.due)} due now, ${Number(counts.reconnect)} need reconnecting; ` +
        `keeper ${config.lifecycle.sweepIntervalMs === 0 ? 'disabled here' : `sweeps every ${config.lifecycle.sweepIntervalMs / 1000}s`}` +
        `${config.lifecycle.keeperInWeb ? ' inside the web process' : ' in `npm run worker`'}\n`,
    );
    return 0;
  },
};
