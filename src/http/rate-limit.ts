import type { Request, RequestHandler, Response } from 'express';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';

/**
 * Fixed-window rate limits per client address and route group, counted in the database so every
 * instance shares one count (nothing in process memory changes the answer). One portable upsert
 * (`insert … on conflict do update set count = count + 1 returning count`, SQLite and PostgreSQL) is
 * atomic, so parallel requests can never both read "one left". The client address is `req.ip`, which
 * honours TRUST_PROXY: behind a proxy without it, every client shares the proxy's address.
 * Expired windows are swept every `sweepEvery`-th counted request, without timers.
 */
export type RateLimitAnswer = 'page' | 'json';

export interface RateLimiterDeps {
  db: Kysely<Database>;
  clock: Clock;
  windowMs: number;
  sweepEvery?: number;
}

export function createRateLimiter(deps: RateLimiterDeps) {
  const sweepEvery = deps.sweepEvery ?? 200;
  let counted = 0;

  async function hit(group: string, client: string): Promise<{ count: number; resetAt: number }> {
    const now = deps.clock.now();
    const windowStart = now - (now % deps.windowMs);
    const resetAt = windowStart + deps.windowMs;
    const row = await deps.db
      .insertInto('rate_limits')
      .values({ bucket: `${group}|${client}|${windowStart}`, count: 1, expires_at: resetAt })
      .onConflict((oc) => oc.column('bucket').doUpdateSet((eb) => ({ count: eb('rate_limits.count', '+', 1) })))
      .returning('count')
      .executeTakeFirstOrThrow();
    if (++counted % sweepEvery === 0) {
      await deps.db.deleteFrom('rate_limits').where('expires_at', '<=', now).execute();
    }
    return { count: Number(row.count), resetAt };
  }

  /**
   * A middleware allowing `limit` requests per window for each client in `group`; 0 allows all. A client
   * is its address unless `clientOf` names it otherwise (the API counts per key).
   */
  return function rateLimit(
    group: string,
    limit: number,
    answer: RateLimitAnswer,
    clientOf: (req: Request, res: Response) => string = (req) => req.ip ?? 'unknown',
  ): RequestHandler {
    if (limit === 0) return (_req, _res, next) => next();
    return async (req, res, next) => {
      const { count, resetAt } = await hit(group, clientOf(req, res));
      if (count <= limit) return next();
      const retryAfter = Math.max(1, Math.ceil((resetAt - deps.clock.now()) / 1000));
      res.set('Retry-After', String(retryAfter));
      req.log?.info({ group, limit }, 'rate limit reached');
      if (answer === 'json') {
        // Machine callers (Meta's webhooks) get JSON whatever they accept; no session, no page.
        res
          .status(429)
          .set('Cache-Control', 'no-store')
          .json({ error: { code: 'RATE_LIMITED' } });
        return;
      }
      next(new AppError('RATE_LIMITED', `more than ${limit} requests in ${deps.windowMs / 1000} s (${group})`));
    };
  };
}
