import { randomUUID } from 'node:crypto';
import type { Insertable } from 'kysely';
import { parseEncryptionKeys } from '../../src/config/config';
import { tokenAad } from '../../src/connections/token-vault';
import type { ConnectionsTable } from '../../src/db/schema';
import { TokenCipher, tokenFingerprint } from '../../src/shared/token-cipher';
import type { SandboxProcess } from './processes';

export interface MintedRowOptions {
  userId: string;
  /** The sandbox account the token is issued for (its Instagram user id). */
  account: string;
  /** Numbers the row's ids and username when many rows share one sandbox account. */
  n: number;
  username: string;
  subjectId?: string;
  accountId?: string;
  /** When the sandbox records the token as issued (its own clock when left out). */
  mintedAt?: number;
  /** The row's token times: issued (also connected and updated), expiry, next action. */
  issuedAt: number;
  expiresAt: number;
  nextActionAt: number;
}

/**
 * Connection rows for tests that run igconnect as processes and seed its database from outside: each row
 * holds a token the sandbox process really issued, sealed as igconnect seals it (the deployment's key
 * ring, the AAD bound to the row's id), so the processes can use, renew and validate it.
 */
export function rowMinter(
  sandbox: SandboxProcess,
  keys: string | undefined,
): (options: MintedRowOptions) => Promise<{ row: Insertable<ConnectionsTable>; token: string }> {
  const ring = parseEncryptionKeys(keys);
  if (ring.problems.length > 0) throw new Error(`bad TOKEN_ENCRYPTION_KEYS: ${ring.problems.join('; ')}`);
  const cipher = new TokenCipher(ring.keys);
  return async (o) => {
    const minted = await fetch(`${sandbox.url}/_control/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ account: o.account, ...(o.mintedAt !== undefined ? { issuedAt: o.mintedAt } : {}) }),
    });
    const { access_token: token } = (await minted.json()) as { access_token: string };
    const id = randomUUID();
    const sealed = cipher.seal(token, tokenAad(id));
    const row: Insertable<ConnectionsTable> = {
      id,
      user_id: o.userId,
      provider: 'instagram',
      subject_id: o.subjectId ?? String(26173400000000000n + BigInt(o.n)),
      account_id: o.accountId ?? String(17841400000000000n + BigInt(o.n)),
      profile: JSON.stringify({ username: o.username }),
      granted_scopes: 'instagram_business_basic',
      requested_scopes: 'instagram_business_basic',
      status: 'active',
      token_ciphertext: sealed.ciphertext,
      token_key_id: sealed.keyId,
      token_fingerprint: tokenFingerprint(token),
      token_issued_at: o.issuedAt,
      token_expires_at: o.expiresAt,
      connected_at: o.issuedAt,
      updated_at: o.issuedAt,
      next_action_at: o.nextActionAt,
    };
    return { row, token };
  };
}
