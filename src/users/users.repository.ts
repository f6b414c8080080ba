import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export async function insertUser(
  db: Db,
  id: string,
  createdAt: number,
  endUserId: string | null = null,
): Promise<void> {
  await db.insertInto('users').values({ id, created_at: createdAt, end_user_id: endUserId }).execute();
}

export async function userExists(db: Db, id: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst();
  return row !== undefined;
}

/** The user standing for one of the deployer's users, if any. */
export async function findEndUser(db: Db, endUserId: string): Promise<string | undefined> {
  const row = await db.selectFrom('users').select('id').where('end_user_id', '=', endUserId).executeTakeFirst();
  return row?.id;
}

export async function deleteUser(db: Db, id: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).execute();
}
