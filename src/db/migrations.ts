import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';

/**
 * Migrations live in code (no file-system scanning) so they ship inside the build and run the same on
 * SQLite and PostgreSQL. Only portable column types: text, integer, bigint.
 */
const migrations: Record<string, Migration> = {
  '0001_initial': {
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
  },
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest<DB>(db: Kysely<DB>): Promise<void> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration failed${failed ? ` at ${failed.migrationName}` : ''}`, { cause: error });
  }
}

export async function pingDatabase<DB>(db: Kysely<DB>): Promise<void> {
  await sql`select 1`.execute(db);
}
