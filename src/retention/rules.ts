import type { ExpressionBuilder, Kysely } from 'kysely';
import type { RetentionConfig } from '../config/config';
import type { Database } from '../db/schema';

/**
 * What each table keeps, and one batch of deleting what it does not. Every batch is one short statement
 * that deletes at most `limit` rows picked through an index, so the database's writer (SQLite's single
 * one, PostgreSQL's row locks) is held for one small batch at a time, never for a whole table.
 */
export interface PruneRule {
  /** The table, as the summary names it. */
  table: string;
  /** Deletes at most `limit` rows the table no longer keeps: how many it deleted, and whether more may remain. */
  batch(limit: number): Promise<{ deleted: number; more: boolean }>;
}

type Db = Kysely<Database>;

/** The grace after which an OAuth transaction's row goes, as the transaction store's own pruning keeps it. */
const TRANSACTION_GRACE_MS = 30 * 60_000;

const deleted = (result: { numDeletedRows: bigint }) => Number(result.numDeletedRows);

/** A rule whose every matching row goes: a full batch means more may remain. */
const simple = (table: string, run: (limit: number) => Promise<{ numDeletedRows: bigint }>): PruneRule => ({
  table,
  batch: async (limit) => {
    const count = deleted(await run(limit));
    return { deleted: count, more: count >= limit };
  },
});

/**
 * The rules of one run at `now`. Records with a retention of 0 are kept forever (no rule). The
 * short-lived tables (sessions, OAuth transactions, pending choices, rate-limit windows) are also pruned
 * now and then by their own writers; this makes sure of it in a deployment too quiet for those to run.
 */
export function pruneRules(db: Db, settings: RetentionConfig, now: number): PruneRule[] {
  const rules: PruneRule[] = [
    simple('sessions', (limit) =>
      db
        .deleteFrom('sessions')
        .where('sid', 'in', (eb) =>
          eb.selectFrom('sessions').select('sid').where('expires_at', '<=', now).orderBy('expires_at').limit(limit),
        )
        .executeTakeFirst(),
    ),
    simple('oauth_transactions', (limit) =>
      db
        .deleteFrom('oauth_transactions')
        .where('state_hash', 'in', (eb) =>
          eb
            .selectFrom('oauth_transactions')
            .select('state_hash')
            .where('expires_at', '<', now - TRANSACTION_GRACE_MS)
            .orderBy('expires_at')
            .limit(limit),
        )
        .executeTakeFirst(),
    ),
    simple('pending_choices', (limit) =>
      db
        .deleteFrom('pending_choices')
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('pending_choices')
            .select('id')
            .where('expires_at', '<', now)
            .orderBy('expires_at')
            .limit(limit),
        )
        .executeTakeFirst(),
    ),
    simple('rate_limits', (limit) =>
      db
        .deleteFrom('rate_limits')
        .where('bucket', 'in', (eb) =>
          eb
            .selectFrom('rate_limits')
            .select('bucket')
            .where('expires_at', '<=', now)
            .orderBy('expires_at')
            .limit(limit),
        )
        .executeTakeFirst(),
    ),
  ];
  if (settings.connectLinksMs > 0) {
    rules.push(
      simple('connect_sessions', (limit) =>
        db
          .deleteFrom('connect_sessions')
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('connect_sessions')
              .select('id')
              .where('expires_at', '<', now - settings.connectLinksMs)
              .orderBy('expires_at')
              .limit(limit),
          )
          .executeTakeFirst(),
      ),
    );
  }
  if (settings.auditMs > 0) {
    rules.push(
      simple('token_reads', (limit) =>
        db
          .deleteFrom('token_reads')
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('token_reads')
              .select('id')
              .where('read_at', '<', now - settings.auditMs)
              .orderBy('read_at')
              .limit(limit),
          )
          .executeTakeFirst(),
      ),
    );
  }
  if (settings.eventsMs > 0) rules.push(eventsRule(db, now - settings.eventsMs, now));
  return rules;
}

/**
 * Delivered or given-up events finished before `before`. Never a pending event (it is still to be sent),
 * never one a relay holds (a redelivery in flight), and never the latest event of a connection that still
 * exists: the next event's `seq` is one more than the highest kept (src/events/outbox.ts), so deleting it
 * would number that connection's events from 1 again. A deleted connection gets no more events, so its
 * latest goes too. The candidates are read first in `created_at` order after a cursor (an event finishes
 * after it was created, so the index on `created_at` bounds the scan, and the latest events that stay are
 * read once per run, not once per batch); the DELETE checks every condition again.
 */
function eventsRule(db: Db, before: number, now: number): PruneRule {
  const removable = (eb: ExpressionBuilder<Database, 'events'>) =>
    eb.and([
      eb('events.created_at', '<', before),
      eb.or([
        eb.and([eb('events.delivered_at', 'is not', null), eb('events.delivered_at', '<', before)]),
        eb.and([eb('events.failed_at', 'is not', null), eb('events.failed_at', '<', before)]),
      ]),
      eb.or([eb('events.lease_until', 'is', null), eb('events.lease_until', '<=', now)]),
      eb.or([
        eb.exists(
          eb
            .selectFrom('events as later')
            .select('later.id')
            .whereRef('later.connection_id', '=', 'events.connection_id')
            .whereRef('later.seq', '>', 'events.seq'),
        ),
        eb.not(
          eb.exists(
            eb
              .selectFrom('connections')
              .select('connections.id')
              .whereRef('connections.id', '=', 'events.connection_id'),
          ),
        ),
      ]),
    ]);
  let cursor: { createdAt: number; id: string } | undefined;
  return {
    table: 'events',
    batch: async (limit) => {
      const after = cursor;
      const candidates = await db
        .selectFrom('events')
        .select(['events.id', 'events.created_at'])
        .where(removable)
        // The lower bound on its own lets the index start at the cursor; the OR only breaks ties.
        .$if(after !== undefined, (q) =>
          q
            .where('events.created_at', '>=', after?.createdAt ?? 0)
            .where((eb) =>
              eb.or([eb('events.created_at', '>', after?.createdAt ?? 0), eb('events.id', '>', after?.id ?? '')]),
            ),
        )
        .orderBy('events.created_at')
        .orderBy('events.id')
        .limit(limit)
        .execute();
      const last = candidates[candidates.length - 1];
      if (!last) return { deleted: 0, more: false };
      cursor = { createdAt: Number(last.created_at), id: last.id };
      const result = await db
        .deleteFrom('events')
        .where(
          'events.id',
          'in',
          candidates.map((c) => c.id),
        )
        .where(removable)
        .executeTakeFirst();
      // A full page of candidates may have more behind it, even when some of it was kept meanwhile.
      return { deleted: deleted(result), more: candidates.length === limit };
    },
  };
}
