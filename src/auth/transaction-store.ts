import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import type { Kysely } from 'kysely';
import type OAuth2Strategy from 'passport-oauth2';
import type { Database } from '../db/schema';
import { type Clock, MINUTE } from '../shared/clock';

/**
 * Authorization attempts ("transactions") in the database rather than the session, because a session is
 * loaded per request: two parallel callbacks carrying one state would both see it unused. Consuming is a
 * single conditional UPDATE, so exactly one request wins on SQLite and PostgreSQL alike.
 * A state is 256 random bits, bound to the browser session and to one provider, single use, and
 * short-lived; only its hash is stored, so a database dump holds nothing replayable.
 *
 * It is passport-oauth2's state store (its documented `store` option): `store` runs when the flow starts,
 * `verify` when the callback comes back.
 */
export const TRANSACTION_TTL_MS = 30 * MINUTE;

type StoreCallback = OAuth2Strategy.StateStoreStoreCallback;
type VerifyCallback = OAuth2Strategy.StateStoreVerifyCallback;

export function hashState(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}

export class TransactionStore implements OAuth2Strategy.StateStore {
  private begun = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly provider: string,
  ) {}

  /** Starts an attempt for this browser session and hands passport-oauth2 the state to send. */
  store(req: Request, _meta: OAuth2Strategy.Metadata | StoreCallback, callback?: StoreCallback): void {
    const done = (callback ?? _meta) as StoreCallback;
    this.begin(req).then(
      (state) => done(null, state),
      (error: Error) => done(error, undefined),
    );
  }

  /** True for exactly one caller: the state exists, belongs to this session and provider, is fresh and unused. */
  verify(
    req: Request,
    state: string,
    _meta: OAuth2Strategy.Metadata | VerifyCallback,
    callback?: VerifyCallback,
  ): void {
    const done = (callback ?? _meta) as VerifyCallback;
    this.consume(req, state).then(
      (ok) => done(null, ok, undefined),
      (error: Error) => done(error, false, undefined),
    );
  }

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
