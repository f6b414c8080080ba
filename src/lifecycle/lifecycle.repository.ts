import type { ExpressionBuilder, Kysely, Updateable } from 'kysely';
import type { ConnectionRow, ConnectionsTable } from '../connections/connections.table';
import type { Database } from '../db/database';

/**
 * Leases: a keeper claims due connections by writing its owner id and a lease expiry in the same
 * statement that checks nobody else holds them. The outer WHERE repeats the lease check so that on
 * PostgreSQL, where a concurrent claimer waits on the row lock and then re-evaluates the WHERE against
 * the committed row, the second claimer skips rows the first one took. SQLite has one writer at a time.
 * Every write of a result is conditioned on still owning the lease, so a keeper whose lease lapsed (it
 * stalled, or died) can never overwrite the work of the keeper that took over.
 */
const leaseFree = (now: number) => (eb: ExpressionBuilder<Database, 'connections'>) =>
  eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]);

export async function claimDue(
  db: Kysely<Database>,
  options: { owner: string; now: number; leaseMs: number; limit: number },
): Promise<ConnectionRow[]> {
  const { owner, now, leaseMs, limit } = options;
  // On PostgreSQL a claim that raced another one waits for its row locks, re-checks them, and can come
  // back empty although other due rows are free (its subquery picked the rows the winner took). Empty
  // must mean "nothing is due", so an empty claim is retried while free due rows remain.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const rows = await db
      .updateTable('connections')
      .set({ lease_owner: owner, lease_until: now + leaseMs })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('connections')
          .select('id')
          .where('next_action_at', '<=', now)
          .where(leaseFree(now))
          .orderBy('next_action_at')
          .limit(limit),
      )
      .where('next_action_at', '<=', now)
      .where(leaseFree(now))
      .returningAll()
      .execute();
    if (rows.length > 0) return rows;
    const waiting = await db
      .selectFrom('connections')
      .select('id')
      .where('next_action_at', '<=', now)
      .where(leaseFree(now))
      .limit(1)
      .executeTakeFirst();
    if (!waiting) return [];
  }
  return [];
}

export async function claimOne(
  db: Kysely<Database>,
  options: { id: string; userId?: string; owner: string; now: number; leaseMs: number },
): Promise<ConnectionRow | undefined> {
  let query = db
    .updateTable('connections')
    .set({ lease_owner: options.owner, lease_until: options.now + options.leaseMs })
    .where('id', '=', options.id)
    .where(leaseFree(options.now));
  if (options.userId !== undefined) query = query.where('user_id', '=', options.userId);
  return query.returningAll().executeTakeFirst();
}

/** Writes a result and releases the lease, only if `owner` still holds it. Returns whether it did. */
export async function finishLeased(
  db: Kysely<Database>,
  id: string,
  owner: string,
  patch: Updateable<ConnectionsTable>,
): Promise<boolean> {
  const result = await db
    .updateTable('connections')
    .set({ ...patch, lease_owner: null, lease_until: null })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function releaseLeases(db: Kysely<Database>, ids: string[], owner: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('connections')
    .set({ lease_owner: null, lease_until: null })
    .where('id', 'in', ids)
    .where('lease_owner', '=', owner)
    .execute();
}
