import { isLosslessNumber, parse } from 'lossless-json';
import type { InstagramConfig } from '../config/config';
import { type ErrorCode, ProviderError } from '../shared/errors';
import { describeUrl, type HttpClient, type HttpResponse, HttpTransportError } from '../shared/http-client';
import type { IssuedToken, ProviderDefinition, ProviderProfile, TokenGrant } from './provider-definition';

/**
 * Instagram API with Instagram Login. Wire facts (../shared/docs/instagram-platform.md):
 * - the token endpoint answers flat `{access_token, user_id, permissions}` or wrapped in `data[]`;
 *   `user_id` may be a bare JSON number above 2^53, so every body is parsed losslessly (lossless-json)
 *   and ids are kept as the exact digit strings; `permissions` is an array or a comma string;
 * - errors come as `{error_type, code, error_message}` (token endpoint) or a Graph `{error:{…}}` envelope;
 * - the short-lived token is exchanged for a 60-day one at once; refresh needs a token ≥ 24 h old.
 */
export const PROFILE_FIELDS = [
  'id',
  'user_id',
  'username',
  'name',
  'account_type',
  'profile_picture_url',
  'followers_count',
  'media_count',
] as const;

const MAX_TOKEN_LENGTH = 4096;

export function createInstagramProvider(config: InstagramConfig): ProviderDefinition {
  const graph = (path: string, query: Record<string, string>) =>
    `${config.graphUrl}${path}?${new URLSearchParams(query).toString()}`;

  return {
    id: 'instagram',
    displayName: 'Instagram',
    clientId: config.appId,
    clientSecret: config.appSecret,
    authorizeUrl: config.authorizeUrl,
    tokenUrl: config.tokenUrl,
    redirectUri: config.redirectUri,
    scopes: config.scopes,
    scopeSeparator: ',',

    authorizationParams: ({ forceReauth }): Record<string, string> => (forceReauth ? { force_reauth: 'true' } : {}),

    async exchangeCode(http, code) {
      const response = await send(http, {
        method: 'POST',
        url: config.tokenUrl,
        form: {
          client_id: config.appId,
          client_secret: config.appSecret,
          grant_type: 'authorization_code',
          redirect_uri: config.redirectUri,
          code,
        },
      });
      return parseTokenGrant(response);
    },

    async exchangeForLongLived(http, accessToken) {
      const response = await send(http, {
        method: 'GET',
        url: graph('/access_token', {
          grant_type: 'ig_exchange_token',
          client_secret: config.appSecret,
          access_token: accessToken,
        }),
      });
      return parseIssuedToken(response);
    },

    async refresh(http, accessToken) {
      const response = await send(http, {
        method: 'GET',
        url: graph('/refresh_access_token', { grant_type: 'ig_refresh_token', access_token: accessToken }),
      });
      return parseIssuedToken(response);
    },

    async fetchProfile(http, accessToken) {
      const response = await send(http, {
        method: 'GET',
        url: graph(`/${config.apiVersion}/me`, { fields: PROFILE_FIELDS.join(',') }),
        // The token travels in a header, not the query string, so it cannot leak through URL logs.
        headers: { authorization: `Bearer ${accessToken}` },
      });
      return parseProfile(response);
    },
  };
}

async function send(http: HttpClient, request: Parameters<HttpClient>[0]): Promise<HttpResponse> {
  let response: HttpResponse;
  try {
    response = await http(request);
  } catch (error) {
    if (error instanceof HttpTransportError) {
      throw new ProviderError(
        'PROVIDER_UNAVAILABLE',
        error.kind === 'timeout'
          ? `Instagram did not answer in time (${error.target})`
          : `could not reach ${error.target}`,
        undefined,
        { cause: error },
      );
    }
    throw error;
  }
  if (response.status >= 200 && response.status < 300) return response;
  throw classifyErrorResponse(response, describeUrl(request.url));
}

