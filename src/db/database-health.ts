import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema';
import { databaseErrorCode, isDatabaseUnavailable } from './database-errors';
import { withDatabaseDeadline } from './database-retry';
import { pingDatabase } from './migrate';

/**
 * Whether writes currently succeed, known cheaply: the drivers report the outcome of every write
 * statement and commit here, so a healthy /readyz costs one `select 1` and nothing more. Only after a
 * write failed because of the database (full disk, read-only file, lock held past its deadline, server
 * gone) does /readyz pay for a probe write, and the first write that succeeds again, a probe's or a
 * request's, clears the failure: recovery needs no restart.
 */
export class WriteHealth {
  private failure: { code: string; since: number } | undefined;

  /** A write statement or commit succeeded. */
  succeeded(): void {
    this.failure = undefined;
  }

  /** A write failed; only the database's own unavailability counts (a constraint violation does not). */
  failed(error: unknown): void {
    if (!isDatabaseUnavailable(error)) return;
    this.failure ??= { code: databaseErrorCode(error) ?? 'UNAVAILABLE', since: Date.now() };
  }

  /** The failing code (SQLITE_FULL, 57P01, …) while the last write outcome was a failure. */
  get failing(): { code: string; since: number } | undefined {
    return this.failure;
  }
}

/** Each app handle's tracker, found from the handle so nothing else needs wiring. */
const trackers = new WeakMap<object, WriteHealth>();

export function registerWriteHealth(db: Kysely<Database>, health: WriteHealth): void {
  trackers.set(db, health);
}

export function writeHealthOf(db: Kysely<Database>): WriteHealth | undefined {
  return trackers.get(db);
}

/** A probe writes a row big enough to need fresh pages: a full disk must refuse it, as it refuses real writes. */
const PROBE_PAYLOAD = 'x'.repeat(8192);
/** /readyz must answer fast even while another process holds the lock. */
const PROBE_DEADLINE_MS = 750;

export type Readiness = { ready: true } | { ready: false; reason: 'database' | 'database-writes'; code?: string };

/**
 * Ready when the database answers and writes are not known to fail; while they are, a probe write
 * (a throwaway session row inserted and deleted, each committed) decides.
 */
export async function checkReadiness(db: Kysely<Database>): Promise<Readiness> {
  try {
    await withDatabaseDeadline(PROBE_DEADLINE_MS, () => pingDatabase(db));
  } catch (error) {
    return { ready: false, reason: 'database', code: databaseErrorCode(error) };
  }
  const health = writeHealthOf(db);
  if (!health?.failing) return { ready: true };
  try {
    await probeWrite(db);
    return { ready: true };
  } catch (error) {
    return { ready: false, reason: 'database-writes', code: databaseErrorCode(error) ?? health.failing?.code };
  }
}

async function probeWrite(db: Kysely<Database>): Promise<void> {
  // Not a session express-session can ever load: its ids are 32 characters without a colon. Already
  // expired, so a probe row left behind by a failed delete is swept with the expired sessions.
  const sid = `igconnect-write-probe:${randomBytes(8).toString('hex')}`;
  await withDatabaseDeadline(PROBE_DEADLINE_MS, async () => {
    await db.insertInto('sessions').values({ sid, sess: PROBE_PAYLOAD, expires_at: 0 }).execute();
    await db.deleteFrom('sessions').where('sid', '=', sid).execute();
  });
}
