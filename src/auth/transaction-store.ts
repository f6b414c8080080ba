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
 * `verify` when the callback comes back. A flow opened through a connect link is bound to that link on
 * its row (passport-oauth2 hands the store the `state` object given to `authenticate`), and consuming the
 * state says which link, if any: the callback never has to guess from the session.
 */
export const TRANSACTION_TTL_MS = 30 * MINUTE;

type StoreCallback = OAuth2Strategy.StateStoreStoreCallback;
type VerifyCallback = OAuth2Strategy.StateStoreVerifyCallback;

/** What a flow was started for, as recorded with its state. */
export interface FlowBinding {
  /** The connect link the flow was opened through; null for a flow started on the home page. */
  connectSessionId: string | null;
}

/** The `state` object handed to `passport.authenticate` to bind a flow to a connect link. */
export interface LinkFlowState {
  connectSessionId: string;
}

function isLinkFlowState(value: unknown): value is LinkFlowState {
  return typeof (value as LinkFlowState | null | undefined)?.connectSessionId === 'string';
}

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

  /**
   * Starts an attempt for this browser session and hands passport-oauth2 the state to send. With four
   * parameters, passport-oauth2 passes the `state` option of `authenticate` (a connect link's binding)
   * and the metadata before the callback; its type declarations know only the shorter forms.
   */
  store(req: Request, appState: unknown, _meta?: unknown, callback?: StoreCallback): void {
    // passport-oauth2 picks the call by `store.length`, which is 4 here: `callback` is always given.
    const done = callback as StoreCallback;
    this.begin(req, isLinkFlowState(appState) ? appState.connectSessionId : null).then(
      (state) => done(null, state),
      (error: Error) => done(error, undefined),
    );
  }

  /**
   * Ok for exactly one caller: the state exists, belongs to this session and provider, is fresh and
   * unused. The third argument is the flow's binding (passport-oauth2's "state info").
   */
  verify(
    req: Request,
    state: string,
    _meta: OAuth2Strategy.Metadata | VerifyCallback,
    callback?: VerifyCallback,
  ): void {
    const done = (callback ?? _meta) as VerifyCallback;
    this.consume(req, state).then(
      (binding) => done(null, binding !== undefined, binding),
      (error: Error) => done(error, false, undefined),
    );
  }

  async begin(req: Request, connectSessionId: string | null = null): Promise<string> {
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
        connect_session_id: connectSessionId,
      })
      .execute();
    if (++this.begun % 200 === 0) await this.prune(now);
    return state;
  }

  /** The flow's binding for exactly one caller (see `verify`); undefined when the state is refused. */
  async consume(req: Request, state: string): Promise<FlowBinding | undefined> {
    const now = this.clock.now();
    // RETURNING (SQLite and PostgreSQL) reads the binding in the same statement that wins the state.
    const row = await this.db
      .updateTable('oauth_transactions')
      .set({ consumed_at: now })
      .where('state_hash', '=', hashState(state))
      .where('session_id', '=', req.sessionID)
      .where('provider', '=', this.provider)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', now)
      .returning('connect_session_id')
      .executeTakeFirst();
    return row && { connectSessionId: row.connect_session_id };
  }

  private async prune(now: number): Promise<void> {
    await this.db
      .deleteFrom('oauth_transactions')
      .where('expires_at', '<', now - TRANSACTION_TTL_MS)
      .execute();
  }
}
