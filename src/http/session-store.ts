import session, { type SessionData } from 'express-session';
import type { Kysely } from 'kysely';
import type { Database } from '../db/database';
import type { Clock } from '../shared/clock';

type Callback = (err?: unknown) => void;

/**
 * express-session store over the app's own database (SQLite or PostgreSQL through Kysely), so sessions
 * survive restarts and are shared by every instance. No timers: expired rows are ignored on read and
 * swept on every `pruneEvery`-th write, which keeps jest and clean shutdowns free of dangling handles.
 */
export class KyselySessionStore extends session.Store {
  private writes = 0;

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
        callback(null, JSON.parse(row.sess) as SessionData);
      }, callback);
  }

  override set(sid: string, data: SessionData, callback?: Callback): void {
    const sess = JSON.stringify(data);
    const expiresAt = this.expiryOf(data);
    this.db
      .insertInto('sessions')
      .values({ sid, sess, expires_at: expiresAt })
      .onConflict((oc) => oc.column('sid').doUpdateSet({ sess, expires_at: expiresAt }))
      .execute()
      .then(() => this.maybePrune())
      .then(
        () => callback?.(),
        (err: unknown) => callback?.(err),
      );
  }

  override touch(sid: string, data: SessionData, callback?: Callback): void {
    this.db
      .updateTable('sessions')
      .set({ expires_at: this.expiryOf(data) })
      .where('sid', '=', sid)
      .execute()
      .then(
        () => callback?.(),
        (err: unknown) => callback?.(err),
      );
  }

  override destroy(sid: string, callback?: Callback): void {
    this.db
      .deleteFrom('sessions')
      .where('sid', '=', sid)
      .execute()
      .then(
        () => callback?.(),
        (err: unknown) => callback?.(err),
      );
  }

  /** Removes every session of the given user (used when a user's data is deleted). */
  async destroyAllOfUser(userId: string): Promise<void> {
    // Sessions are opaque JSON; passport keeps the user id under passport.user.
    const rows = await this.db.selectFrom('sessions').select(['sid', 'sess']).execute();
    const sids = rows.filter(
      (r) => (JSON.parse(r.sess) as SessionData & { passport?: { user?: string } }).passport?.user === userId,
    );
    if (sids.length > 0)
      await this.db
        .deleteFrom('sessions')
        .where(
          'sid',
          'in',
          sids.map((r) => r.sid),
        )
        .execute();
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
