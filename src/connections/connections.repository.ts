import type { ExpressionBuilder, Insertable, Kysely, Transaction, Updateable } from 'kysely';
import { prepare } from '../db/prepared';
import type { ConnectionRow, ConnectionStatus, ConnectionsTable, Database } from '../db/schema';

/**
 * Row access only; the db handle (or a transaction) is always the first argument. Writes are called by
 * ConnectionsService alone, the one writer of connection rows (CONTEXT.md).
 */
export type Db = Kysely<Database> | Transaction<Database>;

// Compiled once: read for every API call that names a connection (src/db/prepared.ts).
const byId = prepare((db: Db, v: { id: string }) => db.selectFrom('connections').selectAll().where('id', '=', v.id));

export async function findById(db: Db, id: string): Promise<ConnectionRow | undefined> {
  return (await byId(db, { id }))[0];
}

export function findOwned(
  db: Db,
  owner: { userId: string; provider: string; accountId: string },
): Promise<ConnectionRow | undefined> {
  return db
    .selectFrom('connections')
    .selectAll()
    .where('user_id', '=', owner.userId)
    .where('provider', '=', owner.provider)
    .where('account_id', '=', owner.accountId)
    .executeTakeFirst();
}

export function listOfUser(db: Db, userId: string): Promise<ConnectionRow[]> {
  return db.selectFrom('connections').selectAll().where('user_id', '=', userId).orderBy('connected_at').execute();
}

/** Connections in id order after `after`, optionally of one end user or status (the API's list). */
export function listPage(
  db: Db,
  filter: { endUserId?: string; status?: ConnectionStatus; limit: number; after?: string },
): Promise<ConnectionRow[]> {
  return db
    .selectFrom('connections')
    .selectAll()
    .$if(filter.endUserId !== undefined, (q) => q.where('end_user_id', '=', filter.endUserId as string))
    .$if(filter.status !== undefined, (q) => q.where('status', '=', filter.status as ConnectionStatus))
    .$if(filter.after !== undefined, (q) => q.where('id', '>', filter.after as string))
    .orderBy('id')
    .limit(filter.limit)
    .execute();
}

/** Marks an active connection `needs_reconnect`; false when it was not active (or is gone). */
export async function markNeedsReconnect(
  db: Db,
  id: string,
  change: { reason: string; detail: string | null; now: number },
): Promise<boolean> {
  const result = await db
    .updateTable('connections')
    .set({
      status: 'needs_reconnect',
      status_reason: change.reason,
      last_error: change.detail,
      updated_at: change.now,
      next_action_at: null,
    })
    .where('id', '=', id)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export function listAll(db: Db): Promise<ConnectionRow[]> {
  return db.selectFrom('connections').selectAll().orderBy('connected_at').orderBy('id').execute();
}

export async function insertRow(db: Db, row: Insertable<ConnectionsTable>): Promise<void> {
  await db.insertInto('connections').values(row).execute();
}

export async function updateRow(db: Db, id: string, patch: Updateable<ConnectionsTable>): Promise<void> {
  await db.updateTable('connections').set(patch).where('id', '=', id).execute();
}

/**
 * Connections of one provider whose account id or subject id is `identity` (which of the two a
 * provider's callback names is the provider's business; both are exact strings). With `issuedBefore`,
 * only tokens issued before that instant.
 */
export function findByIdentity(
  db: Db,
  provider: string,
  identity: string,
  issuedBefore?: number,
): Promise<Pick<ConnectionRow, 'id' | 'user_id'>[]> {
  return db
    .selectFrom('connections')
    .select(['id', 'user_id'])
    .where('provider', '=', provider)
    .where((eb) => eb.or([eb('account_id', '=', identity), eb('subject_id', '=', identity)]))
    .$if(issuedBefore !== undefined, (q) => q.where('token_issued_at', '<', issuedBefore as number))
    .execute();
}

/**
 * Deletes connections (only the user's, with `userId`) and returns the rows as they were when deleted:
 * a row another transaction deleted first is not among them (on PostgreSQL the DELETE waits for that
 * transaction and then finds nothing), so each deletion is reported exactly once.
 */
export function deleteByIds(db: Db, ids: string[], userId?: string): Promise<ConnectionRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .deleteFrom('connections')
    .where('id', 'in', ids)
    .$if(userId !== undefined, (q) => q.where('user_id', '=', userId as string))
    .returningAll()
    .execute();
}

export async function subjectHasConnections(db: Db, provider: string, subjectId: string): Promise<boolean> {
  const row = await db
    .selectFrom('connections')
    .select('id')
    .where('provider', '=', provider)
    .where('subject_id', '=', subjectId)
    .executeTakeFirst();
  return row !== undefined;
}

export async function userHasConnections(db: Db, userId: string): Promise<boolean> {
  const row = await db.selectFrom('connections').select('id').where('user_id', '=', userId).executeTakeFirst();
  return row !== undefined;
}

