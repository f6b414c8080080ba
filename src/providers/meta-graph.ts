import { isLosslessNumber, parse } from 'lossless-json';
import { HOUR } from '../shared/clock';
import { type ErrorCode, type ProviderFailure, ProviderError } from '../shared/errors';
import type { ProviderApi, ProviderContract, UsageReading } from './provider-definition';
import {
  describeUrl,
  type HttpClient,
  type HttpRequest,
  type HttpResponse,
  HttpTransportError,
} from '../shared/http-client';

/**
 * The wire of Meta's Graph APIs, shared by the providers that speak it (docs/instagram-platform.md):
 * bodies parsed losslessly (ids may be bare JSON numbers above 2^53), objects flat or wrapped in `data[]`,
 * the Graph error envelope and the token endpoint's own error dialect, and the usage headers.
 */

/** Sends a request; a transport failure or a non-2xx answer becomes a classified ProviderError. */
export async function send(http: HttpClient, request: HttpRequest, service: string): Promise<HttpResponse> {
  let response: HttpResponse;
  try {
    response = await http(request);
  } catch (error) {
    if (error instanceof HttpTransportError) {
      throw new ProviderError(
        'PROVIDER_UNAVAILABLE',
        error.kind === 'timeout'
          ? `${service} did not answer in time (${error.target})`
          : `could not reach ${error.target}`,
        { kind: 'transient', reason: 'unavailable' },
        { cause: error, signature: `transient:transport:${error.kind}` },
      );
    }
    throw error;
  }
  if (response.status >= 200 && response.status < 300) return response;
  throw classifyErrorResponse(response, describeUrl(request.url), service);
}

/** Parses without losing digits: numbers arrive as LosslessNumber and are converted deliberately. */
export function parseJson(response: HttpResponse): unknown {
  try {
    return parse(response.text);
  } catch {
    return undefined;
  }
}

export function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Meta shows the same object flat or wrapped as `{"data":[{…}]}`; accept both, nothing else. */
export function unwrap(value: unknown): Record<string, unknown> | undefined {
  const outer = record(value);
  if (!outer) return undefined;
  if (Array.isArray(outer.data)) return outer.data.length === 1 ? record(outer.data[0]) : undefined;
  return outer;
}

/** An id as its exact decimal digits, whether it came as a JSON string or a (lossless) number. */
export function exactId(value: unknown): string | undefined {
  const digits = isLosslessNumber(value) ? value.value : value;
  return typeof digits === 'string' && /^\d{1,30}$/.test(digits) ? digits : undefined;
}

export function smallNumber(value: unknown): number | undefined {
  const n = isLosslessNumber(value) ? Number(value.value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function boundedString(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
}

export function safeHttpUrl(value: unknown): string | null {
  const text = boundedString(value, 2048);
  if (!text) return null;
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.toString() : null;
  } catch {
    return null;
  }
}

export function badResponse(service: string, what: string): ProviderError {
  return new ProviderError('PROVIDER_BAD_RESPONSE', `${service}'s ${what} response was not in the expected shape`, {
    kind: 'transient',
    reason: 'bad_response',
  });
}

/** Graph error 190 subcodes, as reasons in words. */
const TOKEN_INVALID_REASONS: Record<number, string> = {
  458: 'app_removed',
  460: 'password_changed',
  463: 'expired',
  467: 'revoked',
};
const THROTTLE_CODES = new Set([4, 17, 32, 613, 80002]);
const TRANSIENT_CODES = new Set([1, 2]);
/** Without a usage header, a throttled app waits out Meta's one-hour rolling window. */
export const DEFAULT_THROTTLE_WAIT_MS = HOUR;

/**
 * The headers in which Meta reports how much of the rate budget is used (per app, per business): a
 * client of the Graph API needs them to pace itself, so a proxy passes them on.
 */
export const USAGE_HEADERS = ['x-app-usage', 'x-business-use-case-usage'] as const;
/** Meta's request trace id, which its support asks for; it names no user and carries no secret. */
export const TRACE_HEADERS = ['x-fb-trace-id', 'x-fb-request-id'] as const;

/** A Graph answer that failed, classified like every other call (undefined for 1xx–3xx answers). */
export function classifyAnswer(response: HttpResponse, target: string, service: string): ProviderError | undefined {
  return response.status >= 400 ? classifyErrorResponse(response, target, service) : undefined;
}

/** Maps Meta's two error dialects (and plain HTTP failures) onto our error codes and failure kinds. */
export function classifyErrorResponse(response: HttpResponse, target: string, service: string): ProviderError {
  const body = record(parseJson(response));
  const graphError = record(body?.error);
  if (graphError) {
    const code = smallNumber(graphError.code);
    const subcode = smallNumber(graphError.error_subcode);
    const message = quote(graphError.message);
    const detail = `${target} answered HTTP ${response.status}, Graph error ${code ?? '?'}${subcode ? `/${subcode}` : ''}: ${message}`;
    const [errorCode, failure] = classifyGraphError(code, subcode, message, response);
    const signature = `${failure.kind}:graph:${code ?? '?'}/${subcode ?? '-'}:${normalisedMessage(graphError.message)}`;
    return new ProviderError(errorCode, detail, failure, { signature });
  }
  if (body && typeof body.error_message === 'string') {
    const detail = `${target} answered HTTP ${response.status}: ${quote(body.error_message)}`;
    const errorCode = classifyTokenEndpointMessage(body.error_message);
    return new ProviderError(
      errorCode,
      detail,
      { kind: 'refused', reason: errorCode.toLowerCase() },
      { signature: `refused:token:${response.status}:${normalisedMessage(body.error_message)}` },
    );
  }
  const unavailable = response.status >= 500 || response.status === 429;
  return new ProviderError(
    unavailable ? 'PROVIDER_UNAVAILABLE' : 'PROVIDER_BAD_RESPONSE',
    `${target} answered HTTP ${response.status} without an error body from ${service}`,
    { kind: 'transient', reason: unavailable ? 'unavailable' : 'bad_response' },
    { signature: `transient:http:${response.status}` },
  );
}

/**
 * A provider message as part of a failure signature: the same text for every connection that fails the
 * same way. Numbers (ids, times, dates) are blanked and the text bounded, so "Session has expired on
 * Tuesday, 01-Dec-26" and a user id in "…has not authorized application 123" do not split one incident
 * into as many signatures as there are connections.
 */
export function normalisedMessage(value: unknown): string {
  if (typeof value !== 'string') return '';
  return value
    .toLowerCase()
    .replace(/\d+/g, '#')
    .replace(/\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b/g, '#')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 80);
}

