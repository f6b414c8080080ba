import { randomUUID } from 'node:crypto';
import { type EventStatus, listEvents, statusOf } from '../events/events.repository';
import { type CliCommand, stringFlag } from './cli-command';
import { isoMinute, table } from './format';

const STATUSES: readonly EventStatus[] = ['pending', 'delivered', 'failed'];
const iso = (epochMs: number | null) => (epochMs === null ? null : new Date(Number(epochMs)).toISOString());

/** The outbox of signed events, newest first: what was sent, what waits, and what was given up. */
export const eventsListCommand: CliCommand = {
  name: 'events list',
  summary: 'list signed events, newest first, with their delivery state',
  usage: 'events list [--status pending|delivered|failed] [--limit N] [--json]',
  options: { status: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  async run({ container, args, out, err }) {
    const status = stringFlag(args, 'status');
    if (status !== undefined && !STATUSES.includes(status as EventStatus)) {
      err.write(`--status must be one of ${STATUSES.join(', ')}\n`);
      return 2;
    }
    const limitText = stringFlag(args, 'limit') ?? '50';
    const limit = /^\d+$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= 10_000)) {
      err.write('--limit must be a whole number from 1 to 10000\n');
      return 2;
    }
    const events = await listEvents(container.db, { status: status as EventStatus | undefined, limit });
    if (args.values.json === true) {
      const rows = events.map((e) => ({
        id: e.id,
        type: e.type,
        connection_id: e.connection_id,
        seq: Number(e.seq),
        status: statusOf(e),
        created_at: iso(e.created_at),
        attempts: Number(e.attempts),
        next_attempt_at: iso(e.next_attempt_at),
        delivered_at: iso(e.delivered_at),
        failed_at: iso(e.failed_at),
        last_error: e.last_error,
      }));
      out.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    if (!container.config.events) {
      err.write(
        'events are not configured here (EVENTS_WEBHOOK_URL, EVENTS_WEBHOOK_SECRET): nothing new is recorded\n',
      );
    }
    out.write(
      table(
        ['id', 'type', 'connection', 'created', 'status', 'attempts', 'when', 'last error'],
        events.map((e) => {
          const state = statusOf(e);
          const when =
            state === 'delivered'
              ? Number(e.delivered_at)
              : state === 'failed'
                ? Number(e.failed_at)
                : Number(e.next_attempt_at);
          return [
            e.id,
            e.type,
            e.connection_id,
            isoMinute(Number(e.created_at)),
            state,
            String(e.attempts),
            `${state === 'pending' ? 'next ' : ''}${isoMinute(when)}`,
            e.last_error ?? '-',
          ];
        }),
      ),
    );
    out.write(`${events.length} event(s)\n`);
    return 0;
  },
};

/** Sends one event again now, with the same webhook-id, whatever its state; prints the receiver's answer. */
export const eventsRedeliverCommand: CliCommand = {
  name: 'events redeliver',
  summary: 'deliver one event again now (same webhook-id), even a delivered or given-up one',
  usage: 'events redeliver ID',
  maxPositionals: 1,
  async run({ container, args, out, err }) {
    const id = args.positionals[0];
    if (!id) {
      err.write('usage: npm run cli -- events redeliver ID\n');
      return 2;
    }
    const relay = container.createRelay(`cli:${randomUUID().slice(0, 8)}`);
    if (!relay) {
      err.write('events are not configured: set EVENTS_WEBHOOK_URL and EVENTS_WEBHOOK_SECRET\n');
      return 1;
    }
    const result = await relay.redeliver(id);
    switch (result.outcome) {
      case 'delivered':
        out.write(`delivered ${id} (HTTP ${result.status})\n`);
        return 0;
      case 'failed':
        err.write(`${id} was not accepted: ${result.error}\n`);
        return 1;
      case 'not_found':
        err.write(`no event with id ${id}\n`);
        return 1;
      case 'busy':
        err.write(`${id} is being delivered right now; try again in a moment\n`);
        return 1;
      case 'waiting':
        err.write(
          `${id} waits for ${result.for}, an earlier event of the same connection (events go out in order); redeliver that one first\n`,
        );
        return 1;
    }
  },
};
