import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { isDatabaseUnavailable } from '../db/database-errors';
import { type ErrorCode, isAppError } from '../shared/errors';
import type { Logger } from '../shared/logger';

/**
 * Errors of the deployer's API: always JSON `{"error": {"code", "message"}}`, never a page, never a stack.
 * `code` is a short machine-readable word; `message` says what to do, for the developer reading it.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The app's error codes as the API names them. */
const FROM_APP: Partial<Record<ErrorCode, [number, string, string]>> = {
  BAD_REQUEST: [400, 'invalid_request', 'The request is malformed.'],
  NOT_FOUND: [404, 'not_found', 'No such resource.'],
  RATE_LIMITED: [429, 'rate_limited', 'Too many requests; wait for Retry-After seconds.'],
  NEEDS_RECONNECT: [409, 'needs_reconnect', 'The connection needs reconnecting by its owner.'],
  BUSY: [409, 'busy', 'The connection is being worked on; try again shortly.'],
  UNAVAILABLE: [503, 'unavailable', 'Temporarily unavailable; try again shortly.'],
  PROVIDER_UNAVAILABLE: [502, 'provider_unavailable', 'The provider did not answer; try again shortly.'],
  PROVIDER_THROTTLED: [503, 'provider_throttled', 'The provider asked us to slow down; try again later.'],
};

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ZodError) {
    const issue = error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return new ApiError(400, 'invalid_request', `${where}${issue?.message ?? 'invalid request'}`);
  }
  if (isAppError(error)) {
    const [status, code, message] = FROM_APP[error.code] ?? [error.status, error.code.toLowerCase(), error.code];
    return new ApiError(status, code, message);
  }
  if (isDatabaseUnavailable(error))
    return new ApiError(503, 'unavailable', 'Temporarily unavailable; try again shortly.');
  const status = (error as { status?: unknown } | null)?.status;
  if (status === 413) return new ApiError(413, 'payload_too_large', 'The request body is too large.');
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // The body parser's own failure, or the router's (a path with a malformed percent-encoding).
    const notJson = (error as { type?: unknown }).type === 'entity.parse.failed';
    return new ApiError(
      400,
      'invalid_request',
      notJson ? 'The request body is not valid JSON.' : 'The request is malformed.',
    );
  }
  return new ApiError(500, 'internal', 'Something went wrong on our side.');
}

export function apiErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error);
    const apiError = toApiError(error);
    const log = req.log ?? logger;
    if (apiError.status >= 500) log.error({ err: error, code: apiError.code }, 'api request failed');
    else log.info({ code: apiError.code }, 'api request refused');
    res
      .status(apiError.status)
      .set('Cache-Control', 'no-store')
      .json({ error: { code: apiError.code, message: apiError.message } });
  };
}

export const apiNotFound: RequestHandler = (_req, _res, next) =>
  next(new ApiError(404, 'not_found', 'No such endpoint.'));
