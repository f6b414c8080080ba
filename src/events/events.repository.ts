import type { ExpressionBuilder, Kysely, Selectable, Transaction, Updateable } from 'kysely';
import type { Database, EventsTable } from '../db/schema';

/**
 * The outbox's rows for the relay and the CLI. An event is pending (to deliver, `next_attempt_at` set),
 * delivered (`delivered_at`) or given up (`failed_at`); a relay works on one only while it holds its
 * lease (`lease_owner`, `lease_until`), like the keeper on connections (ADR 0005, ADR 0009).
 */
export type Db = Kysely<Database> | Transaction<Database>;
export type EventRow = Selectable<EventsTable>;
export type EventStatus = 'pending' | 'delivered' | 'failed';

export function statusOf(event: Pick<EventRow, 'delivered_at' | 'failed_at'>): EventStatus {
  if (event.delivered_at !== null) return 'delivered';
  return event.failed_at === null ? 'pending' : 'failed';
}

type EventsBuilder = ExpressionBuilder<Database, 'events'>;

const leaseFree = (now: number) => (eb: EventsBuilder) =>
  eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]);

/**
 * Due: its time has come, nobody holds it, and no earlier event of its connection is still pending (its
 * `seq` is the lowest pending one of its connection), so a connection's events go out one at a time in the
 * order of their changes. An earlier event that was given up no longer holds the later ones back. Pending
 * is a one-way state (new events always get a higher `seq`), so an event found due stays due until
 * someone claims it. Written as a lookup per candidate in the (connection_id, seq) index, walked in
 * `next_attempt_at` order: PostgreSQL then stops after `limit` candidates, with or without statistics,
 * where a NOT EXISTS anti-join was planned as a scan of the whole table per claim on a fresh table.
 */
function dueQuery(db: Kysely<Database>, now: number) {
  return db
    .selectFrom('events as due')
    .select('due.id')
    .where('due.next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('due.lease_until', 'is', null), eb('due.lease_until', '<=', now)]))
    .where((eb) =>
      eb(
        'due.seq',
        '=',
        eb
          .selectFrom('events as pending')
          .select((p) => p.fn.min('pending.seq').as('seq'))
          .whereRef('pending.connection_id', '=', 'due.connection_id')
          .where('pending.delivered_at', 'is', null)
          .where('pending.failed_at', 'is', null),
      ),
    );
}

/**
 * Claims up to `limit` due events for `owner` with one conditional UPDATE (SQLite and PostgreSQL alike),
 * counting the attempt. The outer WHERE repeats the lease check: on PostgreSQL a concurrent claimer waits
 * for the row lock, re-evaluates the WHERE against the committed row and skips the events the first
 * claimer took; SQLite has one writer at a time. So no two relays ever hold one event.
 */
export async function claimDue(
  db: Kysely<Database>,
  options: { owner: string; now: number; leaseMs: number; limit: number },
): Promise<EventRow[]> {
  const { owner, now, leaseMs, limit } = options;
  // As for the keeper's claims: a claim that lost a race on PostgreSQL can come back empty while other
  // due events are free; empty must mean "nothing is due", so it is retried while free due events remain.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const rows = await db
      .updateTable('events')
      .set((eb) => ({ lease_owner: owner, lease_until: now + leaseMs, attempts: eb('attempts', '+', 1) }))
      .where('id', 'in', dueQuery(db, now).orderBy('due.next_attempt_at').limit(limit))
      .where('next_attempt_at', '<=', now)
      .where(leaseFree(now))
      .returningAll()
      .execute();
    if (rows.length > 0) return rows.sort((a, b) => Number(a.created_at) - Number(b.created_at));
    if (!(await dueQuery(db, now).limit(1).executeTakeFirst())) return [];
  }
  return [];
}

/** Claims one event whatever its state (a redelivery asked for by name), if nobody holds it. */
export function claimOne(
  db: Kysely<Database>,
  options: { id: string; owner: string; now: number; leaseMs: number },
): Promise<EventRow | undefined> {
  return db
    .updateTable('events')
    .set((eb) => ({
      lease_owner: options.owner,
      lease_until: options.now + options.leaseMs,
      attempts: eb('attempts', '+', 1),
    }))
    .where('id', '=', options.id)
    .where(leaseFree(options.now))
    .returningAll()
    .executeTakeFirst();
}

/** Writes an attempt's result and releases the lease, only while `owner` still holds it. */
export async function finishLeased(
  db: Db,
  id: string,
  owner: string,
  patch: Updateable<EventsTable>,
): Promise<boolean> {
  const result = await db
    .updateTable('events')
    .set({ ...patch, lease_owner: null, lease_until: null })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export function findById(db: Db, id: string): Promise<EventRow | undefined> {
  return db.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The first pending event of the same connection before this one, if any (what it waits for). */
export function earlierPending(db: Db, event: Pick<EventRow, 'connection_id' | 'seq'>): Promise<EventRow | undefined> {
  return db
    .selectFrom('events')
    .selectAll()
    .where('connection_id', '=', event.connection_id)
    .where('seq', '<', event.seq)
    .where('delivered_at', 'is', null)
    .where('failed_at', 'is', null)
    .orderBy('seq')
    .executeTakeFirst();
}

/** The newest events first, optionally in one state. */
export function listEvents(db: Db, filter: { status?: EventStatus; limit: number }): Promise<EventRow[]> {
  return db
    .selectFrom('events')
    .selectAll()
    .$if(filter.status === 'pending', (q) => q.where('delivered_at', 'is', null).where('failed_at', 'is', null))
    .$if(filter.status === 'delivered', (q) => q.where('delivered_at', 'is not', null))
    .$if(filter.status === 'failed', (q) => q.where('failed_at', 'is not', null))
    .orderBy('created_at', 'desc')
    .orderBy('seq', 'desc')
    .orderBy('id')
    .limit(filter.limit)
    .execute();
}