/**
 * Leases: a keeper claims due connections by writing its owner id and a lease expiry in the same
 * statement that checks nobody else holds them. The outer WHERE repeats the lease check so that on
 * PostgreSQL, where a concurrent claimer waits on the row lock and then re-evaluates the WHERE against
 * the committed row, the second claimer skips rows the first one took. SQLite has one writer at a time.
 * Every write of a result is conditioned on still owning the lease, so a keeper whose lease lapsed (it
 * stalled, or died) can never overwrite the work of the keeper that took over (ADR 0005).
 */
const leaseFree = (now: number) => (eb: ExpressionBuilder<Database, 'connections'>) =>
  eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]);

/** Which providers' rows a claim takes: all (the default), all but some, or one. */
export interface ProviderFilter {
  exclude?: string[];
  only?: string;
}

const ofProviders = (filter: ProviderFilter) => (eb: ExpressionBuilder<Database, 'connections'>) => {
  const parts = [];
  if (filter.only !== undefined) parts.push(eb('provider', '=', filter.only));
  if (filter.exclude && filter.exclude.length > 0) parts.push(eb('provider', 'not in', filter.exclude));
  return eb.and(parts);
};

export async function claimDue(
  db: Kysely<Database>,
  options: { owner: string; now: number; leaseMs: number; limit: number; providers?: ProviderFilter },
): Promise<ConnectionRow[]> {
  const { owner, now, leaseMs, limit } = options;
  const providers = ofProviders(options.providers ?? {});
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
          .where(providers)
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
      .where(providers)
      .limit(1)
      .executeTakeFirst();
    if (!waiting) return [];
  }
  return [];
}

/**
 * A probe of a provider whose app is degraded: the active connection of that provider whose next action
 * is soonest (due or not), if its lease is free. Null when there is none.
 */
export async function claimProbe(
  db: Kysely<Database>,
  options: { provider: string; owner: string; now: number; leaseMs: number },
): Promise<ConnectionRow | undefined> {
  const { provider, owner, now, leaseMs } = options;
  return db
    .updateTable('connections')
    .set({ lease_owner: owner, lease_until: now + leaseMs })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('connections')
        .select('id')
        .where('provider', '=', provider)
        .where('status', '=', 'active')
        .where('next_action_at', 'is not', null)
        .where(leaseFree(now))
        .orderBy('next_action_at')
        .limit(1),
    )
    .where(leaseFree(now))
    .returningAll()
    .executeTakeFirst();
}

export function claimOne(
  db: Kysely<Database>,
  options: { id: string; userId?: string; owner: string; now: number; leaseMs: number },
): Promise<ConnectionRow | undefined> {
  return db
    .updateTable('connections')
    .set({ lease_owner: options.owner, lease_until: options.now + options.leaseMs })
    .where('id', '=', options.id)
    .where(leaseFree(options.now))
    .$if(options.userId !== undefined, (q) => q.where('user_id', '=', options.userId as string))
    .returningAll()
    .executeTakeFirst();
}

/** Writes a result and releases the lease, only if `owner` still holds it. Returns whether it did. */
export async function finishLeased(
  db: Db,
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

export async function releaseLeases(db: Db, ids: string[], owner: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('connections')
    .set({ lease_owner: null, lease_until: null })
    .where('id', 'in', ids)
    .where('lease_owner', '=', owner)
    .execute();
}

export interface SealedRow {
  id: string;
  token_key_id: string;
  token_ciphertext: string;
}

/** Rows whose token is sealed under another key than `keyId`, after `afterId`, in id order. */
export function rowsOnOtherKeys(db: Db, keyId: string, afterId: string, limit: number): Promise<SealedRow[]> {
  return db
    .selectFrom('connections')
    .select(['id', 'token_key_id', 'token_ciphertext'])
    .where('token_key_id', '!=', keyId)
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute();
}

export function sealedRowsAfter(db: Db, afterId: string, limit: number): Promise<SealedRow[]> {
  return db
    .selectFrom('connections')
    .select(['id', 'token_key_id', 'token_ciphertext'])
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** Replaces a sealed token only where the row still holds exactly the ciphertext it was read with. */
export async function replaceSealed(
  db: Db,
  row: SealedRow,
  sealed: { token_ciphertext: string; token_key_id: string },
): Promise<boolean> {
  const updated = await db
    .updateTable('connections')
    .set(sealed)
    .where('id', '=', row.id)
    .where('token_key_id', '=', row.token_key_id)
    .where('token_ciphertext', '=', row.token_ciphertext)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

export async function rowsPerKey(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('connections')
    .select(['token_key_id', (eb) => eb.fn.countAll<number | string>().as('rows')])
    .groupBy('token_key_id')
    .execute();
  return new Map(rows.map((r) => [r.token_key_id, Number(r.rows)]));
}

export async function countOnOtherKeys(db: Db, keyId: string): Promise<number> {
  const row = await db
    .selectFrom('connections')
    .select((eb) => eb.fn.countAll<number | string>().as('rows'))
    .where('token_key_id', '!=', keyId)
    .executeTakeFirstOrThrow();
  return Number(row.rows);
}
