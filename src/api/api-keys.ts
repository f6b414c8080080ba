import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { prepare } from '../db/prepared';
import type { ApiKeysTable, Database } from '../db/schema';

/**
 * Keys for the deployer's API. A key is 256 random bits (`igc_…`), shown once when it is made; only its
 * SHA-256 is stored (a key is random enough that a fast hash cannot be searched), so a database dump
 * holds no usable key and `list` can never show one.
 */
export const KEY_PREFIX = 'igc_';
const KEY_SHAPE = /^igc_[A-Za-z0-9_-]{43}$/;

export interface ApiKeyRecord {
  id: string;
  name: string;
  created_at: string;
  revoked_at: string | null;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function looksLikeKey(value: string): boolean {
  return KEY_SHAPE.test(value);
}

const record = (row: Pick<ApiKeysTable, 'id' | 'name' | 'created_at' | 'revoked_at'>): ApiKeyRecord => ({
  id: row.id,
  name: row.name,
  created_at: new Date(Number(row.created_at)).toISOString(),
  revoked_at: row.revoked_at === null ? null : new Date(Number(row.revoked_at)).toISOString(),
});

export async function createApiKey(
  db: Kysely<Database>,
  name: string,
  now: number,
): Promise<{ id: string; name: string; key: string }> {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const id = `key_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  await db
    .insertInto('api_keys')
    .values({ id, name, key_hash: hashKey(key), created_at: now, revoked_at: null })
    .execute();
  return { id, name, key };
}

export async function listApiKeys(db: Kysely<Database>): Promise<ApiKeyRecord[]> {
  const rows = await db
    .selectFrom('api_keys')
    .select(['id', 'name', 'created_at', 'revoked_at'])
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(record);
}

/** Revokes a key; false when there is no such key (revoking twice is fine). */
export async function revokeApiKey(db: Kysely<Database>, id: string, now: number): Promise<boolean> {
  const found = await db.selectFrom('api_keys').select('id').where('id', '=', id).executeTakeFirst();
  if (!found) return false;
  await db
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .execute();
  return true;
}

// Compiled once: every API call checks its key (src/db/prepared.ts).
const activeKey = prepare((db: Kysely<Database>, v: { hash: string }) =>
  db.selectFrom('api_keys').select('id').where('key_hash', '=', v.hash).where('revoked_at', 'is', null),
);

/** The id of the active key with this value, if any. */
export async function authenticateKey(db: Kysely<Database>, key: string): Promise<string | undefined> {
  if (!looksLikeKey(key)) return undefined;
  const [row] = await activeKey(db, { hash: hashKey(key) });
  return row?.id;
}
