import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { DecryptionError } from '../shared/token-cipher';
import { countOnOtherKeys, rowsOnOtherKeys, rowsPerKey, sealedRowsAfter } from './connections.repository';
import type { ConnectionsService } from './connections.service';
import type { TokenVault } from './token-vault';

/**
 * Moving stored tokens onto the ring's current key (ADR 0003) and reporting which key each row uses.
 * Every row is re-sealed by the connections writer in its own UPDATE conditioned on the ciphertext it
 * was read with, so a connect or refresh that rewrote the row meanwhile is never overwritten, and an
 * interrupted run loses nothing: running again picks up the rows still on old keys.
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

/** What rotation needs: the database for reads, the vault for checks, the writer for re-sealing. */
export interface KeyRotationDeps {
  db: Kysely<Database>;
  vault: TokenVault;
  connections: ConnectionsService;
}

export async function keyUsage(deps: Pick<KeyRotationDeps, 'db' | 'vault'>): Promise<KeyUsage[]> {
  const counted = await rowsPerKey(deps.db);
  const ids = [...new Set([...deps.vault.keyIds, ...counted.keys()])];
  return ids.map((keyId) => ({
    keyId,
    rows: counted.get(keyId) ?? 0,
    current: keyId === deps.vault.currentKeyId,
    configured: deps.vault.keyIds.includes(keyId),
  }));
}

export function countRowsOnOldKeys(deps: Pick<KeyRotationDeps, 'db' | 'vault'>): Promise<number> {
  return countOnOtherKeys(deps.db, deps.vault.currentKeyId);
}

export async function rotateTokenKeys(
  deps: KeyRotationDeps,
  options: { batchSize: number; signal?: AbortSignal; onBatch?: (processed: number) => void },
): Promise<RotationResult> {
  const result: RotationResult = { rotated: 0, changedMeanwhile: 0, unreadable: [], interrupted: false };
  // A cursor on the id, so rows that cannot be decrypted are passed over instead of read forever.
  let after = '';
  for (;;) {
    if (options.signal?.aborted) {
      result.interrupted = true;
      break;
    }
    const batch = await rowsOnOtherKeys(deps.db, deps.vault.currentKeyId, after, options.batchSize);
    if (batch.length === 0) break;
    for (const row of batch) {
      try {
        const outcome = await deps.connections.reseal(row);
        if (outcome === 'rotated') result.rotated += 1;
        else result.changedMeanwhile += 1;
      } catch (error) {
        if (!(error instanceof DecryptionError)) throw error;
        result.unreadable.push({ connectionId: row.id, keyId: row.token_key_id, reason: error.message });
      }
    }
    after = batch[batch.length - 1]?.id ?? after;
    options.onBatch?.(batch.length);
  }
  return result;
}

/** Tries to decrypt every stored token, in batches; the page never does, so this is where bad rows show up. */
export async function findUnreadableTokens(deps: Pick<KeyRotationDeps, 'db' | 'vault'>): Promise<UnreadableToken[]> {
  const unreadable: UnreadableToken[] = [];
  let after = '';
  for (;;) {
    const batch = await sealedRowsAfter(deps.db, after, 500);
    if (batch.length === 0) break;
    for (const row of batch) {
      try {
        deps.vault.open(row.id, { keyId: row.token_key_id, ciphertext: row.token_ciphertext });
      } catch (error) {
        if (!(error instanceof DecryptionError)) throw error;
        unreadable.push({ connectionId: row.id, keyId: row.token_key_id, reason: error.message });
      }
    }
    after = batch[batch.length - 1]?.id ?? after;
  }
  return unreadable;
}

export function describeKeyUsage(usage: KeyUsage[]): string[] {
  return usage.map((u) => {
    const label = u.current ? ' (current)' : u.configured ? ' (old)' : ' (NOT CONFIGURED)';
    return `  ${u.keyId}${label}: ${u.rows} row${u.rows === 1 ? '' : 's'}`;
  });
}
