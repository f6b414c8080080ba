import type { Kysely } from 'kysely';
import type { WatchConfig } from '../config/watch-config';
import type { ConnectionsService } from '../connections/connections.service';
import type { Database } from '../db/schema';
import type { ProviderDefinition, UsageReading } from '../providers/provider-definition';
import type { ProviderRegistry } from '../providers/registry';
import type { Clock } from '../shared/clock';
import { ProviderError } from '../shared/errors';
import type { HttpClient } from '../shared/http-client';
import type { Logger } from '../shared/logger';
import * as repo from './watch.repository';

/**
 * Watches each provider as a whole (ADR 0011): when many connections fail the same way at once, the app
 * is degraded, not the connections; when the provider's usage headers say the rate budget runs out, every
 * keeper and the proxy slow down before the provider throttles. State lives in the database (shared by
 * every instance, both engines) and is read through a one-second cache; successes are counted in memory
 * and added to the database in batches, so a call that succeeds costs no statement.
 *
 * A refused token (a failure of kind `reconnect`) marks its connection only once it is clear that the
 * failure is that connection's own: another connection of the provider, checked at once, still works, or,
 * with no other connection to ask, the same connection is refused again. While other connections fail the
 * same way, nobody is marked and the failures are counted; once enough connections failed with one
 * signature (and they outnumber the successes since), the app is degraded for that signature.
 */

/** What a failure means for the connection it happened to. */
export type Verdict =
  /** The connection's own: act on it as the provider classified it (a dead token marks the connection). */
  | { kind: 'own' }
  /** The provider's incident: a passing failure for the connection; look again at the next probe. */
  | { kind: 'incident'; signature: string; retryAt: number }
  /** Not yet clear whose it is: a passing failure; the next attempt decides. */
  | { kind: 'unconfirmed'; signature: string };

/** A provider's state as keepers, the proxy, pages and metrics see it. */
export interface ProviderSnapshot {
  provider: string;
  degraded: { since: number; signature: string; detail: string | null; probeAt: number | null } | null;
  /** The rate-budget usage last reported (percent) and when; null when none is known. */
  usage: { percent: number; at: number } | null;
  /** Keepers and the proxy hold off until then. */
  pausedUntil: number | null;
  pauseReason: string | null;
  canary: { at: number; report: string | null } | null;
}

/** What a keeper may claim in one sweep. */
export interface SweepPlan {
  /** Providers the sweep's ordinary claims leave out (degraded, paused or slowed). */
  exclude: string[];
  /** Slowed providers: claimed once per sweep, at most this many rows. */
  slow: { provider: string; limit: number }[];
  /** Degraded providers whose probe is due, claimed by this keeper. */
  probes: string[];
}

/** Usage readings older than this are ignored: Meta's windows are an hour long and roll. */
const USAGE_STALE_MS = 15 * 60_000;
/** How long a state read is served from memory. */
const CACHE_MS = 1_000;
/** Successes are added to the database at least this often. */
const FLUSH_MS = 5_000;
/** Old failures and counters are swept at most this often. */
const SWEEP_MS = 60_000;
/** A usage reading is written when it moved this much (or crossed a threshold). */
const USAGE_STEP = 5;

export function signatureOf(error: ProviderError): string {
  return error.signature;
}

/** Meta's app-level throttling (code 4): the whole app must wait, not one connection. */
const APP_THROTTLE = /^throttled:graph:4\//;

export interface ProviderWatchDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  providers: ProviderRegistry;
  connections: ConnectionsService;
  http: HttpClient;
  settings: WatchConfig;
}

