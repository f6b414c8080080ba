import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { EventsConfig } from '../config/config';
import type { Database } from '../db/schema';
import type { Clock } from '../shared/clock';
import { type HttpClient, HttpTransportError } from '../shared/http-client';
import type { Logger } from '../shared/logger';
import * as repo from './events.repository';
import type { EventRow } from './events.repository';
import { afterFailure } from './retry-policy';
import { signedHeaders } from './signature';

/** Deliveries one relay has in flight at most; also how many events it claims at a time. */
export const DELIVERIES_IN_FLIGHT = 8;

export interface RelaySummary {
  claimed: number;
  delivered: number;
  retried: number;
  givenUp: number;
  leaseLost: number;
}

/** One attempt's answer: a 2xx, or why not (never a secret, never the receiver's body). */
type AttemptResult = { ok: true; status: number } | { ok: false; error: string };

export type RedeliveryResult =
  | { outcome: 'delivered'; status: number }
  | { outcome: 'failed'; error: string }
  | { outcome: 'not_found' }
  | { outcome: 'busy' }
  | { outcome: 'waiting'; for: string };

/** Something that says when a change with events committed (the outbox). */
export interface CommitSignal {
  onCommitted(listener: () => void): () => void;
}

/**
 * Delivers the outbox to the deployer's receiver (ADR 0009). Every `pollIntervalMs`, and at once when the
 * outbox says a change committed, it claims due events with a lease in the database (any number of relays
 * may share one database; none delivers an event another holds), posts each with a fresh Standard Webhooks
 * signature and a deadline, and records the answer: a 2xx delivers it; anything else is retried with
 * jittered exponential backoff until the event is `retryForMs` old, then given up. A connection's events
 * go out one at a time, in order (the due query in events.repository.ts).
 *
 * The secret signs and is never logged; bodies are the stored payloads, which hold no token.
 */
