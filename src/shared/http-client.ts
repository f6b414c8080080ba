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
  /** A body sent as it is (its content-type among `headers`), e.g. a signed JSON event. */
  body?: string;
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

/** Host and path only: safe to log and to show a deployer. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

export function createHttpClient(options: { timeoutMs: number; logger: Logger }): HttpClient {
  return async (request) => {
    const target = describeUrl(request.url);
    const started = performance.now();
    const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
    let body: string | undefined = request.body;
    if (request.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(request.form).toString();
    }
    // A deadline cleared as soon as the call ends. AbortSignal.timeout() would keep its timer, and through
    // fetch's abort listener the whole request and response, alive for the full timeout after every call:
    // at a keeper's pace that is thousands of finished calls held in memory.
    const controller = new AbortController();
    const deadline = setTimeout(
      () => controller.abort(new DOMException('deadline exceeded', 'TimeoutError')),
      request.timeoutMs ?? options.timeoutMs,
    );
    try {
      const response = await fetch(request.url, {
        method: request.method,
        headers,
        body,
        redirect: 'manual',
        signal: controller.signal,
      });
      const text = await response.text();
      options.logger.debug(
        { target, method: request.method, status: response.status, ms: Math.round(performance.now() - started) },
        'outbound request',
      );
      return { status: response.status, headers: response.headers, text };
    } catch (error) {
      const timedOut = error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError');
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
