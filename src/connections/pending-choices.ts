import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import type { AuthorizedAccount, SkippedAccount } from '../providers/provider-definition';
import type { Clock } from '../shared/clock';
import { MINUTE } from '../shared/clock';
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
