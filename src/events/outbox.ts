import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Connection, ConnectionEvents, ConnectionEventType } from '../connections/connections.service';
import type { Database } from '../db/schema';
import type { Clock } from '../shared/clock';

/**
 * The transactional outbox of signed events. The connections writer calls `record` inside the transaction
 * of each change, so an event exists exactly when its change committed: a change that rolls back leaves
 * no event, and a process that dies after the commit still delivers it later (the relay reads this
 * table). Each event gets the next `seq` of its connection, read in the same transaction: the change has
 * already locked the connection's row (or created it), so concurrent changes of one connection queue and
 * number their events in commit order.
 */
export class EventOutbox implements ConnectionEvents {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly deps: {
      clock: Clock;
      /** The connection as the API shows it (src/api/connection-resource.ts), handed in by main. */
      present: (connection: Connection) => object;
      /** Events are written only when a receiver is configured. */
      enabled: boolean;
    },
  ) {}

  get enabled(): boolean {
    return this.deps.enabled;
  }

  /** A relay in this process listens, to deliver a committed change's events at once. */
  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  committed(): void {
    for (const listener of this.listeners) listener();
  }

  async record(
    trx: Kysely<Database> | Transaction<Database>,
    event: { type: ConnectionEventType; connection: Connection; reason?: string },
  ): Promise<void> {
    if (!this.deps.enabled) return;
    const { connection } = event;
    const last = await trx
      .selectFrom('events')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .where('connection_id', '=', connection.id)
      .executeTakeFirst();
    const now = this.deps.clock.now();
    const data = { ...this.deps.present(connection), ...(event.reason ? { reason: event.reason } : {}) };
    await trx
      .insertInto('events')
      .values({
        id: `msg_${randomUUID().replace(/-/g, '')}`,
        connection_id: connection.id,
        seq: Number(last?.seq ?? 0) + 1,
        type: event.type,
        payload: JSON.stringify({ type: event.type, timestamp: new Date(now).toISOString(), data }),
        created_at: now,
        next_attempt_at: now,
        delivered_at: null,
        failed_at: null,
        last_error: null,
        lease_owner: null,
        lease_until: null,
      })
      .execute();
  }
}
