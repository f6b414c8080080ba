import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, type MigrationProvider, Migrator } from 'kysely';
import { parseEncryptionKeys } from '../../src/config/config';
import { parseDatabaseUrl } from '../../src/config/database-config';
import { createDb } from '../../src/db/create-db';
import { isUniqueViolation } from '../../src/db/database-errors';
import { migrateToLatest } from '../../src/db/migrate';
import { migrations } from '../../src/db/migrations/index';
import { TokenCipher, tokenFingerprint } from '../../src/shared/token-cipher';
import { ODD_ACCOUNT, startTestApp } from '../support/harness';
import { createTestDatabase, TEST_DATABASE_URL } from '../support/postgres';

/**
 * Migration 0004 on a database as the previous release left it: the schema of migrations 0001–0003,
 * filled with rows that release wrote through real connect flows, keeper sweeps and seeded connections
 * (test/fixtures/release-0.1.0-rows.json, with the key its tokens are sealed under). Runs on SQLite, and
 * on PostgreSQL under `npm run test:pg`.
 */
interface OldConnection {
  id: string;
  user_id: string;
  app_scoped_id: string;
  ig_user_id: string;
  username: string;
  name: string | null;
  account_type: string | null;
  profile_picture_url: string | null;
  followers_count: number | null;
  media_count: number | null;
  token_ciphertext: string;
  token_key_id: string;
  token_fingerprint: string;
  [column: string]: unknown;
}

const fixture = JSON.parse(readFileSync(join(__dirname, '../fixtures/release-0.1.0-rows.json'), 'utf8')) as {
  encryptionKeys: string;
  users: Record<string, unknown>[];
  connections: OldConnection[];
  deletion_requests: Record<string, unknown>[];
};

const RENAMED = new Set([
  'app_scoped_id',
  'ig_user_id',
  'username',
  'name',
  'account_type',
  'profile_picture_url',
  'followers_count',
  'media_count',
]);

describe('migration 0004 (generic accounts) on a database of the previous release', () => {
  let url: string;
  let cleanup: () => Promise<void>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let db: Kysely<any>;

  beforeEach(async () => {
    if (TEST_DATABASE_URL) {
      const database = await createTestDatabase();
      url = database.url;
      cleanup = database.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'igconnect-migration-'));
      url = `sqlite:${join(dir, 'igconnect.db')}`;
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    const config = parseDatabaseUrl(url, 2, 5000);
    if (!config) throw new Error('bad test database url');
    db = createDb(config);
    // The previous release's schema, exactly: its migrations, never edited since they shipped.
    const previous: MigrationProvider = {
      getMigrations: async () => ({
        '0001_initial': migrations['0001_initial'] as never,
        '0002_lifecycle': migrations['0002_lifecycle'] as never,
        '0003_rate_limits': migrations['0003_rate_limits'] as never,
      }),
    };
    const { error } = await new Migrator({ db, provider: previous }).migrateToLatest();
    if (error) throw error;
    await db.insertInto('users').values(fixture.users).execute();
    await db.insertInto('connections').values(fixture.connections).execute();
    if (fixture.deletion_requests.length > 0) {
      await db.insertInto('deletion_requests').values(fixture.deletion_requests).execute();
    }
  });

  afterEach(async () => {
    await db.destroy();
    await cleanup();
  });

  it('when it runs, then every row is carried over, ids and profile exact, and every token still decrypts', async () => {
    expect(fixture.connections.length).toBeGreaterThanOrEqual(5);
    await migrateToLatest(db);

    const rows = await db.selectFrom('connections').selectAll().orderBy('id').execute();
    expect(rows).toHaveLength(fixture.connections.length);
    const cipher = new TokenCipher(parseEncryptionKeys(fixture.encryptionKeys).keys);
    for (const old of fixture.connections) {
      const row = rows.find((r) => r.id === old.id);
      if (!row) throw new Error(`connection ${old.id} was not carried over`);
      expect(row.account_id).toBe(old.ig_user_id);
      expect(row.subject_id).toBe(old.app_scoped_id);
      expect(JSON.parse(row.profile)).toEqual({
        username: old.username,
        name: old.name,
        accountType: old.account_type,
        profilePictureUrl: old.profile_picture_url,
        followersCount: old.followers_count,
        mediaCount: old.media_count,
      });
      for (const [column, value] of Object.entries(old)) {
        if (RENAMED.has(column)) continue;
        expect([column, row[column] === null ? null : String(row[column])]).toEqual([
          column,
          value === null ? null : String(value),
        ]);
      }
      const token = cipher.open({ keyId: row.token_key_id, ciphertext: row.token_ciphertext }, `connection:${row.id}`);
      expect(tokenFingerprint(token)).toBe(old.token_fingerprint);
    }
    expect(rows.find((r) => r.account_id === ODD_ACCOUNT.igUserId)).toBeDefined();
    expect(await db.selectFrom('users').selectAll().execute()).toHaveLength(fixture.users.length);
  });

  it('when it has run, then the same account may belong to two users, but not twice to one', async () => {
    await migrateToLatest(db);
    const [old] = fixture.connections;
    if (!old) throw new Error('empty fixture');
    const copy = (id: string, userId: string) => ({
      ...Object.fromEntries(Object.entries(old).filter(([column]) => !RENAMED.has(column))),
      id,
      user_id: userId,
      account_id: old.ig_user_id,
      subject_id: old.app_scoped_id,
      profile: '{}',
    });
    const other = fixture.users.find((u) => u.id !== old.user_id)?.id as string;
    await db.insertInto('connections').values(copy('second-user-copy', other)).execute();
    const twice = await db
      .insertInto('connections')
      .values(copy('same-user-copy', old.user_id))
      .execute()
      .then(
        () => 'inserted',
        (error: unknown) => (isUniqueViolation(error) ? 'unique violation' : String(error)),
      );
    expect(twice).toBe('unique violation');
    const owned = await db
      .selectFrom('connections')
      .select('id')
      .where('account_id', '=', old.ig_user_id)
      .orderBy('id')
      .execute();
    expect(owned.map((r) => r.id).sort()).toEqual([old.id, 'second-user-copy'].sort());
  });

  it('when the app starts on the migrated database, then it shows the carried-over connections', async () => {
    await db.destroy();
    const app = await startTestApp({
      env: { DATABASE_URL: url, TOKEN_ENCRYPTION_KEYS: fixture.encryptionKeys },
    });
    try {
      const [old] = fixture.connections;
      const listed = await app.container.connections.listForUser(old?.user_id ?? '');
      expect(listed.map((c) => c.id)).toContain(old?.id);
      expect(listed.find((c) => c.id === old?.id)?.profile.username).toBe(old?.username);
    } finally {
      await app.close();
      const config = parseDatabaseUrl(url, 2, 5000);
      if (config) db = createDb(config);
    }
  });
});
