import { type Kysely, sql, type Updateable } from 'kysely';
import type { Database, ProviderStateTable } from '../db/schema';

/**
 * Row access for src/incidents: the provider_state row of each provider, the recent failures per
 * signature and connection, and the success counters. Every statement is small and indexed: these run
 * on failures, on flushes every few seconds, and on state reads cached for a second.
 */
export type ProviderStateRow = ProviderStateTable;

/** Successful calls are counted per provider in buckets of this length. */
export const BUCKET_MS = 10_000;

export function readStates(db: Kysely<Database>): Promise<ProviderStateRow[]> {
  return db.selectFrom('provider_state').selectAll().execute();
}

async function ensureRow(db: Kysely<Database>, provider: string, now: number): Promise<void> {
  await db
    .insertInto('provider_state')
    .values({ provider, updated_at: now })
    .onConflict((oc) => oc.column('provider').doNothing())
    .execute();
}

/** Updates a provider's row (made first if missing) where `condition` holds; returns whether it did. */
export async function updateState(
  db: Kysely<Database>,
  provider: string,
  now: number,
  patch: Updateable<ProviderStateTable>,
  condition: 'always' | 'not_degraded' | 'degraded_since_before' | 'probe_due' | 'canary_due',
  at?: number,
): Promise<boolean> {
  await ensureRow(db, provider, now);
  const result = await db
    .updateTable('provider_state')
    .set({ ...patch, updated_at: now })
    .where('provider', '=', provider)
    .$if(condition === 'not_degraded', (q) => q.where('degraded_since', 'is', null))
    .$if(condition === 'degraded_since_before', (q) =>
      q.where('degraded_since', 'is not', null).where('degraded_since', '<=', at ?? now),
    )
    .$if(condition === 'probe_due', (q) =>
      q
        .where('degraded_since', 'is not', null)
        .where((eb) => eb.or([eb('probe_at', 'is', null), eb('probe_at', '<=', now)])),
    )
    .$if(condition === 'canary_due', (q) =>
      q.where((eb) => eb.or([eb('canary_at', 'is', null), eb('canary_at', '<=', at ?? now)])),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Records that a connection failed with a signature now (first and latest time). */
export async function recordFailure(
  db: Kysely<Database>,
  failure: { provider: string; signature: string; connectionId: string; now: number },
): Promise<void> {
  const { provider, signature, connectionId, now } = failure;
  await db
    .insertInto('provider_failures')
    .values({ provider, signature, connection_id: connectionId, first_at: now, last_at: now })
    .onConflict((oc) => oc.columns(['provider', 'signature', 'connection_id']).doUpdateSet({ last_at: now }))
    .execute();
}

/** Connections that failed with this signature since `since`, and the earliest of those failures. */
export async function failuresSince(
  db: Kysely<Database>,
  provider: string,
  signature: string,
  since: number,
): Promise<{ connections: number; firstAt: number | null }> {
  const row = await db
    .selectFrom('provider_failures')
    .select((eb) => [eb.fn.countAll().as('n'), eb.fn.min('first_at').as('first')])
    .where('provider', '=', provider)
    .where('signature', '=', signature)
    .where('last_at', '>=', since)
    .executeTakeFirst();
  return {
    connections: Number(row?.n ?? 0),
    firstAt: row?.first === null || row?.first === undefined ? null : Number(row.first),
  };
}

/**
 * Successful calls counted in the buckets after the one holding `since` (flushed ones only): that
 * bucket may hold the successes of a busy moment just before an incident began, which say nothing about
 * the provider since.
 */
export async function successesAfter(db: Kysely<Database>, provider: string, since: number): Promise<number> {
  const row = await db
    .selectFrom('provider_calls')
    .select((eb) => eb.fn.sum<number | string>('successes').as('n'))
    .where('provider', '=', provider)
    .where('bucket', '>', Math.floor(since / BUCKET_MS) * BUCKET_MS)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function addSuccesses(
  db: Kysely<Database>,
  counts: { provider: string; bucket: number; successes: number }[],
): Promise<void> {
  for (const c of counts) {
    await db
      .insertInto('provider_calls')
      .values(c)
      .onConflict((oc) =>
        oc
          .columns(['provider', 'bucket'])
          .doUpdateSet({ successes: sql<number>`provider_calls.successes + ${c.successes}` }),
      )
      .execute();
  }
}

/** Forgets failures and counters older than the window (nothing reads them). */
export async function sweep(db: Kysely<Database>, before: number): Promise<void> {
  await db.deleteFrom('provider_failures').where('last_at', '<', before).execute();
  await db.deleteFrom('provider_calls').where('bucket', '<', before).execute();
}

export async function forgetSignature(db: Kysely<Database>, provider: string, signature: string): Promise<void> {
  await db
    .deleteFrom('provider_failures')
    .where('provider', '=', provider)
    .where('signature', '=', signature)
    .execute();
}

/**
 * Other active connections of a provider to check when one's token is refused: not the failing one, not
 * ones that failed the same way lately, the ones that worked most recently first (a refusal of theirs
 * would say the most). Runs only when a token is refused, so its sort over the provider's active rows
 * is paid on that rare path alone.
 */
export async function crossCheckCandidates(
  db: Kysely<Database>,
  options: { provider: string; except: string; signature: string; since: number; limit: number },
): Promise<string[]> {
  if (options.limit <= 0) return [];
  const rows = await db
    .selectFrom('connections')
    .select('id')
    .where('provider', '=', options.provider)
    .where('status', '=', 'active')
    .where('id', '!=', options.except)
    .where('id', 'not in', (eb) =>
      eb
        .selectFrom('provider_failures')
        .select('connection_id')
        .where('provider', '=', options.provider)
        .where('signature', '=', options.signature)
        .where('last_at', '>=', options.since),
    )
    .orderBy(sql`coalesce(last_validated_at, last_refreshed_at, 0)`, 'desc')
    .limit(options.limit)
    .execute();
  return rows.map((r) => r.id);
}

/** Active connections of a provider, at most `cap` counted (a small deployment's whole fleet). */
export async function activeConnections(db: Kysely<Database>, provider: string, cap: number): Promise<number> {
  const rows = await db
    .selectFrom('connections')
    .select('id')
    .where('provider', '=', provider)
    .where('status', '=', 'active')
    .limit(cap)
    .execute();
  return rows.length;
}
