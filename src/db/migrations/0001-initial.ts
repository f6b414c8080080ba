import type { Kysely, Migration } from 'kysely';

/** Users, connections (tokens sealed), sessions, and OAuth transactions. Portable types only. */
export const initial: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('connections')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('app_scoped_id', 'text', (c) => c.notNull())
      .addColumn('ig_user_id', 'text', (c) => c.notNull())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('name', 'text')
      .addColumn('account_type', 'text')
      .addColumn('profile_picture_url', 'text')
      .addColumn('followers_count', 'integer')
      .addColumn('media_count', 'integer')
      .addColumn('granted_scopes', 'text', (c) => c.notNull())
      .addColumn('requested_scopes', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('status_reason', 'text')
      .addColumn('token_ciphertext', 'text', (c) => c.notNull())
      .addColumn('token_key_id', 'text', (c) => c.notNull())
      .addColumn('token_fingerprint', 'text', (c) => c.notNull())
      .addColumn('token_issued_at', 'bigint', (c) => c.notNull())
      .addColumn('token_expires_at', 'bigint', (c) => c.notNull())
      .addColumn('connected_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('connections_provider_ig_user_id_unique', ['provider', 'ig_user_id'])
      .execute();
    await db.schema.createIndex('connections_user_id_idx').on('connections').column('user_id').execute();
    await db.schema.createIndex('connections_app_scoped_id_idx').on('connections').column('app_scoped_id').execute();

    await db.schema
      .createTable('sessions')
      .addColumn('sid', 'text', (c) => c.primaryKey())
      .addColumn('sess', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('sessions_expires_at_idx').on('sessions').column('expires_at').execute();

    await db.schema
      .createTable('oauth_transactions')
      .addColumn('state_hash', 'text', (c) => c.primaryKey())
      .addColumn('session_id', 'text', (c) => c.notNull())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('consumed_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('oauth_transactions_expires_at_idx')
      .on('oauth_transactions')
      .column('expires_at')
      .execute();
  },
};