function classifyGraphError(
  code: number | undefined,
  subcode: number | undefined,
  message: string,
  response: HttpResponse,
): [ErrorCode, ProviderFailure] {
  if (code === 190) {
    // The token is dead: retrying cannot help; the person must connect again.
    return ['PROVIDER_TOKEN_INVALID', { kind: 'reconnect', reason: TOKEN_INVALID_REASONS[subcode ?? -1] ?? 'invalid' }];
  }
  // graph.facebook.com's code exchange answers in the Graph envelope what Instagram's token endpoint says
  // in words: the code was used (36009) or outlived its ten minutes (36007), the redirect_uri differs from
  // the dialog's (36008), the client_id is no app of Meta's (101).
  if (code === 100 && (subcode === 36009 || subcode === 36007)) {
    return ['PROVIDER_CODE_USED', { kind: 'refused', reason: 'provider_code_used' }];
  }
  if (code === 100 && subcode === 36008) {
    return ['PROVIDER_REDIRECT_URI_MISMATCH', { kind: 'refused', reason: 'provider_redirect_uri_mismatch' }];
  }
  if (code === 101) return ['PROVIDER_INVALID_APP', { kind: 'refused', reason: 'provider_invalid_app' }];
  if (code === 10 || (code !== undefined && code >= 200 && code <= 299)) {
    return ['PROVIDER_PERMISSION', { kind: 'permission', reason: 'permission_missing' }];
  }
  if (code !== undefined && THROTTLE_CODES.has(code)) {
    const wait = retryAfterMs(response.headers) ?? DEFAULT_THROTTLE_WAIT_MS;
    return ['PROVIDER_THROTTLED', { kind: 'throttled', reason: 'throttled', retryAfterMs: wait }];
  }
  // graph.facebook.com answers a wrong client secret as code 1, which otherwise means "try again".
  if (/validating client secret/i.test(message)) {
    return ['PROVIDER_INVALID_SECRET', { kind: 'refused', reason: 'invalid_secret' }];
  }
  if (code !== undefined && TRANSIENT_CODES.has(code)) {
    return ['PROVIDER_UNAVAILABLE', { kind: 'transient', reason: 'unavailable' }];
  }
  // "Unsupported request - method type: get" on every call: the account lacks the tester role while the
  // app is in development mode.
  if (code === 100 && /unsupported request/i.test(message)) {
    return ['PROVIDER_TESTER_ROLE', { kind: 'refused', reason: 'tester_role' }];
  }
  if (response.status >= 500) return ['PROVIDER_UNAVAILABLE', { kind: 'transient', reason: 'unavailable' }];
  return ['PROVIDER_REJECTED', { kind: 'refused', reason: 'rejected' }];
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
      // A malformed usage header tells us nothing; fall back to the default wait.
    }
  }
  return minutes.length > 0 ? Math.max(...minutes) * 60_000 : undefined;
}

/**
 * How much of Meta's rate budget the app has used, as the usage headers of one answer say (UsageReading): the highest of
 * `X-App-Usage`'s percentages (call count, CPU time, total time; the app's whole budget) and of every
 * entry of `X-Business-Use-Case-Usage` (per business), with the longest `estimated_time_to_regain_access`
 * when Meta names one. Undefined when the answer carries neither header (or only malformed ones).
 */
