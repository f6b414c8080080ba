import { randomBytes } from 'node:crypto';
import { DAY, HOUR } from '../shared/clock';

/**
 * Wire-level facts of Instagram Login that the sandbox reproduces (docs/instagram-platform.md).
 * Pure functions and constants only: no state, no Express.
 */

export type SandboxEndpoint = 'authorize' | 'token' | 'exchange' | 'refresh' | 'me';
export const SANDBOX_ENDPOINTS: readonly SandboxEndpoint[] = ['authorize', 'token', 'exchange', 'refresh', 'me'];

export interface ScriptedResponse {
  status?: number;
  body?: string | object;
  headers?: Record<string, string>;
  delayMs?: number;
}

export type ResponseShape = 'flat' | 'wrapped';

export const SCOPE_BASIC = 'instagram_business_basic';
/** The only scope names Instagram Login accepts since the `business_*` names were retired (2025-01-27). */
export const INSTAGRAM_LOGIN_SCOPES: readonly string[] = [
  SCOPE_BASIC,
  'instagram_business_content_publish',
  'instagram_business_manage_comments',
  'instagram_business_manage_messages',
  'instagram_business_manage_insights',
];

/** Consent pages stay answerable this long. */
export const PENDING_LIFETIME_MS = HOUR;
/** Authorization codes live one hour and work once. */
export const CODE_LIFETIME_MS = HOUR;
/** Short-lived tokens from the code exchange live one hour. */
export const SHORT_LIVED_LIFETIME_MS = HOUR;
/** What Instagram answers as `expires_in` for a long-lived token: a little under 60 days. */
export const LONG_LIVED_EXPIRES_IN_SECONDS = 5183944;
export const LONG_LIVED_LIFETIME_MS = LONG_LIVED_EXPIRES_IN_SECONDS * 1000;
/** Instagram refuses to refresh a long-lived token younger than 24 hours. */
export const REFRESH_MIN_AGE_MS = DAY;

/** Meta sends this header on Graph answers; usage in percent. The sandbox never throttles. */
export const APP_USAGE_HEADER = JSON.stringify({ call_count: 1, total_cputime: 1, total_time: 1 });

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Uniform alphanumeric string (rejection sampling keeps every character equally likely). */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 × 62: bytes at or above it would favour the first characters.
      if (byte < 248 && out.length < length) out += ALPHANUMERIC[byte % 62];
    }
  }
  return out;
}

/** Instagram Login tokens start with `IGAA` and are long opaque alphanumeric strings. */
export function newAccessToken(): string {
  return `IGAA${randomAlphanumeric(140)}`;
}

/** 256 random bits, base64url. */
export function newAuthorizationCode(): string {
  return randomBytes(32).toString('base64url');
}

export function newRequestId(): string {
  return randomBytes(24).toString('base64url');
}

export function newFbtraceId(): string {
  return `A${randomAlphanumeric(22)}`;
}

export const JSON_CONTENT_TYPE = 'application/json; charset=UTF-8';

/** HTTP 400 in the shape of api.instagram.com/oauth/access_token errors (not the Graph envelope). */
export function tokenError(message: string): ScriptedResponse {
  return {
    status: 400,
    headers: { 'Content-Type': JSON_CONTENT_TYPE },
    body: { error_type: 'OAuthException', code: 400, error_message: message },
  };
}

const DEFAULT_GRAPH_MESSAGES: Record<number, string> = {
  1: 'An unknown error has occurred.',
  2: 'An unexpected error has occurred. Please retry your request later.',
  4: 'Application request limit reached',
  17: 'User request limit reached',
  100: 'Invalid parameter',
  101: 'Error validating client secret.',
  190: 'Invalid OAuth access token - Cannot parse access token',
  2500: 'Unknown path components',
};

/** Messages Meta sends with code 190, by subcode. */
export const TOKEN_SUBCODE_MESSAGES: Record<number, string> = {
  458: 'Error validating access token: The user has not authorized the application.',
  460: 'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.',
  463: 'Error validating access token: Session has expired.',
  467: 'Error validating access token: The session has been invalidated because the user has revoked access or logged out.',
};

/** HTTP 400 with the Graph error envelope `{"error":{message,type,code,error_subcode,fbtrace_id}}`. */
export function graphError(
  code: number,
  subcode?: number,
  message?: string,
  type = 'OAuthException',
): ScriptedResponse {
  const text =
    message ??
    (code === 190 && subcode !== undefined ? TOKEN_SUBCODE_MESSAGES[subcode] : undefined) ??
    DEFAULT_GRAPH_MESSAGES[code] ??
    'An unknown error has occurred.';
  const error: Record<string, string | number> = { message: text, type, code };
  if (subcode !== undefined) error.error_subcode = subcode;
  error.fbtrace_id = newFbtraceId();
  return { status: 400, headers: { 'Content-Type': JSON_CONTENT_TYPE }, body: { error } };
}

const DECIMAL_ID = /^[1-9][0-9]*$/;

export function isDecimalId(value: string): boolean {
  return DECIMAL_ID.test(value);
}

/**
 * The flat code-exchange answer. `user_id` is a bare JSON number of 17 digits, above 2^53: it must be
 * written as text, because any JS number would already have lost its last digits. This is exactly the
 * trap the app has to survive (JSON.parse turns …219 into …220).
 */
export function flatTokenBody(accessToken: string, appScopedId: string, permissions: readonly string[]): string {
  if (!isDecimalId(appScopedId)) throw new Error(`app-scoped id must be decimal digits: ${appScopedId}`);
  return `{"access_token":${JSON.stringify(accessToken)},"user_id":${appScopedId},"permissions":${JSON.stringify(permissions)}}`;
}

/** The wrapped code-exchange answer: id as a string, permissions as one comma-separated string. */
export function wrappedTokenBody(accessToken: string, appScopedId: string, permissions: readonly string[]): string {
  return JSON.stringify({
    data: [{ access_token: accessToken, user_id: appScopedId, permissions: permissions.join(',') }],
  });
}

/** Long-lived exchange and refresh answer the same shape (these endpoints have no wrapped form). */
export function longLivedTokenBody(accessToken: string): string {
  return JSON.stringify({ access_token: accessToken, token_type: 'bearer', expires_in: LONG_LIVED_EXPIRES_IN_SECONDS });
}

/**
 * Adds parameters to a registered redirect URI without re-encoding what it already carries (a
 * URLSearchParams round trip would rewrite `%20` as `+`), then appends the fragment Meta appends:
 * `#_` after Instagram's authorize page, `#_=_` after Facebook's dialog.
 */
export function redirectWithParams(
  redirectUri: string,
  params: ReadonlyArray<readonly [string, string]>,
  fragment = '#_',
): string {
  const hash = redirectUri.indexOf('#');
  const base = hash === -1 ? redirectUri : redirectUri.slice(0, hash);
  const query = new URLSearchParams(params.map(([k, v]): [string, string] => [k, v])).toString();
  const separator = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${separator}${query}${fragment}`;
}

/** The first parameter name that occurs more than once (among `names`, or among all when omitted). */
export function duplicatedParameter(params: URLSearchParams, names?: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (names && !names.includes(key)) continue;
    if (seen.has(key)) return key;
    seen.add(key);
  }
  return undefined;
}

/** A parameter's value; an empty value counts as missing. */
export function parameter(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  return value === null || value === '' ? undefined : value;
}
