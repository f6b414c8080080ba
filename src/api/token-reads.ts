import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';

/**
 * The record of tokens handed out through the API: which key read which connection's token, when, and
 * whether igconnect renewed it first. Never the token itself. `npm run cli -- audit` shows it.
 */
export interface TokenReadRecord {
  id: string;
  api_key_id: string;
  /** The key's name when it still exists (keys are revoked, never deleted, but the record outlives rows). */
  api_key_name: string | null;
  connection_id: string;
  read_at: string;
  renewed: boolean;
}

export async function recordTokenRead(
  db: Kysely<Database>,
  read: { apiKeyId: string; connectionId: string; at: number; renewed: boolean },
): Promise<void> {
  await db
    .insertInto('token_reads')
    .values({
      id: randomUUID(),
      api_key_id: read.apiKeyId,
      connection_id: read.connectionId,
      read_at: read.at,
      renewed: read.renewed ? 1 : 0,
    })
    .execute();
}

/** The most recent reads first, of one connection or of all. */
export async function listTokenReads(
  db: Kysely<Database>,
  filter: { connectionId?: string; limit: number },
): Promise<TokenReadRecord[]> {
  const rows = await db
    .selectFrom('token_reads')
    .leftJoin('api_keys', 'api_keys.id', 'token_reads.api_key_id')
    .select([
      'token_reads.id',
      'token_reads.api_key_id',
      'api_keys.name as api_key_name',
      'token_reads.connection_id',
      'token_reads.read_at',
      'token_reads.renewed',
    ])
    .$if(filter.connectionId !== undefined, (q) =>
      q.where('token_reads.connection_id', '=', filter.connectionId as string),
    )
    .orderBy('token_reads.read_at', 'desc')
    .orderBy('token_reads.id', 'desc')
    .limit(filter.limit)
    .execute();
  return rows.map((row) => ({
    id: row.id,
    api_key_id: row.api_key_id,
    api_key_name: row.api_key_name,
    connection_id: row.connection_id,
    read_at: new Date(Number(row.read_at)).toISOString(),
    renewed: Number(row.renewed) === 1,
  }));
}