export class EventRelay {
  readonly owner: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RelaySummary> | undefined;
  private again = false;
  private started = false;
  private stopping = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      http: HttpClient;
      /** Schedules attempts and leases (the app's clock). */
      clock: Clock;
      /**
       * Stamps `webhook-timestamp`: the receiver compares it with its own clock to refuse replays, so it
       * is always the real time, even where tests move the app's clock.
       */
      wallClock: Clock;
      logger: Logger;
      settings: EventsConfig;
      commits?: CommitSignal;
      random?: () => number;
    },
    owner?: string,
  ) {
    this.owner = owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  /**
   * Delivers until nothing is due (or stop() is called). Concurrent calls share one run; a call that
   * arrives during a run makes that run look once more before it ends, so no committed event waits for
   * the next interval.
   */
  deliverDue(): Promise<RelaySummary> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Delivers now, then every interval and after every commit. `keepAlive: false` for the web process. */
  start(options: { keepAlive: boolean }): void {
    const interval = this.deps.settings.pollIntervalMs;
    if (interval === 0 || this.started) return;
    this.started = true;
    const tick = () => {
      this.deliverDue()
        .catch((error: unknown) => this.deps.logger.error({ err: error }, 'event relay round failed'))
        .finally(() => {
          if (this.stopping) return;
          this.timer = setTimeout(tick, interval);
          if (!options.keepAlive) this.timer.unref();
        });
    };
    this.unsubscribe = this.deps.commits?.onCommitted(() => this.nudge());
    this.deps.logger.info({ owner: this.owner, intervalMs: interval }, 'event relay started');
    this.timer = setTimeout(tick, 0);
    if (!options.keepAlive) this.timer.unref();
  }

  /** A change committed: deliver its events now rather than at the next interval. */
  nudge(): void {
    if (!this.started || this.stopping) return;
    this.deliverDue().catch((error: unknown) => this.deps.logger.error({ err: error }, 'event relay round failed'));
  }

  /** Claims nothing more and lets in-flight deliveries finish (each has its deadline). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    if (this.started) this.deps.logger.info({ owner: this.owner }, 'event relay stopped');
  }

  /**
   * Delivers one event again at once, whatever its state, with its own id (`events redeliver`). A pending
   * event that still waits for an earlier one of its connection is left to the relay, to keep the order.
   */
  async redeliver(id: string): Promise<RedeliveryResult> {
    const { db, clock, settings } = this.deps;
    const event = await repo.findById(db, id);
    if (!event) return { outcome: 'not_found' };
    if (repo.statusOf(event) === 'pending') {
      const earlier = await repo.earlierPending(db, event);
      if (earlier) return { outcome: 'waiting', for: earlier.id };
    }
    const claimed = await repo.claimOne(db, { id, owner: this.owner, now: clock.now(), leaseMs: settings.leaseMs });
    if (!claimed) return { outcome: 'busy' };
    const result = await this.send(claimed);
    const now = clock.now();
    if (result.ok) {
      await repo.finishLeased(db, id, this.owner, {
        delivered_at: now,
        failed_at: null,
        next_attempt_at: null,
        last_error: null,
      });
      this.deps.logger.info(this.describe(claimed, { status: result.status }), 'event redelivered');
      return { outcome: 'delivered', status: result.status };
    }
    if (repo.statusOf(claimed) === 'pending') {
      await this.recordFailure(claimed, result.error, now);
    } else {
      // Delivered or given up before: it stays so; the failed redelivery is only noted.
      await repo.finishLeased(db, id, this.owner, { last_error: result.error });
    }
    this.deps.logger.warn(this.describe(claimed, { error: result.error }), 'event redelivery failed');
    return { outcome: 'failed', error: result.error };
  }

  private async run(): Promise<RelaySummary> {
    const { db, clock, settings } = this.deps;
    const summary: RelaySummary = { claimed: 0, delivered: 0, retried: 0, givenUp: 0, leaseLost: 0 };
    do {
      this.again = false;
      while (!this.stopping) {
        const claims = await repo.claimDue(db, {
          owner: this.owner,
          now: clock.now(),
          leaseMs: settings.leaseMs,
          limit: DELIVERIES_IN_FLIGHT,
        });
        if (claims.length === 0) break;
        summary.claimed += claims.length;
        // At most one event per connection is due at a time, so these may all go out together; and each
        // lease covers one deadline plus the write of its result, so nothing waits in a queue behind it.
        await Promise.all(claims.map((event) => this.attempt(event, summary)));
      }
    } while (this.again && !this.stopping);
    if (summary.claimed > 0) this.deps.logger.info({ owner: this.owner, ...summary }, 'event relay round done');
    return summary;
  }

  private async attempt(event: EventRow, summary: RelaySummary): Promise<void> {
    const result = await this.send(event);
    const now = this.deps.clock.now();
    if (result.ok) {
      const kept = await repo.finishLeased(this.deps.db, event.id, this.owner, {
        delivered_at: now,
        next_attempt_at: null,
        last_error: null,
      });
      if (!kept) summary.leaseLost += 1;
      else summary.delivered += 1;
      this.deps.logger.info(this.describe(event, { status: result.status }), 'event delivered');
      return;
    }
    const outcome = await this.recordFailure(event, result.error, now);
    summary[outcome] += 1;
  }

  private async recordFailure(
    event: EventRow,
    error: string,
    now: number,
  ): Promise<'retried' | 'givenUp' | 'leaseLost'> {
    const { db, settings } = this.deps;
    const next = afterFailure(
      { createdAt: Number(event.created_at), attempts: Number(event.attempts) },
      now,
      settings,
      this.deps.random ?? Math.random,
    );
    const patch = 'giveUp' in next ? { failed_at: now, next_attempt_at: null } : { next_attempt_at: next.retryAt };
    if (!(await repo.finishLeased(db, event.id, this.owner, { ...patch, last_error: error }))) {
      this.deps.logger.warn(this.describe(event, { error }), 'event lease lost before the result was stored');
      return 'leaseLost';
    }
    if ('giveUp' in next) {
      this.deps.logger.error(this.describe(event, { error }), 'event given up: the receiver never accepted it');
      return 'givenUp';
    }
    this.deps.logger.warn(
      this.describe(event, { error, nextAttemptAt: new Date(next.retryAt).toISOString() }),
      'event delivery failed; will retry',
    );
    return 'retried';
  }

  /** Posts the stored body, signed now. */
  private async send(event: EventRow): Promise<AttemptResult> {
    const { settings, wallClock } = this.deps;
    const timestamp = Math.floor(wallClock.now() / 1000);
    try {
      const response = await this.deps.http({
        method: 'POST',
        url: settings.url,
        body: { contentType: 'application/json', data: event.payload },
        headers: signedHeaders(settings.secret, event.id, timestamp, event.payload),
        timeoutMs: settings.timeoutMs,
      });
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      const redirect = response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : '';
      return { ok: false, error: `HTTP ${response.status}${redirect}` };
    } catch (error) {
      if (error instanceof HttpTransportError) {
        return {
          ok: false,
          error: error.kind === 'timeout' ? `no answer within ${settings.timeoutMs / 1000} s` : 'connection failed',
        };
      }
      this.deps.logger.error({ err: error, eventId: event.id }, 'unexpected error delivering an event');
      return { ok: false, error: 'unexpected error' };
    }
  }

  private describe(event: EventRow, extra: Record<string, unknown>): Record<string, unknown> {
    return {
      eventId: event.id,
      type: event.type,
      connectionId: event.connection_id,
      attempt: Number(event.attempts),
      ...extra,
    };
  }
}
