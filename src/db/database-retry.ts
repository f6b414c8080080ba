import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely, Transaction } from 'kysely';
import { isDatabaseClosed, isDatabaseUnavailable } from './database-errors';

/**
 * Deadlines and retries for database work. A deadline is an absolute instant (performance.now()) by
 * which the work must be done or given up; it travels with the async call chain, so the SQLite driver
 * deep below a repository call knows how long it may keep waiting for another process's lock.
 * Waiting is always asynchronous (timers): the event loop keeps serving /healthz and every request
 * that needs no lock.
 */
const deadlines = new AsyncLocalStorage<number>();

/** How long a statement waits for a lock when nothing set a deadline (DATABASE_TIMEOUT_MS's default). */
export const DEFAULT_LOCK_WAIT_MS = 5000;
/**
 * withWriteTransaction's default: long enough to ride out a backup or a CLI sweep holding the SQLite
 * write lock, or a PostgreSQL restart, short enough that a person waiting on a page still gets an answer.
 */
export const DEFAULT_WRITE_DEADLINE_MS = 15_000;

/** Runs `work` with a deadline `ms` from now (never later than a deadline already in force). */
export function withDatabaseDeadline<T>(ms: number, work: () => Promise<T>): Promise<T> {
  const own = performance.now() + ms;
  const outer = deadlines.getStore();
  return deadlines.run(outer === undefined ? own : Math.min(outer, own), work);
}

/** The deadline in force, or `fallbackMs` from now. */
export function currentDeadline(fallbackMs: number): number {
  return deadlines.getStore() ?? performance.now() + fallbackMs;
}

/** Jittered exponential backoff: attempt 0 waits about `baseMs`, doubling up to `capMs`. */
export function backoffMs(attempt: number, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * Calls `attempt` until it succeeds, `retryable` refuses its error, or the deadline would pass before
 * the next try; then throws the last error.
 */
export async function retryUntil<T>(
  deadline: number,
  attempt: () => Promise<T>,
  options: {
    retryable: (error: unknown) => boolean;
    baseMs: number;
    capMs: number;
    onRetry?: (error: unknown) => void;
  },
): Promise<T> {
  for (let n = 0; ; n += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (!options.retryable(error)) throw error;
      const wait = Math.min(backoffMs(n, options.baseMs, options.capMs), deadline - performance.now());
      if (wait <= 0) throw error;
      options.onRetry?.(error);
      await sleep(wait);
    }
  }
}

export interface WriteTransactionOptions {
  /** Total time for every attempt together (default DEFAULT_WRITE_DEADLINE_MS). */
  deadlineMs?: number;
  /** Told before each new attempt, e.g. to log that a precious write is being retried. */
  onRetry?: (error: unknown) => void;
}

/**
 * One write transaction that survives a bad moment of the database: it runs `work` in a transaction
 * (on SQLite `BEGIN IMMEDIATE`: the write lock is taken up front, so the transaction is never refused
 * half-way), and when the database is locked, full, read-only, restarting or unreachable, it rolls back
 * and runs `work` again from the start, with backoff, until `deadlineMs` has passed; then the last error
 * is thrown (the error handler answers 503). Nothing is ever half written: each attempt commits whole or
 * not at all.
 *
 * `work` must only touch the database through `trx` and be safe to run more than once (compute
 * everything from its inputs; no calls to other services inside). A unique violation or any other
 * statement error is thrown at once. Use it for writes that must not be lost, such as storing a token
 * that Instagram has just issued.
 */
export function withWriteTransaction<DB, T>(
  db: Kysely<DB>,
  work: (trx: Transaction<DB>) => Promise<T>,
  options: WriteTransactionOptions = {},
): Promise<T> {
  return withDatabaseDeadline(options.deadlineMs ?? DEFAULT_WRITE_DEADLINE_MS, () =>
    retryUntil(currentDeadline(0), () => db.transaction().execute(work), {
      retryable: (error) => isDatabaseUnavailable(error) && !isDatabaseClosed(error),
      baseMs: 50,
      capMs: 1000,
      onRetry: options.onRetry,
    }),
  );
}
