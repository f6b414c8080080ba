import type { Kysely } from 'kysely';
import type { Database } from '../db/database';
import { DecryptionError, type TokenCipher } from '../shared/token-cipher';
import { tokenAad } from './connections.service';

/**
 * Moving stored tokens onto the ring's current key (ADR 0003) and reporting which key each row uses.
 * Every row is re-encrypted in its own UPDATE conditioned on the ciphertext it was read with, so a
 * connect or refresh that rewrote the row meanwhile is never overwritten, and an interrupted run
 * loses nothing: running again picks up the rows still on old keys.
 */
export interface KeyUsage {
  keyId: string;
  rows: number;
  /** The ring's first key, used for every new write. */
  current: boolean;
  /** False when no key with this id is configured: those rows cannot be decrypted. */
  configured: boolean;
}

export interface UnreadableToken {
  connectionId: string;
  keyId: string;
  reason: string;
}

export interface RotationResult {
  rotated: number;
  /** Rows rewritten or deleted by someone else between our read and our update: nothing to do. */
  changedMeanwhile: number;
  unreadable: UnreadableToken[];
  /** Stopped early by the signal; rows not reached are still on old keys. */
  interrupted: boolean;
}

type Db = Kysely<Database>;

export async function keyUsage(db: Db, cipher: TokenCipher): Promise<KeyUsage[]> {
  const rows = await db
    .selectFrom('connections')
    .select(['token_key_id', (eb) => eb.fn.countAll<number | string>().as('rows')])
    .groupBy('token_key_id')
    .execute();
  const counted = new Map(rows.map((r) => [r.token_key_id, Number(r.rows)]));
  const ids = [...new Set([...cipher.keyIds, ...counted.keys()])];
  return ids.map((keyId) => ({
    keyId,
    rows: counted.get(keyId) ?? 0,
    current: keyId === cipher.currentKeyId,
    configured: cipher.keyIds.includes(keyId),
  }));
}

export async function countRowsOnOldKeys(db: Db, cipher: TokenCipher): Promise<number> {
  const row = await db
    .selectFrom('connections')
    .select((eb) => eb.fn.countAll<number | string>().as('rows'))
    .where('token_key_id', '!=', cipher.currentKeyId)
    .executeTakeFirstOrThrow();
  return Number(row.rows);
}

export async function rotateTokenKeys(
  deps: { db: Db; cipher: TokenCipher },
  options: { batchSize: number; signal?: AbortSignal; onBatch?: (processed: number) => void },
): Promise<RotationResult> {
  const { db, cipher } = deps;
  const result: RotationResult = { rotated: 0, changedMeanwhile: 0, unreadable: [], interrupted: false };
  // A cursor on the id, so rows that cannot be decrypted are passed over instead of read forever.
  let after = '';
  for (;;) {
    if (options.signal?.aborted) {
      result.interrupted = true;
      break;
    }
    const batch = await db
      .selectFrom('connections')
      .select(['id', 'token_key_id', 'token_ciphertext'])
      .where('token_key_id', '!=', cipher.currentKeyId)
      .where('id', '>', after)
      .orderBy('id')
      .limit(options.batchSize)
      .execute();
    if (batch.length === 0) break;
    for (const row of batch) {
      const outcome = await reencryptRow(db, cipher, row);
      if (outcome === 'rotated') result.rotated += 1;
      else if (outcome === 'changed-meanwhile') result.changedMeanwhile += 1;
      else result.unreadable.push(outcome);
    }
    after = batch[batch.length - 1]?.id ?? after;
    options.onBatch?.(batch.length);
  }
  return result;
}

export interface SealedRow {
  id: string;
  token_key_id: string;
  token_ciphertext: string;
}

/**
 * Re-encrypts one row as it was read. The UPDATE matches the old key id and ciphertext, so when the
 * app rewrote the row meanwhile (a reconnect seals a new token under the current key) nothing is
 * overwritten and the answer is 'changed-meanwhile'.
 */
export async function reencryptRow(
  db: Db,
  cipher: TokenCipher,
  row: SealedRow,
): Promise<'rotated' | 'changed-meanwhile' | UnreadableToken> {
  let token: string;
  try {
    token = cipher.open({ keyId: row.token_key_id, ciphertext: row.token_ciphertext }, tokenAad(row.id));
  } catch (error) {
    if (!(error instanceof DecryptionError)) throw error;
    return { connectionId: row.id, keyId: row.token_key_id, reason: error.message };
  }
  const sealed = cipher.seal(token, tokenAad(row.id));
  const updated = await db
    .updateTable('connections')
    .set({ token_ciphertext: sealed.ciphertext, token_key_id: sealed.keyId })
    .where('id', '=', row.id)
    .where('token_key_id', '=', row.token_key_id)
    .where('token_ciphertext', '=', row.token_ciphertext)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1 ? 'rotated' : 'changed-meanwhile';
}

/** Tries to decrypt every stored token; the page never does, so this is where bad rows show up. */
export async function findUnreadableTokens(db: Db, cipher: TokenCipher): Promise<UnreadableToken[]> {
  const rows = await db
    .selectFrom('connections')
    .select(['id', 'token_key_id', 'token_ciphertext'])
    .orderBy('id')
    .execute();
  const unreadable: UnreadableToken[] = [];
  for (const row of rows) {
    try {
      cipher.open({ keyId: row.token_key_id, ciphertext: row.token_ciphertext }, tokenAad(row.id));
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      unreadable.push({ connectionId: row.id, keyId: row.token_key_id, reason: error.message });
    }
  }
  return unreadable;
}

export function describeKeyUsage(usage: KeyUsage[]): string[] {
  return usage.map((u) => {
    const label = u.current ? ' (current)' : u.configured ? ' (old)' : ' (NOT CONFIGURED)';
    return `  ${u.keyId}${label}: ${u.rows} row${u.rows === 1 ? '' : 's'}`;
  });
}
