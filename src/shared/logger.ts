import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs that never carry a secret. Two layers: `redact` removes known fields wherever they
 * appear, and `scrubLine` rewrites every finished line, so a token that slips into a message or an
 * error text (Meta puts access_token and client_secret in query strings) is still removed.
 */
const REDACT_KEYS = [
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

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  const paths = REDACT_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);
  return pino(
    {
      level: options.level,
      base: { app: 'igconnect' },
      redact: { paths, censor: '[redacted]' },
      hooks: { streamWrite: scrubLine },
    },
    options.destination,
  );
}
