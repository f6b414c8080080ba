/**
 * What the engines' errors mean to the app, recognised in one place so nothing else inspects driver
 * errors. pg reports a lost or refused connection with Node's socket codes or with plain messages (no
 * code); the server reports shutdowns and overload with SQLSTATE codes.
 */

/** SQLSTATE classes/codes meaning "the database cannot serve now", not "this statement is wrong". */
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown: the server is stopping (fast shutdown, restart)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or in recovery
  '53300', // too_many_connections
  '57014', // query_canceled: our statement_timeout fired
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);
const UNAVAILABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'SQLITE_BUSY',
]);
const UNAVAILABLE_MESSAGES = [
  /^timeout exceeded when trying to connect$/i,
  /^connection terminated/i,
  /^query read timeout$/i,
  /^connection ended unexpectedly$/i,
  /^client has encountered a connection error and is not queryable$/i,
];

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when the error says the database is unreachable or temporarily refusing work (answer 503). */
export function isDatabaseUnavailable(error: unknown): boolean {
  // Shapes, not instanceof: errors from Node's sockets come from another realm than ours under some
  // runners (jest's vm contexts), and pg's DatabaseError is only a subclass of Error.
  if (typeof error !== 'object' || error === null) return false;
  const code = codeOf(error);
  if (code !== undefined && (UNAVAILABLE_SOCKET_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code))) return true;
  if (code?.startsWith('08')) return true; // connection_exception class
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))) return true;
  // Node reports a refused dual-stack connect as an AggregateError of the per-address errors.
  const nested = (error as { errors?: unknown }).errors;
  return Array.isArray(nested) && nested.some(isDatabaseUnavailable);
}

/** True when an INSERT or UPDATE hit a unique constraint (PostgreSQL 23505, SQLite SQLITE_CONSTRAINT_UNIQUE). */
export function isUniqueViolation(error: unknown): boolean {
  const code = codeOf(error);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
