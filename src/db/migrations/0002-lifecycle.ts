import type { Kysely, Migration } from 'kysely';

/**
 * Keeping tokens alive: what happened last (refresh, validation), when to look again (`next_action_at`,
 * indexed: a sweep reads only due rows), backoff after failures, and a lease so that two keepers never
 * work on one connection at once. Plus the record of Meta's data-deletion requests.
 */
export const lifecycle: Migration = {
  async up(db: Kysely<unknown>) {
    const columns: [string, 'bigint' | 'text' | 'integer'][] = [
      ['last_refreshed_at', 'bigint'],
      ['last_refresh_outcome', 'text'],
      ['last_validated_at', 'bigint'],
      ['last_validation_outcome', 'text'],
      ['last_error', 'text'],
      ['backoff_until', 'bigint'],
      ['next_action_at', 'bigint'],
      ['lease_owner', 'text'],
      ['lease_until', 'bigint'],
    ];
    for (const [name, type] of columns) {
      await db.schema.alterTable('connections').addColumn(name, type).execute();
    }
    await db.schema
      .alterTable('connections')
      .addColumn('failure_count', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('connections_next_action_at_idx').on('connections').column('next_action_at').execute();

    await db.schema
      .createTable('deletion_requests')
      .addColumn('confirmation_code', 'text', (c) => c.primaryKey())
      .addColumn('request_hash', 'text', (c) => c.notNull().unique())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('deleted_connections', 'integer', (c) => c.notNull())
      .addColumn('requested_at', 'bigint', (c) => c.notNull())
      .addColumn('completed_at', 'bigint')
      .execute();
  },
};
