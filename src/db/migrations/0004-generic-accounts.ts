import type { Kysely, Migration } from 'kysely';

/**
 * A connection becomes (user, provider, provider account id) with the profile embedded as one JSON value,
 * and a token that may never expire (nullable `token_expires_at`). Renamed: `ig_user_id` → `account_id`,
 * `app_scoped_id` → `subject_id`. The unique key moves from (provider, account) to (user, provider,
 * account): the same account connected by two users is two connections.
 *
 * SQLite cannot drop a constraint, so the table is rebuilt on both engines: a new table, every row copied
 * (ids unchanged, so each sealed token stays bound to its row and decrypts as before), the old one
 * dropped, the new one renamed. All of it in one transaction: a failed run leaves the old table whole.
 */
const BATCH = 500;

interface OldRow {
  id: string;
  user_id: string;
  provider: string;
  app_scoped_id: string;
  ig_user_id: string;
  username: string;
  name: string | null;
  account_type: string | null;
  profile_picture_url: string | null;
  followers_count: number | null;
  media_count: number | null;
  [column: string]: unknown;
}

const CARRIED = [
  'id',
  'user_id',
  'provider',
  'granted_scopes',
  'requested_scopes',
  'status',
  'status_reason',
  'token_ciphertext',
  'token_key_id',
  'token_fingerprint',
  'token_issued_at',
  'token_expires_at',
  'connected_at',
  'updated_at',
  'last_refreshed_at',
  'last_refresh_outcome',
  'last_validated_at',
  'last_validation_outcome',
  'last_error',
  'failure_count',
  'backoff_until',
  'next_action_at',
  'lease_owner',
  'lease_until',
] as const;

// The migration speaks to tables by name only: it must not change when the app's schema types do.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export const genericAccounts: Migration = {
  async up(db: AnyDb) {
    // PostgreSQL migrations already run inside the migrator's transaction; SQLite's do not.
    if (db.isTransaction) await rebuild(db);
    else await db.transaction().execute(rebuild);
  },
};

async function rebuild(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('connections_next')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('profile', 'text', (c) => c.notNull())
    .addColumn('granted_scopes', 'text', (c) => c.notNull())
    .addColumn('requested_scopes', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_reason', 'text')
    .addColumn('token_ciphertext', 'text', (c) => c.notNull())
    .addColumn('token_key_id', 'text', (c) => c.notNull())
    .addColumn('token_fingerprint', 'text', (c) => c.notNull())
    .addColumn('token_issued_at', 'bigint', (c) => c.notNull())
    .addColumn('token_expires_at', 'bigint')
    .addColumn('connected_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('last_refreshed_at', 'bigint')
    .addColumn('last_refresh_outcome', 'text')
    .addColumn('last_validated_at', 'bigint')
    .addColumn('last_validation_outcome', 'text')
    .addColumn('last_error', 'text')
    .addColumn('failure_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('backoff_until', 'bigint')
    .addColumn('next_action_at', 'bigint')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'bigint')
    .execute();

  let after = '';
  for (;;) {
    const rows = (await db
      .selectFrom('connections')
      .selectAll()
      .where('id', '>', after)
      .orderBy('id')
      .limit(BATCH)
      .execute()) as OldRow[];
    if (rows.length === 0) break;
    await db.insertInto('connections_next').values(rows.map(carry)).execute();
    after = rows[rows.length - 1]?.id ?? after;
  }

  await db.schema.dropTable('connections').execute();
  await db.schema.alterTable('connections_next').renameTo('connections').execute();
  await db.schema
    .createIndex('connections_owner_unique')
    .on('connections')
    .columns(['user_id', 'provider', 'account_id'])
    .unique()
    .execute();
  await db.schema
    .createIndex('connections_account_idx')
    .on('connections')
    .columns(['provider', 'account_id'])
    .execute();
  await db.schema
    .createIndex('connections_subject_idx')
    .on('connections')
    .columns(['provider', 'subject_id'])
    .execute();
  await db.schema.createIndex('connections_next_action_at_idx').on('connections').column('next_action_at').execute();
  // Counting how many rows each key holds (doctor, keys status) reads only this index.
  await db.schema.createIndex('connections_token_key_id_idx').on('connections').column('token_key_id').execute();
}

function carry(row: OldRow): Record<string, unknown> {
  const next: Record<string, unknown> = {};
  for (const column of CARRIED) next[column] = row[column];
  next.account_id = row.ig_user_id;
  next.subject_id = row.app_scoped_id;
  next.profile = JSON.stringify({
    username: row.username,
    name: row.name,
    accountType: row.account_type,
    profilePictureUrl: row.profile_picture_url,
    followersCount: row.followers_count === null ? null : Number(row.followers_count),
    mediaCount: row.media_count === null ? null : Number(row.media_count),
  });
  return next;
}
