import type { Kysely, Migration } from 'kysely';

/**
 * What igconnect knows about each provider as a whole, shared by every instance (src/incidents):
 * - `provider_state`: one row per provider: degraded (since when, for which failure signature, when to
 *   probe next), the rate-budget usage Meta last reported and any app-wide pause, the daily self-check;
 * - `provider_failures`: which connections failed with which signature lately (one row per connection and
 *   signature, swept after the window): many connections failing the same way is the provider's incident;
 * - `provider_calls`: successful calls per provider in 10-second buckets, added up by each process in
 *   batches, so that a few failures among many successes are never taken for an incident.
 */
export const providerHealth: Migration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('provider_state')
      .addColumn('provider', 'text', (c) => c.primaryKey())
      .addColumn('degraded_since', 'bigint')
      .addColumn('degraded_signature', 'text')
      .addColumn('degraded_detail', 'text')
      .addColumn('probe_at', 'bigint')
      .addColumn('usage_percent', 'integer')
      .addColumn('usage_at', 'bigint')
      .addColumn('paused_until', 'bigint')
      .addColumn('pause_reason', 'text')
      .addColumn('canary_at', 'bigint')
      .addColumn('canary_report', 'text')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('provider_failures')
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .addColumn('connection_id', 'text', (c) => c.notNull())
      .addColumn('first_at', 'bigint', (c) => c.notNull())
      .addColumn('last_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('provider_failures_pk', ['provider', 'signature', 'connection_id'])
      .execute();
    await db.schema.createIndex('provider_failures_last_at_idx').on('provider_failures').column('last_at').execute();
    await db.schema
      .createTable('provider_calls')
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('bucket', 'bigint', (c) => c.notNull())
      .addColumn('successes', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('provider_calls_pk', ['provider', 'bucket'])
      .execute();
  },
};