export class ProviderWatch {
  private readonly cache = new Map<string, { readAt: number; snapshot: ProviderSnapshot }>();
  private cacheAll: { readAt: number; promise: Promise<void> } | undefined;
  private readonly pending = new Map<string, number>();
  private lastFlush = performance.now();
  private lastSweep = 0;
  private flushing: Promise<void> | undefined;
  private readonly written = new Map<string, { percent: number; at: number }>();
  private readonly clients = new Map<string, HttpClient>();
  private timer: NodeJS.Timeout | undefined;
  /** Usage writes in flight (made beside the call that read the headers); flush() waits for them. */
  private usageWork: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ProviderWatchDeps) {}

  get settings(): WatchConfig {
    return this.deps.settings;
  }

  /** Adds counted successes to the database every few seconds (unref'd: never keeps a process alive). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.flush().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'provider watch flush failed'));
    }, FLUSH_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => undefined);
  }

  // --- Calls ---------------------------------------------------------------------------------------

  /** The HTTP client for calls to a provider: reads its usage headers on every answer. */
  clientFor(provider: ProviderDefinition): HttpClient {
    const known = this.clients.get(provider.id);
    if (known) return known;
    const usage = provider.usage;
    const client: HttpClient = usage
      ? async (request) => {
          const response = await this.deps.http(request);
          const reading = usage(response.headers);
          if (reading) this.noteUsage(provider.id, reading);
          return response;
        }
      : this.deps.http;
    this.clients.set(provider.id, client);
    return client;
  }

  /**
   * A call to the provider (for a connection, started at `startedAt` on the injected clock) succeeded.
   * Counted in memory; when this process believes the app degraded since before the call started, the
   * app recovers at once.
   */
  async succeeded(providerId: string, startedAt: number): Promise<void> {
    const bucket = Math.floor(this.deps.clock.now() / repo.BUCKET_MS) * repo.BUCKET_MS;
    const key = `${providerId}\u0000${bucket}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    const degraded = this.cache.get(providerId)?.snapshot.degraded;
    if (degraded && degraded.since <= startedAt) await this.recover(providerId, startedAt);
    if (performance.now() - this.lastFlush > FLUSH_MS) {
      this.flush().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'provider watch flush failed'));
    }
  }

  /**
   * A call for `connection` failed with `error`. Decides whose failure it is (see the class comment) and
   * records what the decision needs.
   */
  async judge(
    provider: ProviderDefinition,
    connection: { id: string; accountId: string },
    error: ProviderError,
  ): Promise<Verdict> {
    const { clock, settings } = this.deps;
    const signature = signatureOf(error);
    const now = clock.now();
    const state = await this.snapshot(provider.id);
    if (state.degraded?.signature === signature) {
      return { kind: 'incident', signature, retryAt: this.retryAt(state, now) };
    }
    if (error.failure.kind === 'throttled') {
      if (APP_THROTTLE.test(signature)) {
        await this.pause(provider.id, now + (error.failure.retryAfterMs ?? settings.usage.pauseMs), 'throttled');
      }
      return { kind: 'own' };
    }
    await this.flush();
    await repo.recordFailure(this.deps.db, { provider: provider.id, signature, connectionId: connection.id, now });
    // Only a refused token marks a connection; other kinds are passing or shown, never marked, and only
    // count towards an incident.
    if (error.failure.kind !== 'reconnect') {
      return (await this.degradeIfIncident(provider, signature, now, error.detail ?? null)) ?? { kind: 'own' };
    }
    // Evidence first: another connection that still works makes the refusal this token's own.
    const evidence = await this.crossCheck(provider, connection.id, signature, now);
    if (evidence === 'other_works') return { kind: 'own' };
    const incident = await this.degradeIfIncident(provider, signature, now, error.detail ?? null);
    if (incident) return incident;
    // No other connection of the provider to compare with (a deployment of one): nothing can tell an
    // incident from a dead token, and asking again during an incident would be refused as well, so the
    // refusal is taken as the token's own, as before this watch existed.
    if (evidence === 'nobody_else') return { kind: 'own' };
    return { kind: 'unconfirmed', signature };
  }

  // --- State -------------------------------------------------------------------------------------

  /** The provider's state, at most a second old. */
  async snapshot(providerId: string): Promise<ProviderSnapshot> {
    const cached = this.cache.get(providerId);
    if (cached && performance.now() - cached.readAt < CACHE_MS) return cached.snapshot;
    await this.refresh();
    return this.cache.get(providerId)?.snapshot ?? emptySnapshot(providerId);
  }

  /** The last state read, without waiting (possibly a second old; empty when never read). */
  peek(providerId: string): ProviderSnapshot {
    return this.cache.get(providerId)?.snapshot ?? emptySnapshot(providerId);
  }

  /** Every configured provider's state (status page, doctor, metrics). */
  async all(): Promise<ProviderSnapshot[]> {
    return Promise.all(this.deps.providers.all().map((p) => this.snapshot(p.id)));
  }

  /** Whether a keeper should leave this provider's connections alone right now (degraded or paused). */
  holdsOff(providerId: string, now: number): boolean {
    const state = this.peek(providerId);
    return state.degraded !== null || (state.pausedUntil !== null && state.pausedUntil > now);
  }

  /** How long the proxy must wait before calling this provider, or 0. */
  async pauseLeftMs(providerId: string, now: number): Promise<number> {
    const state = await this.snapshot(providerId);
    return state.pausedUntil !== null && state.pausedUntil > now ? state.pausedUntil - now : 0;
  }

  /** Providers a keeper's ordinary claims leave out right now: degraded, paused or slowed. */
  async excluded(): Promise<string[]> {
    const now = this.deps.clock.now();
    return (await this.all())
      .filter((state) => this.holdsOff(state.provider, now) || this.slowed(state, now))
      .map((s) => s.provider);
  }

  private slowed(state: ProviderSnapshot, now: number): boolean {
    return (
      state.usage !== null &&
      now - state.usage.at < USAGE_STALE_MS &&
      state.usage.percent >= this.deps.settings.usage.slowPercent
    );
  }

  /** What a keeper may claim in this sweep (see SweepPlan). Probes are claimed here, once per instance. */
  async sweepPlan(batchSize: number): Promise<SweepPlan> {
    const { clock, settings } = this.deps;
    const now = clock.now();
    const plan: SweepPlan = { exclude: [], slow: [], probes: [] };
    for (const state of await this.all()) {
      const { provider } = state;
      if (state.pausedUntil !== null && state.pausedUntil > now) {
        plan.exclude.push(provider);
      } else if (state.degraded) {
        plan.exclude.push(provider);
        if (state.degraded.probeAt === null || state.degraded.probeAt <= now) {
          const claimed = await repo.updateState(
            this.deps.db,
            provider,
            now,
            { probe_at: now + settings.incidents.probeIntervalMs },
            'probe_due',
          );
          if (claimed) {
            plan.probes.push(provider);
            this.invalidate();
          }
        }
      } else if (state.usage && this.slowed(state, now)) {
        const { slowPercent, pausePercent } = settings.usage;
        const room = Math.max(0, pausePercent - state.usage.percent) / (pausePercent - slowPercent);
        plan.exclude.push(provider);
        plan.slow.push({ provider, limit: Math.max(1, Math.floor(batchSize * room)) });
      }
    }
    return plan;
  }

  // --- Writes ------------------------------------------------------------------------------------

  /** Adds the successes counted in memory to the database (and now and then sweeps old rows). */
  async flush(): Promise<void> {
    await this.usageWork;
    return this.flushSuccesses();
  }

  private flushSuccesses(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0 && performance.now() - this.lastSweep < SWEEP_MS) return Promise.resolve();
    this.flushing = this.doFlush().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const counts = [...this.pending].map(([key, successes]) => {
      const [provider = '', bucket = '0'] = key.split('\u0000');
      return { provider, bucket: Number(bucket), successes };
    });
    this.pending.clear();
    this.lastFlush = performance.now();
    try {
      await repo.addSuccesses(this.deps.db, counts);
    } catch (error) {
      // Put them back: the next flush tries again (counts are advisory; nothing else is lost).
      for (const c of counts) {
        const key = `${c.provider}\u0000${c.bucket}`;
        this.pending.set(key, (this.pending.get(key) ?? 0) + c.successes);
      }
      throw error;
    }
    if (performance.now() - this.lastSweep >= SWEEP_MS) {
      this.lastSweep = performance.now();
      await repo.sweep(this.deps.db, this.deps.clock.now() - 2 * this.deps.settings.incidents.windowMs);
    }
  }

  /** Marks the app degraded for `signature` when enough connections failed that way (see the class). */
  private async degradeIfIncident(
    provider: ProviderDefinition,
    signature: string,
    now: number,
    detail: string | null,
  ): Promise<Verdict | undefined> {
    const { db, settings, logger } = this.deps;
    const { windowMs, minConnections, probeIntervalMs } = settings.incidents;
    const failures = await repo.failuresSince(db, provider.id, signature, now - windowMs);
    if (failures.connections < 2 || failures.firstAt === null) return undefined;
    let threshold = minConnections;
    if (failures.connections < minConnections) {
      // A small deployment: every connection it has failing the same way is an incident too.
      const active = await repo.activeConnections(db, provider.id, minConnections);
      threshold = Math.max(2, Math.min(minConnections, active));
    }
    if (failures.connections < threshold) return undefined;
    // Successes since the first failure outnumbering the failing connections: the provider works for
    // most; these failures are the connections' own.
    const successes = await repo.successesAfter(db, provider.id, failures.firstAt);
    if (successes >= failures.connections) return undefined;
    const changed = await repo.updateState(
      db,
      provider.id,
      now,
      {
        degraded_since: now,
        degraded_signature: signature,
        degraded_detail: detail?.slice(0, 500) ?? null,
        probe_at: now + probeIntervalMs,
      },
      'not_degraded',
    );
    this.invalidate();
    const state = await this.snapshot(provider.id);
    if (changed) {
      logger.warn(
        { provider: provider.id, signature, connections: failures.connections, successes, detail },
        `${provider.displayName} app degraded: ${failures.connections} connections failed the same way; connections are not marked for it, keepers probe every ${Math.round(probeIntervalMs / 1000)} s`,
      );
    }
    if (state.degraded?.signature !== signature) return undefined;
    return { kind: 'incident', signature, retryAt: this.retryAt(state, now) };
  }

  private async recover(providerId: string, startedAt: number): Promise<void> {
    const { db, clock, logger } = this.deps;
    const before = this.peek(providerId).degraded;
    const now = clock.now();
    const changed = await repo.updateState(
      db,
      providerId,
      now,
      { degraded_since: null, degraded_signature: null, degraded_detail: null, probe_at: null },
      'degraded_since_before',
      startedAt,
    );
    this.invalidate();
    if (changed && before) {
      await repo.forgetSignature(db, providerId, before.signature);
      logger.info(
        { provider: providerId, signature: before.signature, degradedForMs: now - before.since },
        `${this.displayName(providerId)} app recovered: calls succeed again`,
      );
    }
  }

  private async pause(providerId: string, until: number, reason: string): Promise<void> {
    const { db, clock, logger } = this.deps;
    const current = this.peek(providerId);
    if (current.pausedUntil !== null && current.pausedUntil >= until) return;
    await repo.updateState(db, providerId, clock.now(), { paused_until: until, pause_reason: reason }, 'always');
    this.invalidate();
    logger.warn(
      { provider: providerId, reason, pausedUntil: new Date(until).toISOString() },
      `${this.displayName(providerId)}: keepers and the proxy hold off until the rate budget frees`,
    );
  }

  /**
   * Reads one answer's usage headers. The percentage is written when it moved by 5 points or crossed a
   * threshold; at or above the pause threshold (or when the provider names a time to regain access),
   * every instance holds off until then.
   */
  private noteUsage(providerId: string, reading: UsageReading): void {
    const { settings, clock, db } = this.deps;
    const percent = Math.round(Math.max(reading.appPercent ?? 0, reading.businessPercent ?? 0));
    const now = clock.now();
    const last = this.written.get(providerId);
    const band = (p: number) => (p >= settings.usage.pausePercent ? 2 : p >= settings.usage.slowPercent ? 1 : 0);
    const work: Promise<unknown>[] = [];
    if (
      !last ||
      Math.abs(percent - last.percent) >= USAGE_STEP ||
      band(percent) !== band(last.percent) ||
      (band(percent) > 0 && now - last.at > USAGE_STALE_MS / 3)
    ) {
      this.written.set(providerId, { percent, at: now });
      work.push(
        repo.updateState(db, providerId, now, { usage_percent: percent, usage_at: now }, 'always').then(() => {
          this.invalidate();
        }),
      );
    }
    const regain = reading.regainAfterMs ?? 0;
    if (percent >= settings.usage.pausePercent || regain > 0) {
      work.push(this.pause(providerId, now + Math.max(regain, settings.usage.pauseMs), `usage ${percent}%`));
    }
    if (work.length > 0) {
      const done = Promise.all(work).catch((error: unknown) =>
        this.deps.logger.warn({ err: error, provider: providerId }, 'could not record provider usage'),
      );
      this.usageWork = Promise.all([this.usageWork, done]);
    }
  }

  // --- Evidence ----------------------------------------------------------------------------------

  /** Asks other connections of the provider (read-only calls) whether the provider works for them. */
  private async crossCheck(
    provider: ProviderDefinition,
    exceptId: string,
    signature: string,
    now: number,
  ): Promise<'other_works' | 'others_fail' | 'nobody_else' | 'inconclusive'> {
    const { db, connections, settings } = this.deps;
    const ids = await repo.crossCheckCandidates(db, {
      provider: provider.id,
      except: exceptId,
      signature,
      since: now - settings.incidents.windowMs,
      limit: settings.incidents.crossChecks,
    });
    if (ids.length === 0) {
      // Either the provider has no other active connection, or every other one failed the same way lately.
      return (await repo.activeConnections(db, provider.id, 2)) > 1 ? 'others_fail' : 'nobody_else';
    }
    let same = 0;
    for (const id of ids) {
      const other = await connections.readToken(id).catch(() => undefined);
      if (!other || other.connection.status !== 'active') continue;
      const started = this.deps.clock.now();
      try {
        await provider.fetchProfile(this.clientFor(provider), other.accessToken, other.connection.accountId);
        await this.succeeded(provider.id, started);
        return 'other_works';
      } catch (error) {
        if (error instanceof ProviderError && signatureOf(error) === signature) {
          same += 1;
          await repo.recordFailure(db, {
            provider: provider.id,
            signature,
            connectionId: id,
            now: this.deps.clock.now(),
          });
        }
      }
    }
    return same > 0 && same === ids.length ? 'others_fail' : 'inconclusive';
  }

  // --- Helpers -----------------------------------------------------------------------------------

  private retryAt(state: ProviderSnapshot, now: number): number {
    const probe = state.degraded?.probeAt ?? now + this.deps.settings.incidents.probeIntervalMs;
    return Math.max(probe, now + 1000);
  }

  private displayName(providerId: string): string {
    return this.deps.providers.find(providerId)?.displayName ?? providerId;
  }

  private invalidate(): void {
    this.cache.clear();
    this.cacheAll = undefined;
  }

  /** One read of every provider's row, shared by concurrent callers. */
  private refresh(): Promise<void> {
    if (this.cacheAll && performance.now() - this.cacheAll.readAt < CACHE_MS) return this.cacheAll.promise;
    const readAt = performance.now();
    const promise = repo.readStates(this.deps.db).then((rows) => {
      for (const p of this.deps.providers.all()) {
        const row = rows.find((r) => r.provider === p.id);
        this.cache.set(p.id, { readAt, snapshot: row ? toSnapshot(row) : emptySnapshot(p.id) });
      }
    });
    this.cacheAll = { readAt, promise };
    promise.catch(() => {
      this.cacheAll = undefined;
    });
    return promise;
  }
}

function emptySnapshot(provider: string): ProviderSnapshot {
  return { provider, degraded: null, usage: null, pausedUntil: null, pauseReason: null, canary: null };
}

const num = (value: number | null): number | null => (value === null ? null : Number(value));

function toSnapshot(row: repo.ProviderStateRow): ProviderSnapshot {
  return {
    provider: row.provider,
    degraded:
      row.degraded_since !== null && row.degraded_signature !== null
        ? {
            since: Number(row.degraded_since),
            signature: row.degraded_signature,
            detail: row.degraded_detail,
            probeAt: num(row.probe_at),
          }
        : null,
    usage:
      row.usage_percent !== null && row.usage_at !== null
        ? { percent: Number(row.usage_percent), at: Number(row.usage_at) }
        : null,
    pausedUntil: num(row.paused_until),
    pauseReason: row.pause_reason,
    canary: row.canary_at !== null ? { at: Number(row.canary_at), report: row.canary_report } : null,
  };
}
