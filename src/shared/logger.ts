import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs that never carry a secret. Two layers, both over every finished line: `redactLine`
 * replaces the value of every field with a known name, at any depth, and `scrubLine` rewrites the line,
 * so a token that slips into a message or an error text (Meta puts access_token and client_secret in
 * query strings) is still removed.
 */
export const REDACT_KEYS = [
  'access_token',
  'accessToken',
  'refresh_token',
  'token',
  'code',
  'state',
  'client_secret',
  'clientSecret',
  'appSecret',
  'secret',
  'sessionSecret',
  'password',
  'cookie',
  'authorization',
  'signed_request',
  'signedRequest',
];

const QUERY_SECRET =
  /((?:access_token|input_token|client_secret|fb_exchange_token|code|state|signed_request)=)[^&\s"'\\]+/gi;
const BEARER = /(bearer\s+)[A-Za-z0-9._~+/-]+=*/gi;
// Instagram user tokens start with IGAA/IGQV, Facebook ones with EAA; none belongs in a log.
const TOKEN_SHAPE = /\b(?:IGAA|IGQV|EAA)[A-Za-z0-9_-]{16,}/g;
// A connect link's secret (its URL's last segment) lets anyone connect an account for that end user.
const LINK_SECRET = /\bigcl_[A-Za-z0-9_-]{16,}/g;

export function scrubLine(line: string): string {
  return line
    .replace(QUERY_SECRET, '$1[redacted]')
    .replace(BEARER, '$1[redacted]')
    .replace(TOKEN_SHAPE, '[redacted-token]')
    .replace(LINK_SECRET, 'igcl_[redacted]');
}

/** A field with one of the names above, as it appears in a finished JSON line (keys are never escaped). */
const REDACTED_FIELD = new RegExp(`"(?:${REDACT_KEYS.join('|')})":`);
const REDACTED_NAMES = new Set(REDACT_KEYS);
const CENSOR = '[redacted]';
// Only for a line that is not JSON (pino writes JSON; this is the fallback): a listed field's string,
// number or literal value.
const REDACTED_SCALAR = new RegExp(
  `("(?:${REDACT_KEYS.join('|')})":)(?:"(?:[^"\\\\]|\\\\.)*"|[-0-9.eE+]+|true|false|null)`,
  'g',
);

function redactFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactFields);
  if (value === null || typeof value !== 'object') return value;
  // No prototype: a field named __proto__ in a line stays a field.
  const out = Object.create(null) as Record<string, unknown>;
  for (const [key, field] of Object.entries(value)) out[key] = REDACTED_NAMES.has(key) ? CENSOR : redactFields(field);
  return out;
}

/**
 * Replaces the value of every field named in REDACT_KEYS, at any depth, in one finished log line. Most
 * lines name none of them (a request's line, a keeper's step) and pass after one regular expression
 * test: pino's own `redact` walked and copied every value of every line, which cost more than the rest
 * of a request's logging together. A line that does name one is parsed, redacted and written again.
 */
export function redactLine(line: string): string {
  if (!REDACTED_FIELD.test(line)) return line;
  const end = line.endsWith('\n') ? '\n' : '';
  try {
    return `${JSON.stringify(redactFields(JSON.parse(line)))}${end}`;
  } catch {
    return line.replace(REDACTED_SCALAR, `$1"${CENSOR}"`);
  }
}

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { app: 'igconnect' },
      hooks: { streamWrite: (line) => scrubLine(redactLine(line)) },
    },
    options.destination,
  );
}
