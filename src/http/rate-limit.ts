import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, type IncrementResponse, type Options, rateLimit, type Store } from 'express-rate-limit';
import type { Kysely } from 'kysely';
import type { RateLimitGrouping } from '../config/reliability-config';
import type { Database } from '../db/schema';
import type { Clock } from '../shared/clock';
import { AppError } from '../shared/errors';

/**
 * Rate limits on express-rate-limit, counted in the app's database (SQLite or PostgreSQL) so that every
 * instance shares one count and nothing in process memory changes the answer.
 *
 * Who is counted: each route group has a limit per browser and a ceiling per address of `addressFactor`
 * times that. Many people behind one NAT (an office, a campus, a mobile carrier) share an address but
 * not a browser: each gets the whole limit for themselves, and only all of them together meet the
 * ceiling. A browser is told apart before it has any session, and without storing or setting anything,
 * by what it sends with every request: its User-Agent and Accept-Language, hashed, under its address. A
 * client that varies them gains nothing past the address ceiling.
 *
 * The address is `req.ip`, which honours TRUST_PROXY (behind a proxy without it, every client shares
 * the proxy's address). IPv6 clients are counted per network of `ipv6Prefix` bits (default /64: what one
 * household or phone gets), or one person could draw on billions of addresses.
 *
 * Counting is one portable upsert (`insert … on conflict do update set count = count + 1 returning
 * count`), atomic on both engines, so parallel requests can never both read "one left". Windows are
 * fixed and aligned on the injected clock; expired rows are swept every `sweepEvery`-th count, without
 * timers.
 */
export type RateLimitAnswer = 'page' | 'json';

/** How often an instance adds its API requests to a key's shared count (BatchedStore). */
export const API_COUNT_SHARE_MS = 1_000;

export interface RateLimiterDeps {
  db: Kysely<Database>;
  clock: Clock;
  windowMs: number;
  grouping?: RateLimitGrouping;
  sweepEvery?: number;
  /**
   * For limits on a named client (`clientOf`: the API's per-key limit): add this instance's count to the
   * shared row at most this often instead of on every request (see BatchedStore). Unset: every request.
   */
  shareEveryMs?: number;
}

const DEFAULT_GROUPING: RateLimitGrouping = { ipv6Prefix: 64, addressFactor: 10 };

/** Counts in rows of `rate_limits`: one per (group, client, window), `<group>|<client>|<window start>`. */
class DatabaseStore implements Store {
  readonly localKeys = false;
  private windowMs = 60_000;

  constructor(
    private readonly group: string,
    private readonly deps: RateLimiterDeps,
    private readonly counted: () => Promise<void>,
  ) {}

  get prefix(): string {
    return `${this.group}|`;
  }

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  window(): { start: number; resetAt: number } {
    const now = this.deps.clock.now();
    const start = now - (now % this.windowMs);
    return { start, resetAt: start + this.windowMs };
  }

  async increment(key: string): Promise<IncrementResponse> {
    const { start, resetAt } = this.window();
    return { totalHits: await this.add(key, 1, start, resetAt), resetTime: new Date(resetAt) };
  }

  /** Adds `hits` to the key's row of the window starting at `start`; the shared total after it. */
  async add(key: string, hits: number, start: number, resetAt: number): Promise<number> {
    const row = await this.deps.db
      .insertInto('rate_limits')
      .values({ bucket: `${this.prefix}${key}|${start}`, count: hits, expires_at: resetAt })
      .onConflict((oc) => oc.column('bucket').doUpdateSet((eb) => ({ count: eb('rate_limits.count', '+', hits) })))
      .returning('count')
      .executeTakeFirstOrThrow();
    await this.counted();
    return Number(row.count);
  }

  async decrement(key: string): Promise<void> {
    const { start } = this.window();
    await this.deps.db
      .updateTable('rate_limits')
      .set((eb) => ({ count: eb('count', '-', 1) }))
      .where('bucket', '=', `${this.prefix}${key}|${start}`)
      .where('count', '>', 0)
      .execute();
  }

  async resetKey(key: string): Promise<void> {
    const { start } = this.window();
    await this.deps.db.deleteFrom('rate_limits').where('bucket', '=', `${this.prefix}${key}|${start}`).execute();
  }
}

/**
 * A count kept in memory and added to the shared row once per `shareEveryMs` (and on a key's first
 * request in a window), instead of one upsert per request. This instance's answer counts every request it
 * served at once (shared total as last read + what it has not added yet), so one instance limits exactly;
 * with several, each learns of the others' requests at its next addition, and a key can get past its
 * limit by what the other instances served in the last `shareEveryMs`. Requests counted but not yet added
 * when a process dies are lost to the count (at most `shareEveryMs` of them): a rate limit, not a record.
 */
class BatchedStore implements Store {
  readonly localKeys = false;
  private readonly counts = new Map<
    string,
    { start: number; shared: number; adding: number; pending: number; addedAt: number; busy: boolean }
  >();

  constructor(
    private readonly shared: DatabaseStore,
    private readonly deps: RateLimiterDeps & { shareEveryMs: number },
  ) {}

  get prefix(): string {
    return this.shared.prefix;
  }

  init(options: Options): void {
    this.shared.init(options);
  }

