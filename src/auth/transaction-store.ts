import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import type { Kysely } from 'kysely';
import type { Database } from '../db/database';
import { type Clock, MINUTE } from '../shared/clock';

/**
 * Authorization attempts ("transactions") in the database rather than the session, because a session is
 * loaded per request: two parallel callbacks carrying one state would both see it unused. Consuming is a
 * single conditional UPDATE, so exactly one request wins on SQLite and PostgreSQL alike.
 * A state is 256 random bits, bound to the browser session, single use, and short-lived; only its hash
 * is stored, so a database dump holds nothing replayable.
 */
export const TRANSACTION_TTL_MS = 30 * MINUTE;

export function hashState(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}

export class TransactionStore {
  private begun = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly provider: string,
  ) {}

  /** Starts an attempt for this browser session and returns the state to send. */
  async begin(req: Request): Promise<string> {
    // Touch the session so express-session saves it and sets the cookie the callback will bring back.
    req.session.connectStartedAt = this.clock.now();
    const state = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    await this.db
      .insertInto('oauth_transactions')
      .values({
        state_hash: hashState(state),
        session_id: req.sessionID,
        provider: this.provider,
        created_at: now,
        expires_at: now + TRANSACTION_TTL_MS,
        consumed_at: null,
      })
      .execute();
    if (++this.begun % 200 === 0) await this.prune(now);
    return state;
  }

  /** True for exactly one caller: the state exists, belongs to this session, is fresh and unused. */
  async consume(req: Request, state: string): Promise<boolean> {
    const now = this.clock.now();
    const result = await this.db
      .updateTable('oauth_transactions')
      .set({ consumed_at: now })
      .where('state_hash', '=', hashState(state))
      .where('session_id', '=', req.sessionID)
      .where('provider', '=', this.provider)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  private async prune(now: number): Promise<void> {
    await this.db
      .deleteFrom('oauth_transactions')
      .where('expires_at', '<', now - TRANSACTION_TTL_MS)
      .execute();
  }
}