/** Parses without losing digits: numbers arrive as LosslessNumber and are converted deliberately. */
function parseJson(response: HttpResponse): unknown {
  try {
    return parse(response.text);
  } catch {
    return undefined;
  }
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Instagram shows the same object flat or wrapped as `{"data":[{…}]}`; accept both, nothing else. */
function unwrap(value: unknown): Record<string, unknown> | undefined {
  const outer = record(value);
  if (!outer) return undefined;
  if (Array.isArray(outer.data)) return outer.data.length === 1 ? record(outer.data[0]) : undefined;
  return outer;
}

/** An id as its exact decimal digits, whether it came as a JSON string or a (lossless) number. */
function exactId(value: unknown): string | undefined {
  const digits = isLosslessNumber(value) ? value.value : value;
  return typeof digits === 'string' && /^\d{1,30}$/.test(digits) ? digits : undefined;
}

function smallNumber(value: unknown): number | undefined {
  const n = isLosslessNumber(value) ? Number(value.value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function boundedString(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
}

function badResponse(what: string): ProviderError {
  return new ProviderError('PROVIDER_BAD_RESPONSE', `Instagram's ${what} response was not in the expected shape`);
}

export function parseTokenGrant(response: HttpResponse): TokenGrant {
  const body = unwrap(parseJson(response));
  const accessToken = boundedString(body?.access_token, MAX_TOKEN_LENGTH);
  const userId = exactId(body?.user_id);
  if (!body || !accessToken || !userId) throw badResponse('token');
  const raw = body.permissions;
  const permissions = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : [];
  return {
    accessToken,
    userId,
    permissions: permissions
      .filter((p): p is string => typeof p === 'string')
      .map((p) => p.trim())
      .filter(Boolean),
  };
}

export function parseIssuedToken(response: HttpResponse): IssuedToken {
  const body = unwrap(parseJson(response));
  const accessToken = boundedString(body?.access_token, MAX_TOKEN_LENGTH);
  const expiresInSeconds = smallNumber(body?.expires_in);
  if (!accessToken || expiresInSeconds === undefined || expiresInSeconds === 0) throw badResponse('long-lived token');
  return { accessToken, expiresInSeconds };
}

export function parseProfile(response: HttpResponse): ProviderProfile {
  const body = unwrap(parseJson(response));
  const appScopedId = exactId(body?.id);
  const igUserId = exactId(body?.user_id);
  const username = boundedString(body?.username, 64);
  if (!body || !appScopedId || !igUserId || !username) throw badResponse('profile');
  const optional = (value: unknown, max: number) => boundedString(value, max) ?? null;
  return {
    appScopedId,
    igUserId,
    username,
    name: optional(body.name, 256),
    accountType: optional(body.account_type, 32),
    profilePictureUrl: safeHttpsUrl(body.profile_picture_url),
    followersCount: smallNumber(body.followers_count) ?? null,
    mediaCount: smallNumber(body.media_count) ?? null,
  };
}

function safeHttpsUrl(value: unknown): string | null {
  const text = boundedString(value, 2048);
  if (!text) return null;
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.toString() : null;
  } catch {
    return null;
  }
}

const THROTTLE_CODES = new Set([4, 17, 32, 613, 80002]);
const TRANSIENT_CODES = new Set([1, 2]);

/** Maps Instagram's two error dialects (and plain HTTP failures) onto our error codes. */
export function classifyErrorResponse(response: HttpResponse, target: string): ProviderError {
  const body = record(parseJson(response));
  const graphError = record(body?.error);
  if (graphError) {
    const code = smallNumber(graphError.code);
    const subcode = smallNumber(graphError.error_subcode);
    const type = typeof graphError.type === 'string' ? graphError.type : undefined;
    const message = quote(graphError.message);
    const graph = { code, subcode, type, retryAfterMs: retryAfterMs(response.headers) };
    const detail = `${target} answered HTTP ${response.status}, Graph error ${code ?? '?'}${subcode ? `/${subcode}` : ''}: ${message}`;
    let kind: ErrorCode = 'PROVIDER_REJECTED';
    if (code === 190) kind = 'PROVIDER_TOKEN_INVALID';
    else if (code === 10 || (code !== undefined && code >= 200 && code <= 299)) kind = 'PROVIDER_PERMISSION';
    else if (code !== undefined && THROTTLE_CODES.has(code)) kind = 'PROVIDER_THROTTLED';
    else if (code !== undefined && TRANSIENT_CODES.has(code)) kind = 'PROVIDER_UNAVAILABLE';
    else if (code === 100 && /unsupported request/i.test(message)) kind = 'PROVIDER_TESTER_ROLE';
    else if (response.status >= 500) kind = 'PROVIDER_UNAVAILABLE';
    return new ProviderError(kind, detail, graph);
  }
  if (body && typeof body.error_message === 'string') {
    const message = quote(body.error_message);
    const detail = `${target} answered HTTP ${response.status}: ${message}`;
    return new ProviderError(classifyTokenEndpointMessage(body.error_message), detail);
  }
  const kind: ErrorCode =
    response.status >= 500 || response.status === 429 ? 'PROVIDER_UNAVAILABLE' : 'PROVIDER_BAD_RESPONSE';
  return new ProviderError(kind, `${target} answered HTTP ${response.status} without an Instagram error body`);
}

function classifyTokenEndpointMessage(message: string): ErrorCode {
  if (/matching code|already used|code has expired|authorization code/i.test(message)) return 'PROVIDER_CODE_USED';
  if (/redirect_uri|redirect uri/i.test(message)) return 'PROVIDER_REDIRECT_URI_MISMATCH';
  if (/invalid platform app/i.test(message)) return 'PROVIDER_INVALID_APP';
  if (/developer role|tester/i.test(message)) return 'PROVIDER_TESTER_ROLE';
  if (/client secret|client_secret/i.test(message)) return 'PROVIDER_INVALID_SECRET';
  if (/scope/i.test(message)) return 'PROVIDER_INVALID_SCOPE';
  return 'PROVIDER_REJECTED';
}

/** Provider text quoted into a deployer-facing detail: bounded, one line. */
function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : '(no message)';
  return `"${text.replace(/\s+/g, ' ').slice(0, 300)}"`;
}

/**
 * Meta reports throttling in `X-Business-Use-Case-Usage` (per business id, a list of usages with
 * `estimated_time_to_regain_access` in minutes) and `X-App-Usage` (percentages). Returns how long to
 * wait, when the headers say so.
 */
export function retryAfterMs(headers: Headers): number | undefined {
  const minutes: number[] = [];
  const buc = headers.get('x-business-use-case-usage');
  if (buc) {
    try {
      const parsed = JSON.parse(buc) as unknown;
      for (const usages of Object.values(record(parsed) ?? {})) {
        if (!Array.isArray(usages)) continue;
        for (const usage of usages) {
          const eta = record(usage)?.estimated_time_to_regain_access;
          if (typeof eta === 'number' && eta > 0) minutes.push(eta);
        }
      }
    } catch {
      // A malformed usage header tells us nothing; fall back to the caller's backoff.
    }
  }
  return minutes.length > 0 ? Math.max(...minutes) * 60_000 : undefined;
}
