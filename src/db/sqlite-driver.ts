import type SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
  SqliteDialect,
} from 'kysely';
import { isSqliteLocked } from './database-errors';
import type { WriteHealth } from './database-health';
import { currentDeadline, retryUntil } from './database-retry';

/**
 * Kysely's SQLite driver, changed where locks are concerned. better-sqlite3 is synchronous: with a
 * busy_timeout, a statement that meets another process's write lock (a backup, a CLI sweep, a worker)
 * blocks the whole event loop until the lock goes, and every request, /healthz included, waits with it.
 * Here SQLite never waits by itself (busy_timeout stays short, 0 by default): a statement that finds the
 * database locked fails at once, and the driver tries it again on a timer with backoff, until the
 * deadline in force (see database-retry.ts), then gives up with SQLITE_BUSY (503).
 *
 * Transactions begin with `BEGIN IMMEDIATE`: the write lock is taken (or waited for, asynchronously)
 * before the first statement. A deferred transaction that read first and wrote second would be refused
 * half-way by a lock another process took in between, and no amount of waiting can save it then.
 *
 * The handle is one connection. While a transaction is open on it, statements from elsewhere in the
 * process wait for it to end (they would otherwise join it); statements outside transactions run as
 * soon as they are asked, since each one runs to completion synchronously.
 */
export interface LockAwareSqliteOptions {
  /** How long a statement waits for a lock when no deadline is in force. */
  lockWaitMs: number;
  health?: WriteHealth;
}

const WRITE_KINDS = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode']);

function isWrite(query: CompiledQuery): boolean {
  const kind = (query.query as { kind?: string } | undefined)?.kind;
  if (kind !== undefined && kind !== 'RawNode') return WRITE_KINDS.has(kind);
  return !/^\s*(select|pragma|with|explain|begin|rollback|savepoint|release)\b/i.test(query.sql);
}

export class LockAwareSqliteDialect extends SqliteDialect implements Dialect {
  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly statements: { prepare(sql: string): SQLite.Statement },
    private readonly options: LockAwareSqliteOptions,
  ) {
    super({ database: { close: () => sqlite.close(), prepare: (sql) => statements.prepare(sql) } });
  }

  override createDriver(): Driver {
    return new LockAwareSqliteDriver(this.sqlite, this.statements, this.options);
  }
}

class LockAwareSqliteDriver implements Driver {
  /** Settles when the transaction open on the handle ends; undefined while none is open. */
  private transactionEnded: Promise<void> | undefined;
  private endTransaction: (() => void) | undefined;
  private destroyed = false;

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly statements: { prepare(sql: string): SQLite.Statement },
    private readonly options: LockAwareSqliteOptions,
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.destroyed) throw new Error('driver has already been destroyed');
    return new LockAwareConnection(this);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await this.withLockRetry(true, () =>
      this.whenIdle(() => {
        this.run(CompiledQuery.raw('begin immediate'));
        this.transactionEnded = new Promise((resolve) => (this.endTransaction = resolve));
      }),
    );
    (connection as LockAwareConnection).inTransaction = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      // WAL commits need no further lock; a rollback-journal file could still answer BUSY here.
      await this.withLockRetry(true, async () => void this.run(CompiledQuery.raw('commit'), true));
    } finally {
      // A failed commit (full disk) leaves the transaction open: Kysely rolls it back next.
      if (!this.sqlite.inTransaction) this.finish(connection);
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      // SQLite may have rolled back by itself (a full disk or an I/O error can end a transaction).
      if (this.sqlite.open && this.sqlite.inTransaction) this.run(CompiledQuery.raw('rollback'));
    } finally {
      this.finish(connection);
    }
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {
    this.destroyed = true;
    if (this.sqlite.open) this.sqlite.close();
  }

  /**
   * Runs `action` as soon as no transaction is open on the handle. The check and the action run in one
   * synchronous stretch: nothing else in the process can open a transaction in between.
   */
  async whenIdle<T>(action: () => T): Promise<T> {
    while (this.transactionEnded) await this.transactionEnded;
    return action();
  }

  /**
   * Retries `attempt` while the database is locked by another connection, until the deadline. A write
   * that could not get the lock in time counts as a failed write (not ready) until one succeeds.
   */
  withLockRetry<T>(write: boolean, attempt: () => Promise<T>): Promise<T> {
    return retryUntil(currentDeadline(this.options.lockWaitMs), attempt, {
      retryable: isSqliteLocked,
      baseMs: 2,
      capMs: 250,
    }).catch((error: unknown) => {
      if (write && isSqliteLocked(error)) this.options.health?.failed(error);
      throw error;
    });
  }

  /** Runs one statement to completion (synchronously, as better-sqlite3 does). */
  run(query: CompiledQuery, forceWrite = false): QueryResult<unknown> {
    const write = forceWrite || isWrite(query);
    try {
      const statement = this.statements.prepare(query.sql);
      const parameters = query.parameters as unknown[];
      let result: QueryResult<unknown>;
      if (statement.reader) {
        result = { rows: statement.all(parameters) };
      } else {
        const { changes, lastInsertRowid } = statement.run(parameters);
        result = { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
      }
      if (write && !this.sqlite.inTransaction) this.options.health?.succeeded();
      return result;
    } catch (error) {
      // Lock errors are recorded once the retries gave up (withLockRetry), not on every attempt.
      if (write && !isSqliteLocked(error)) this.options.health?.failed(error);
      throw error;
    }
  }

  private finish(connection: DatabaseConnection): void {
    (connection as LockAwareConnection).inTransaction = false;
    const end = this.endTransaction;
    this.transactionEnded = undefined;
    this.endTransaction = undefined;
    end?.();
  }
}

class LockAwareConnection implements DatabaseConnection {
  inTransaction = false;

  constructor(private readonly driver: LockAwareSqliteDriver) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.inTransaction) return this.driver.run(query) as QueryResult<R>;
    return this.driver.withLockRetry(isWrite(query), () =>
      this.driver.whenIdle(() => this.driver.run(query) as QueryResult<R>),
    );
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    // Streaming would hold the handle across awaits; igconnect never streams.
    throw new Error('streaming is not supported on SQLite');
  }
}
