/**
 * What the engines' errors mean to the app, recognised in one place so nothing else inspects driver
 * errors. pg reports a lost or refused connection with Node's socket codes or with plain messages (no
 * code); the server reports shutdowns and overload with SQLSTATE codes. better-sqlite3 reports SQLite's
 * extended result codes as strings (`SQLITE_BUSY_SNAPSHOT`, `SQLITE_IOERR_WRITE`, …).
 */

/** SQLSTATE classes/codes meaning "the database cannot serve now", not "this statement is wrong". */
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown: the server is stopping (fast shutdown, restart)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or in recovery
  '53300', // too_many_connections
  '53100', // disk_full
  '53200', // out_of_memory
  '25006', // read_only_sql_transaction: a standby, or default_transaction_read_only
  '57014', // query_canceled: our statement_timeout fired
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
]);
/** SQLSTATEs worth trying again at once: the same statement may well succeed a moment later. */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01', '55P03']);
const UNAVAILABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/**
 * SQLite result codes (with every extended code below them) that say the file cannot be written or read
 * now: another process holds the lock, the disk is full, the file or its directory became read-only or
 * vanished, or the device failed. None is a fault of the statement; each answers 503.
 */
const UNAVAILABLE_SQLITE_PREFIXES = [
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_FULL',
  'SQLITE_READONLY',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
  'SQLITE_PROTOCOL',
  'SQLITE_NOMEM',
];
const UNAVAILABLE_MESSAGES = [
  /^timeout exceeded when trying to connect$/i,
  /^connection terminated/i,
  /^query read timeout$/i,
  /^connection ended unexpectedly$/i,
  /^client has encountered a connection error and is not queryable$/i,
];
/** The app's own handle was closed (shutdown): unavailable, and no retry will change that. */
const CLOSED_MESSAGES = [/^the database connection is not open$/i, /^driver has already been destroyed$/i];

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The database's own code of an error (SQLITE_FULL, 57P01, ECONNREFUSED), for logs and /readyz. */
export function databaseErrorCode(error: unknown): string | undefined {
  const code = codeOf(error);
  if (code !== undefined) return code;
  const nested = (error as { errors?: unknown } | null)?.errors;
  return Array.isArray(nested) ? nested.map(databaseErrorCode).find((c) => c !== undefined) : undefined;
}

/** True when the error says the database is unreachable or temporarily refusing work (answer 503). */
export function isDatabaseUnavailable(error: unknown): boolean {
  // Shapes, not instanceof: errors from Node's sockets come from another realm than ours under some
  // runners (jest's vm contexts), and pg's DatabaseError is only a subclass of Error.
  if (typeof error !== 'object' || error === null) return false;
  const code = codeOf(error);
  if (code !== undefined) {
    if (UNAVAILABLE_SOCKET_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code)) return true;
    if (code.startsWith('08')) return true; // connection_exception class
    if (UNAVAILABLE_SQLITE_PREFIXES.some((prefix) => code.startsWith(prefix))) return true;
  }
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))) return true;
  if (isDatabaseClosed(error)) return true;
  // Node reports a refused dual-stack connect as an AggregateError of the per-address errors.
  const nested = (error as { errors?: unknown }).errors;
  return Array.isArray(nested) && nested.some(isDatabaseUnavailable);
}

/** This process closed its database handle (shutting down, or closed under a test). */
export function isDatabaseClosed(error: unknown): boolean {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' && CLOSED_MESSAGES.some((pattern) => pattern.test(message));
}

/** SQLite's "another connection holds the lock": wait and try again, never block the event loop on it. */
export function isSqliteLocked(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * True when the same work may succeed if simply tried again shortly: a lock held elsewhere, a
 * connection lost or refused (a restart), a server shutting down or overloaded, a serialization failure.
 * A full disk, a read-only or failing file are unavailable too (503), but only time or an operator fixes
 * them: withWriteTransaction still retries those within its deadline, ordinary statements do not.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (isSqliteLocked(error)) return true;
  const code = codeOf(error);
  if (code !== undefined && (UNAVAILABLE_SOCKET_CODES.has(code) || TRANSIENT_SQLSTATES.has(code))) return true;
  if (code?.startsWith('08')) return true;
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))) return true;
  const nested = (error as { errors?: unknown }).errors;
  return Array.isArray(nested) && nested.some(isTransientDatabaseError);
}

/** True when an INSERT or UPDATE hit a unique constraint (PostgreSQL 23505, SQLite SQLITE_CONSTRAINT_UNIQUE). */
export function isUniqueViolation(error: unknown): boolean {
  const code = codeOf(error);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Words for the site owner (error page details, logs) saying why the database refused: never a driver
 * message, which may name hosts or paths.
 */
export function describeUnavailability(error: unknown): string {
  const code = databaseErrorCode(error) ?? '';
  if (code.startsWith('SQLITE_FULL') || code === '53100') return 'the disk holding the database is full';
  if (code.startsWith('SQLITE_READONLY') || code === '25006') return 'the database is read-only';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || code === '55P03') {
    return 'the database stayed locked by another process past the deadline';
  }
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) {
    return 'the database file could not be read or written';
  }
  if (isDatabaseClosed(error)) return 'the database handle is closed (shutting down)';
  return 'the database is unreachable, restarting or overloaded';
}
