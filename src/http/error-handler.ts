import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { describeUnavailability, isDatabaseUnavailable } from '../db/database-errors';
import type { Logger } from '../shared/logger';
import { AppError, isAppError } from '../shared/errors';

/**
 * The one place errors become responses. Known errors render their page by `code` (the words live in
 * views/error.ejs); anything else is logged with its stack and shown as a plain 500 page, never the
 * stack. Body-parser errors are client errors, not 500s: 413 for an oversized body, 400 otherwise.
 * Machine routes (/webhooks, /api) always answer JSON, also when they fail before their own router runs
 * (a rate limit, a database that refuses the counter's write).
 */
const MACHINE_PATHS = /^\/(webhooks|api)(\/|$)/;

export function notFound(): RequestHandler {
  return (_req, _res, next) => next(new AppError('NOT_FOUND'));
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) return next(error);
    sendError(error, req, res, logger);
  };
}

/**
 * Answers `error` on a response whose headers are not sent yet: the JSON body or the error page, with
 * the status of its code. Also used where a response must be replaced after the fact (a session that
 * could not be saved, see session.ts).
 */
export function sendError(error: unknown, req: Request, res: Response, logger?: Logger): void {
  const appError = toAppError(error);
  const log = req.log ?? logger;
  if (appError.code === 'INTERNAL') {
    log?.error({ err: error }, 'unexpected error');
  } else if (appError.code === 'UNAVAILABLE' && appError.cause !== undefined) {
    log?.warn({ code: appError.code, err: appError.cause, detail: appError.detail }, 'database unavailable');
  } else {
    log?.info({ code: appError.code, detail: appError.detail }, 'request ended with an error page');
  }
  res.status(appError.status);
  res.set('Cache-Control', 'no-store');
  // A database outage is usually over within seconds: say when trying again makes sense.
  if (appError.code === 'UNAVAILABLE') res.set('Retry-After', '5');
  const machine = MACHINE_PATHS.test(String(req.originalUrl ?? req.url).split('?')[0] ?? '');
  const wantsJson = machine || res.locals.errorFormat === 'json' || req.accepts(['html', 'json']) === 'json';
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
      log?.error({ err: renderError }, 'error page failed to render');
      res.status(500).type('text/plain').send('Something went wrong. Please try again.');
    },
  );
}

function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  // An outage (server down, restarting, overloaded) is a clean 503 the balancer and the person can retry.
  if (isDatabaseUnavailable(error)) {
    return new AppError('UNAVAILABLE', `database unavailable: ${describeUnavailability(error)}`, { cause: error });
  }
  const status = (error as { status?: unknown } | null)?.status;
  if (status === 413) return new AppError('PAYLOAD_TOO_LARGE', 'the request body is larger than this route accepts');
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError('BAD_REQUEST', (error as { type?: string }).type ?? 'malformed request');
  }
  return new AppError('INTERNAL');
}
