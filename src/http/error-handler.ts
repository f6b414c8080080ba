import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isDatabaseUnavailable } from '../db/database-errors';
import type { Logger } from '../shared/logger';
import { AppError, isAppError } from '../shared/errors';

/**
 * The one place errors become responses. Known errors render their page by `code` (the words live in
 * views/error.ejs); anything else is logged with its stack and shown as a plain 500 page, never the
 * stack. Body-parser errors (malformed or oversized bodies) are client errors, not 500s.
 */
export function notFound(): RequestHandler {
  return (_req, _res, next) => next(new AppError('NOT_FOUND'));
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error);
    const appError = toAppError(error);
    const log = req.log ?? logger;
    if (appError.code === 'INTERNAL') {
      log.error({ err: error }, 'unexpected error');
    } else if (appError.code === 'UNAVAILABLE' && appError.cause !== undefined) {
      log.warn({ code: appError.code, err: appError.cause }, 'database unavailable');
    } else {
      log.info({ code: appError.code, detail: appError.detail }, 'request ended with an error page');
    }
    res.status(appError.status);
    res.set('Cache-Control', 'no-store');
    const wantsJson = res.locals.errorFormat === 'json' || req.accepts(['html', 'json']) === 'json';
    if (wantsJson) {
      res.json({ error: { code: appError.code } });
      return;
    }
    res.render(
      'error',
      // The request id lets the site owner find this request in the log (the header carries it too).
      { code: appError.code, status: appError.status, detail: appError.detail ?? null, requestId: req.id ?? null },
      (renderError, html) => {
        if (!renderError) return void res.send(html);
        // Never fall through to Express's default handler: outside production it prints the stack.
        log.error({ err: renderError }, 'error page failed to render');
        res.status(500).type('text/plain').send('Something went wrong. Please try again.');
      },
    );
  };
}

function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  // An outage (server down, restarting, overloaded) is a clean 503 the balancer and the person can retry.
  if (isDatabaseUnavailable(error)) return new AppError('UNAVAILABLE', 'database unavailable', { cause: error });
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError('BAD_REQUEST', (error as { type?: string }).type ?? 'malformed request');
  }
  return new AppError('INTERNAL');
}
