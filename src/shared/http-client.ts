import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request as send } from 'undici';
import type { Logger } from './logger';

/**
 * Outbound HTTP for calls to Instagram (and signed events to the deployer): a deadline on every call, redirects never followed (a token
 * endpoint that redirects is misconfigured, and following would resend secrets), and logs that name
 * only the host and path, because Meta puts access_token and client_secret in query strings.
 */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  form?: Record<string, string>;
  /** A body sent as given (a caller's JSON or form, passed through unchanged); not with `form`. */
  body?: { contentType: string; data: string | Uint8Array };
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
}

export class HttpTransportError extends Error {
  constructor(
    readonly kind: 'timeout' | 'network',
    readonly target: string,
  ) {
    super(kind === 'timeout' ? `request to ${target} timed out` : `request to ${target} failed`);
    this.name = 'HttpTransportError';
  }
}

export type HttpClient = (request: HttpRequest) => Promise<HttpResponse>;

/** One finished call, as metrics count it: host and path only, the status or how it failed. */
export interface ProviderCall {
  method: HttpRequest['method'];
  target: string;
  status: number | 'timeout' | 'network';
  seconds: number;
}

/** Host and path only: safe to log and to show a deployer. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

/**
 * How much of a server's keep-alive hint (`Keep-Alive: timeout=N`) a connection is kept idle for: the
 * hint less this margin, so that a call never goes out on a connection the server is closing. undici's
 * default margin is a whole second, which turns a hint of one second into "close after every call": one
 * TLS handshake per call to Instagram. Half a second still exceeds any round trip to Meta.
 */
export const KEEP_ALIVE_MARGIN_MS = 500;

/** Connections kept per HTTP client (one per process): pooled per origin, reused across calls. */
export function createConnectionPool(): Agent {
  return new Agent({ keepAliveTimeoutThreshold: KEEP_ALIVE_MARGIN_MS });
}

/** Instagram reads only a few headers (rate-limit usage), on some answers: built when first asked for. */
function toHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const one of value) headers.append(name, one);
    else if (value !== undefined) headers.append(name, value);
  }
  return headers;
}

export function createHttpClient(options: {
  timeoutMs: number;
  logger: Logger;
  pool?: Agent;
  /** Told of every finished call (metrics). */
  observe?: (call: ProviderCall) => void;
}): HttpClient {
  const dispatcher = options.pool ?? createConnectionPool();
  return async (request) => {
    const target = describeUrl(request.url);
    const started = performance.now();
    const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
    let body: string | Uint8Array | undefined;
    if (request.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(request.form).toString();
    } else if (request.body) {
      headers['content-type'] = request.body.contentType;
      body = request.body.data;
    }
    // A deadline cleared as soon as the call ends. AbortSignal.timeout() would keep its timer, and through
    // the abort listener the whole request and response, alive for the full timeout after every call: at a
    // keeper's pace that is thousands of finished calls held in memory.
    const controller = new AbortController();
    const deadline = setTimeout(
      () => controller.abort(new DOMException('deadline exceeded', 'TimeoutError')),
      request.timeoutMs ?? options.timeoutMs,
    );
    try {
      // undici's request() rather than fetch(): the same client underneath without the WHATWG streams,
      // Request and Response objects fetch builds for every call. It never follows a redirect.
      const response = await send(request.url, {
        method: request.method,
        headers,
        body,
        signal: controller.signal,
        dispatcher,
      });
      const text = await response.body.text();
      options.observe?.({
        method: request.method,
        target,
        status: response.statusCode,
        seconds: (performance.now() - started) / 1000,
      });
      options.logger.debug(
        { target, method: request.method, status: response.statusCode, ms: Math.round(performance.now() - started) },
        'outbound request',
      );
      let parsedHeaders: Headers | undefined;
      return {
        status: response.statusCode,
        get headers() {
          return (parsedHeaders ??= toHeaders(response.headers));
        },
        text,
      };
    } catch {
      const timedOut = controller.signal.aborted;
      options.observe?.({
        method: request.method,
        target,
        status: timedOut ? 'timeout' : 'network',
        seconds: (performance.now() - started) / 1000,
      });
      options.logger.warn(
        { target, method: request.method, outcome: timedOut ? 'timeout' : 'network' },
        'outbound request failed',
      );
      // The original error is dropped on purpose: undici's messages can quote the URL with its query.
      throw new HttpTransportError(timedOut ? 'timeout' : 'network', target);
    } finally {
      clearTimeout(deadline);
    }
  };
}