  async increment(key: string): Promise<IncrementResponse> {
    const { start, resetAt } = this.shared.window();
    const now = this.deps.clock.now();
    let count = this.counts.get(key);
    if (count?.start !== start) {
      // A new window: the old windows' entries go (a key's first request is always added at once).
      for (const [k, c] of this.counts) if (c.start !== start) this.counts.delete(k);
      count = { start, shared: 0, adding: 0, pending: 0, addedAt: -Infinity, busy: false };
      this.counts.set(key, count);
    }
    count.pending += 1;
    if (!count.busy && (now - count.addedAt >= this.deps.shareEveryMs || now < count.addedAt)) {
      const entry = count;
      entry.busy = true;
      entry.adding = entry.pending;
      entry.pending = 0;
      try {
        entry.shared = await this.shared.add(key, entry.adding, start, resetAt);
        entry.addedAt = now;
      } catch (error) {
        // Not added: counted again with the next addition; this request fails as an unshared count would.
        entry.pending += entry.adding;
        throw error;
      } finally {
        entry.adding = 0;
        entry.busy = false;
      }
    }
    return { totalHits: count.shared + count.adding + count.pending, resetTime: new Date(resetAt) };
  }

  async decrement(key: string): Promise<void> {
    const count = this.counts.get(key);
    if (count && count.pending > 0) count.pending -= 1;
    else await this.shared.decrement(key);
  }

  async resetKey(key: string): Promise<void> {
    this.counts.delete(key);
    await this.shared.resetKey(key);
  }
}

function header(req: Request, name: string): string {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

export function createRateLimiter(deps: RateLimiterDeps) {
  const grouping = deps.grouping ?? DEFAULT_GROUPING;
  const sweepEvery = deps.sweepEvery ?? 200;
  let counted = 0;
  const sweep = async () => {
    if (++counted % sweepEvery !== 0) return;
    // Housekeeping: a failed sweep is retried on the next round and never fails a request.
    await deps.db
      .deleteFrom('rate_limits')
      .where('expires_at', '<=', deps.clock.now())
      .execute()
      .catch(() => undefined);
  };

  const address = (req: Request) => ipKeyGenerator(req.ip ?? 'unknown', grouping.ipv6Prefix);
  const browser = (req: Request) =>
    createHash('sha256')
      .update(`${header(req, 'user-agent')}\n${header(req, 'accept-language')}`)
      .digest('base64url')
      .slice(0, 16);

  function limiter(
    group: string,
    limit: number,
    answer: RateLimitAnswer,
    scope: 'browser' | 'address' | 'client',
    clientOf?: (req: Request, res: Response) => string,
  ): RequestHandler {
    const shared = new DatabaseStore(group, deps, sweep);
    const shareEveryMs = deps.shareEveryMs;
    return rateLimit({
      windowMs: deps.windowMs,
      limit,
      store: clientOf && shareEveryMs !== undefined ? new BatchedStore(shared, { ...deps, shareEveryMs }) : shared,
      keyGenerator: (req, res) =>
        clientOf
          ? `c:${clientOf(req, res)}`
          : scope === 'browser'
            ? `b:${address(req)}|${browser(req)}`
            : `a:${address(req)}`,
      // Retry-After is computed below from the injected clock; the draft RateLimit headers are not sent.
      standardHeaders: false,
      legacyHeaders: false,
      // igconnect warns about an untrusted proxy itself (transport-security.ts); these checks would print
      // to the console on every start or forged header.
      validate: { trustProxy: false, xForwardedForHeader: false, forwardedHeader: false },
      handler: (req, res, next) => {
        const resetAt = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime?.getTime();
        const retryAfter = Math.max(1, Math.ceil(((resetAt ?? deps.clock.now()) - deps.clock.now()) / 1000));
        res.set('Retry-After', String(retryAfter));
        req.log?.info({ group, limit, scope }, 'rate limit reached');
        if (answer === 'json') {
          // Machine callers (Meta's webhooks) get JSON whatever they accept; no session, no page.
          res
            .status(429)
            .set('Cache-Control', 'no-store')
            .json({ error: { code: 'RATE_LIMITED' } });
          return;
        }
        next(
          new AppError('RATE_LIMITED', `more than ${limit} requests in ${deps.windowMs / 1000} s (${group}, ${scope})`),
        );
      },
    });
  }

  /**
   * A middleware allowing `limit` requests per window for each browser in `group`, and `limit` times the
   * address factor for each address; 0 allows all. The browser's count comes first, so a browser over
   * its own allowance does not use up its neighbours' share of the ceiling. When `clientOf` names the
   * client (the API counts per key), that one count is all.
   */
  return function rateLimitGroup(
    group: string,
    limit: number,
    answer: RateLimitAnswer,
    clientOf?: (req: Request, res: Response) => string,
  ): RequestHandler {
    if (limit === 0) return (_req, _res, next) => next();
    if (clientOf) return limiter(group, limit, answer, 'client', clientOf);
    return inSequence(
      limiter(group, limit, answer, 'browser'),
      limiter(group, limit * grouping.addressFactor, answer, 'address'),
    );
  };
}

/** One middleware that runs `first`, then `second` unless `first` answered or failed. */
function inSequence(first: RequestHandler, second: RequestHandler): RequestHandler {
  return (req, res, next) =>
    first(req, res, (error?: unknown) => (error !== undefined ? next(error) : second(req, res, next)));
}
