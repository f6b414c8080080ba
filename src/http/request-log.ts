import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../shared/logger';

/**
 * One line per answered request, and `req.log` for the lines a route writes itself, both carrying the
 * request's id, method and path (never its query: a callback's carries the code and state). The id is
 * the caller's `X-Request-Id` when it has a sane shape, a fresh UUID otherwise, and is answered in that
 * header.
 *
 * The lines are those pino-http wrote (`req`, `res.statusCode`, `responseTime`; `request completed`, or
 * `request errored` at error level for a 5xx). pino-http was replaced because its request serializer
 * first copies the whole request (headers, remote address, and Express's parsed query and params) for
 * the three fields igconnect logs: behind Express it cost 0.080 ms of CPU per request, this 0.044
 * (BENCHMARKS.md, ADR 0013). Here the three fields are taken directly.
 */
declare module 'http' {
  interface IncomingMessage {
    /** This request's id (X-Request-Id). */
    id: string;
    /** A logger whose lines carry this request's id, method and path. */
    log: Logger;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', id);
    const url = req.url;
    const query = url.indexOf('?');
    const fields = { id, method: req.method, path: query === -1 ? url : url.slice(0, query) };
    const started = Date.now();
    const log = logger.child({ req: fields });
    req.id = id;
    req.log = log;
    let done = false;
    const finished = (error?: unknown) => {
      if (done) return;
      done = true;
      res.removeListener('finish', finished);
      res.removeListener('close', finished);
      res.removeListener('error', finished);
      const line = { res: { statusCode: res.statusCode }, responseTime: Date.now() - started };
      if (error instanceof Error || res.statusCode >= 500) {
        const err = error instanceof Error ? error : new Error(`failed with status code ${res.statusCode}`);
        log.error({ ...line, err }, 'request errored');
      } else {
        log.info(line, 'request completed');
      }
    };
    res.on('finish', finished);
    res.on('close', finished);
    res.on('error', finished);
    next();
  };
}