export function readUsage(headers: Headers): UsageReading | undefined {
  const app = percentOf(jsonHeader(headers.get('x-app-usage')));
  let business: number | undefined;
  const buc = record(jsonHeader(headers.get('x-business-use-case-usage')));
  for (const usages of Object.values(buc ?? {})) {
    if (!Array.isArray(usages)) continue;
    for (const usage of usages) {
      const percent = percentOf(usage);
      if (percent !== undefined) business = Math.max(business ?? 0, percent);
    }
  }
  const regainAfterMs = retryAfterMs(headers);
  if (app === undefined && business === undefined && regainAfterMs === undefined) return undefined;
  return { appPercent: app, businessPercent: business, regainAfterMs };
}

function jsonHeader(value: string | null): unknown {
  if (value === null || value.length > 8192) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

function percentOf(value: unknown): number | undefined {
  const usage = record(value);
  if (!usage) return undefined;
  const values = [usage.call_count, usage.total_cputime, usage.total_time].filter(
    (v): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  );
  return values.length > 0 ? Math.max(...values) : undefined;
}

/**
 * Meta's Graph API versions as its changelog dates them ("Graph API > Changelog > Versions",
 * developers.facebook.com/docs/graph-api/changelog/versions, read 2026-11-30): the release date and the
 * last day the version is available ("Available until"). Instagram API with Instagram Login and Facebook
 * Login share these versions. `endOfLife` null: Meta has not announced one yet (its table says TBD).
 * When the pinned version is not listed here, the canary says the table needs updating.
 */
export interface GraphVersionDates {
  version: string;
  released: string;
  endOfLife: string | null;
}

export const GRAPH_VERSIONS_CHECKED_ON = '2026-11-30';
export const GRAPH_VERSIONS_SOURCE = 'https://developers.facebook.com/docs/graph-api/changelog/versions';
export const GRAPH_API_VERSIONS: readonly GraphVersionDates[] = [
  { version: 'v26.0', released: '2026-07-29', endOfLife: null },
  { version: 'v25.0', released: '2026-02-18', endOfLife: '2028-07-29' },
  { version: 'v24.0', released: '2025-10-08', endOfLife: '2028-02-18' },
  { version: 'v23.0', released: '2025-05-29', endOfLife: '2027-10-08' },
  { version: 'v22.0', released: '2025-01-21', endOfLife: '2027-05-20' },
  { version: 'v21.0', released: '2024-10-02', endOfLife: '2027-01-21' },
  { version: 'v20.0', released: '2024-05-21', endOfLife: '2026-09-24' },
  { version: 'v19.0', released: '2024-01-23', endOfLife: '2026-05-21' },
];

/** The pinned version's row of the table, as a provider definition states it (ProviderContract). */
export function graphVersionContract(pinned: string): ProviderContract['apiVersion'] {
  const row = GRAPH_API_VERSIONS.find((v) => v.version === pinned);
  return {
    version: pinned,
    endOfLife: row ? row.endOfLife : undefined,
    source: GRAPH_VERSIONS_SOURCE,
    checkedOn: GRAPH_VERSIONS_CHECKED_ON,
  };
}

/**
 * The Graph API a Meta definition hands the proxy: the pinned version's base, Meta's usage and trace
 * headers passed back to the caller, and failures classified like every other call of that service.
 */
export function graphApi(graphUrl: string, apiVersion: string, service: string): ProviderApi {
  return {
    baseUrl: `${graphUrl}/${apiVersion}`,
    passedHeaders: [...USAGE_HEADERS, ...TRACE_HEADERS],
    classify: (response, target) => classifyAnswer(response, target, service),
  };
}

/**
 * What a Meta way in relies on (src/incidents/canary.ts): the pinned version's dates, its authorize
 * dialog opened with the app's own parameters as a browser would, and a token request (no code, no
 * secret) that the token endpoint must refuse in one of Meta's error dialects.
 */
export function metaContract(options: {
  apiVersion: string;
  authorizeUrl: string;
  authorizeParams: Record<string, string>;
  tokenProbe: HttpRequest;
}): ProviderContract {
  return {
    apiVersion: graphVersionContract(options.apiVersion),
    authorizeProbe: {
      method: 'GET',
      url: `${options.authorizeUrl}?${new URLSearchParams(options.authorizeParams).toString()}`,
      headers: { accept: 'text/html' },
    },
    authorizeAnswerOk: authorizePageAnswered,
    tokenProbe: options.tokenProbe,
    tokenAnswerOk: tokenErrorAnswered,
  };
}

/** An authorize page answers a page (200) or sends the browser on (3xx); a 404 or a 5xx means it moved. */
export function authorizePageAnswered(response: HttpResponse): boolean {
  return response.status === 200 || (response.status >= 300 && response.status < 400);
}

/** A token endpoint refuses an empty request with a 4xx in one of Meta's two error dialects. */
export function tokenErrorAnswered(response: HttpResponse): boolean {
  if (response.status < 400 || response.status >= 500) return false;
  const body = record(parseJson(response));
  return record(body?.error) !== undefined || typeof body?.error_message === 'string';
}
