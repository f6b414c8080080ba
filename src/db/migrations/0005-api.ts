import type { Kysely, Migration } from 'kysely';

/**
 * The deployer's API: API keys (hashes only), connect links for the deployer's users, the record of
 * token reads, and the outbox of signed events. Connections carry the end user they belong to (the
 * deployer's opaque id, null for connections made from the home page), and so do users.
 */
export const api: Migration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema.alterTable('users').addColumn('end_user_id', 'text').execute();
    await db.schema.createIndex('users_end_user_id_unique').on('users').column('end_user_id').unique().execute();
    await db.schema.alterTable('connections').addColumn('end_user_id', 'text').execute();
    await db.schema
      .createIndex('connections_end_user_idx')
      .on('connections')
      .columns(['end_user_id', 'connected_at'])
      .execute();

    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('key_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute();

    await db.schema
      .createTable('connect_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('api_key_id', 'text', (c) => c.notNull())
      .addColumn('end_user_id', 'text', (c) => c.notNull())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('return_url', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('completed_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('connect_sessions_expires_at_idx')
      .on('connect_sessions')
      .column('expires_at')
      .execute();

    await db.schema
      .createTable('token_reads')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('api_key_id', 'text', (c) => c.notNull())
      .addColumn('connection_id', 'text', (c) => c.notNull())
      .addColumn('read_at', 'bigint', (c) => c.notNull())
      .addColumn('renewed', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('token_reads_read_at_idx').on('token_reads').column('read_at').execute();

    await db.schema
      .createTable('events')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('connection_id', 'text', (c) => c.notNull())
      // Per connection, in the order of the changes (assigned in the change's own transaction).
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      // When to try (again); null once delivered or given up.
      .addColumn('next_attempt_at', 'bigint')
      .addColumn('delivered_at', 'bigint')
      .addColumn('failed_at', 'bigint')
      .addColumn('last_error', 'text')
      .addColumn('lease_owner', 'text')
      .addColumn('lease_until', 'bigint')
      .execute();
    await db.schema
      .createIndex('events_connection_seq_unique')
      .on('events')
      .columns(['connection_id', 'seq'])
      .unique()
      .execute();
    await db.schema.createIndex('events_next_attempt_at_idx').on('events').column('next_attempt_at').execute();
    await db.schema.createIndex('events_created_at_idx').on('events').column('created_at').execute();
  },
};
