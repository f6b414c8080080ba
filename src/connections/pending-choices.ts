import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import type { AuthorizedAccount, SkippedAccount } from '../providers/provider-definition';
import type { Clock } from '../shared/clock';
import { MINUTE } from '../shared/clock';
import { DecryptionError } from '../shared/token-cipher';
import type { TokenVault } from './token-vault';

/**
 * An authorization that reached several accounts waits here while the person picks which to connect.
 * Its accounts (tokens included) are sealed as one value by the token vault, bound to this row and
 * to the browser session that made it; taking it is single use (one DELETE … RETURNING), and it is gone
 * after 15 minutes. Nothing of it is in the session itself.
 */
export const CHOICE_TTL_MS = 15 * MINUTE;

export interface PendingChoice {
  provider: string;
  accounts: AuthorizedAccount[];
  skipped: SkippedAccount[];
  requestedScopes: string[];
  /** Whatever the flow must carry to its end (a connect link, say). */
  context: Record<string, string>;
}

export class PendingChoices {
  private held = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly vault: TokenVault,
    private readonly clock: Clock,
  ) {}

  async hold(sessionId: string, choice: PendingChoice): Promise<string> {
    const id = randomBytes(18).toString('base64url');
    const now = this.clock.now();
    const sealed = this.vault.sealChoice(id, JSON.stringify(choice));
    await this.db
      .insertInto('pending_choices')
      .values({
        id,
        session_id: sessionId,
        provider: choice.provider,
        key_id: sealed.keyId,
        payload: sealed.ciphertext,
        created_at: now,
        expires_at: now + CHOICE_TTL_MS,
      })
      .execute();
    if (++this.held % 100 === 0) {
      await this.db.deleteFrom('pending_choices').where('expires_at', '<', now).execute();
    }
    return id;
  }

  /** Reads a choice of this session without using it up (to show the picker). */
  async peek(id: string, sessionId: string): Promise<PendingChoice | undefined> {
    const row = await this.db
      .selectFrom('pending_choices')
      .selectAll()
      .where('id', '=', id)
      .where('session_id', '=', sessionId)
      .where('expires_at', '>', this.clock.now())
      .executeTakeFirst();
    return row && this.open(row);
  }

  /** Uses a choice of this session up: exactly one caller gets it. */
  async take(id: string, sessionId: string): Promise<PendingChoice | undefined> {
    const row = await this.db
      .deleteFrom('pending_choices')
      .where('id', '=', id)
      .where('session_id', '=', sessionId)
      .where('expires_at', '>', this.clock.now())
      .returningAll()
      .executeTakeFirst();
    return row && this.open(row);
  }

  private open(row: { id: string; key_id: string; payload: string }): PendingChoice {
    return JSON.parse(this.vault.openChoice(row.id, { keyId: row.key_id, ciphertext: row.payload })) as PendingChoice;
  }
}

/** What `keys rotate` did to the pending choices (see `resealChoices`). */
export interface ChoicesRotation {
  resealed: number;
  /** Past their 15 minutes (nobody can take them any more): deleted rather than re-sealed. */
  expiredDeleted: number;
  /** Sealed under a key no longer configured: deleted, so the person's pick answers "choice expired". */
  unreadableDeleted: number;
}

/**
 * Moves pending choices onto the ring's current key, as `keys rotate` does for connections: each row is
 * rewritten only where it still holds the payload it was read with (a choice taken meanwhile is simply
 * gone). Choices live 15 minutes, so there are few; they are read in one go.
 */
export async function resealChoices(db: Kysely<Database>, vault: TokenVault, now: number): Promise<ChoicesRotation> {
  const result: ChoicesRotation = { resealed: 0, expiredDeleted: 0, unreadableDeleted: 0 };
  const expired = await db
    .deleteFrom('pending_choices')
    .where('key_id', '!=', vault.currentKeyId)
    .where('expires_at', '<=', now)
    .executeTakeFirst();
  result.expiredDeleted = Number(expired.numDeletedRows);
  const rows = await db
    .selectFrom('pending_choices')
    .select(['id', 'key_id', 'payload'])
    .where('key_id', '!=', vault.currentKeyId)
    .execute();
  for (const row of rows) {
    let clear: string;
    try {
      clear = vault.openChoice(row.id, { keyId: row.key_id, ciphertext: row.payload });
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      const gone = await db
        .deleteFrom('pending_choices')
        .where('id', '=', row.id)
        .where('payload', '=', row.payload)
        .executeTakeFirst();
      result.unreadableDeleted += Number(gone.numDeletedRows);
      continue;
    }
    const sealed = vault.sealChoice(row.id, clear);
    const updated = await db
      .updateTable('pending_choices')
      .set({ key_id: sealed.keyId, payload: sealed.ciphertext })
      .where('id', '=', row.id)
      .where('key_id', '=', row.key_id)
      .where('payload', '=', row.payload)
      .executeTakeFirst();
    result.resealed += Number(updated.numUpdatedRows);
  }
  return result;
}

/** Pending choices per key id (for `keys status`). */
export async function choicesPerKey(db: Kysely<Database>): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('pending_choices')
    .select(['key_id', (eb) => eb.fn.countAll<number | string>().as('rows')])
    .groupBy('key_id')
    .execute();
  return new Map(rows.map((r) => [r.key_id, Number(r.rows)]));
}
