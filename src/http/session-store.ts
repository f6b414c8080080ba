import session, { type SessionData } from 'express-session';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { type Clock, HOUR } from '../shared/clock';

type Callback = (err?: unknown) => void;

/**
 * express-session touches the store on every request that leaves the session unchanged, which made
 * every page view a database write. A touch that would move the expiry by less than this is skipped:
 * on a 14-day idle timeout an hour is not noticeable, and page views stay reads.
 */
export const TOUCH_SLACK_MS = HOUR;
/** Bounds the expiries remembered between a request's get() and its touch(). */
const MAX_REMEMBERED = 10_000;

/**
 * express-session store over the app's own database (SQLite or PostgreSQL through Kysely), so sessions
 * survive restarts and are shared by every instance. No timers: expired rows are ignored on read and
 * swept on every `pruneEvery`-th write, which keeps jest and clean shutdowns free of dangling handles.
 */
export class KyselySessionStore extends session.Store {
  private writes = 0;
  /** The stored expiry each session had when get() read it, until that request's touch() or set(). */
  private readonly loadedExpiry = new Map<string, number>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly defaultTtlMs: number,
    private readonly pruneEvery = 500,
  ) {
    super();
  }

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    this.db
      .selectFrom('sessions')
      .select(['sess', 'expires_at'])
      .where('sid', '=', sid)
      .executeTakeFirst()
      .then((row) => {
        if (!row || Number(row.expires_at) <= this.clock.now()) return callback(null, null);
        this.remember(sid, Number(row.expires_at));
        callback(null, JSON.parse(row.sess) as SessionData);
      }, callback);
  }

  override set(sid: string, data: SessionData, callback?: Callback): void {
    this.loadedExpiry.delete(sid);
    const sess = JSON.stringify(data);
    const expiresAt = this.expiryOf(data);
    this.db
      .insertInto('sessions')
      .values({ sid, sess, expires_at: expiresAt })
      .onConflict((oc) => oc.column('sid').doUpdateSet({ sess, expires_at: expiresAt }))
      .execute()
      .then(
        () => {
          // Just written: the touch express-session may send in the same request has nothing to add.
          this.remember(sid, expiresAt);
          callback?.();
          // Sweeping is housekeeping: its failure must not turn a saved session into an error.
          this.maybePrune().catch(() => undefined);
        },
        (err: unknown) => callback?.(err),
      );
  }

  override touch(sid: string, data: SessionData, callback?: Callback): void {
    const expiresAt = this.expiryOf(data);
    const loaded = this.loadedExpiry.get(sid);
    this.loadedExpiry.delete(sid);
    // Read moments ago in this same request, so the comparison holds with several instances too.
    if (loaded !== undefined && expiresAt - loaded < TOUCH_SLACK_MS) {
      callback?.();
      return;
    }
    this.db
      .updateTable('sessions')
      .set({ expires_at: expiresAt })
      .where('sid', '=', sid)
      .execute()
      .then(
        () => callback?.(),
        // A touch only moves the idle expiry, and express-session reports its failure after the response
        // is written (a dropped connection, no page): while the database refuses writes the expiry
        // simply stays where it was.
        () => callback?.(),
      );
  }

  override destroy(sid: string, callback?: Callback): void {
    this.loadedExpiry.delete(sid);
    this.db
      .deleteFrom('sessions')
      .where('sid', '=', sid)
      .execute()
      .then(
        () => callback?.(),
        (err: unknown) => callback?.(err),
      );
  }

  private remember(sid: string, expiresAt: number): void {
    if (this.loadedExpiry.size >= MAX_REMEMBERED) this.loadedExpiry.clear();
    this.loadedExpiry.set(sid, expiresAt);
  }

  private expiryOf(data: SessionData): number {
    // From the injected clock, not cookie.expires (express-session computes that from Date.now()): the
    // idle timeout must be measured by the same clock that `get` compares it with.
    const maxAge = data.cookie?.originalMaxAge;
    return this.clock.now() + (typeof maxAge === 'number' ? maxAge : this.defaultTtlMs);
  }

  private async maybePrune(): Promise<void> {
    this.writes += 1;
    if (this.writes % this.pruneEvery !== 0) return;
    await this.db.deleteFrom('sessions').where('expires_at', '<=', this.clock.now()).execute();
  }
}
