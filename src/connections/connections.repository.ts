import type { Insertable, Kysely, Transaction, Updateable } from 'kysely';
import type { Database } from '../db/database';
import type { ConnectionRow, ConnectionsTable } from './connections.table';

/** Row access only; the db handle (or a transaction) is always the first argument. */
type Db = Kysely<Database> | Transaction<Database>;

export function findConnectionByIgUserId(
  db: Db,
  provider: string,
  igUserId: string,
): Promise<ConnectionRow | undefined> {
  return db
    .selectFrom('connections')
    .selectAll()
    .where('provider', '=', provider)
    .where('ig_user_id', '=', igUserId)
    .executeTakeFirst();
}

export function listConnectionsOfUser(db: Db, userId: string): Promise<ConnectionRow[]> {
  return db.selectFrom('connections').selectAll().where('user_id', '=', userId).orderBy('connected_at').execute();
}

export async function insertConnection(db: Db, row: Insertable<ConnectionsTable>): Promise<void> {
  await db.insertInto('connections').values(row).execute();
}

export async function updateConnection(db: Db, id: string, patch: Updateable<ConnectionsTable>): Promise<void> {
  await db.updateTable('connections').set(patch).where('id', '=', id).execute();
}

/** Deletes one connection (and so its token) if it belongs to the user; returns how many rows went. */
export async function deleteConnectionOfUser(db: Db, id: string, userId: string): Promise<number> {
  const result = await db
    .deleteFrom('connections')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
