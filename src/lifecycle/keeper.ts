import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { LifecycleConfig } from '../config/config';
import type { ClaimedConnection, ConnectionsService } from '../connections/connections.service';
import type { ProviderWatch } from '../incidents/provider-watch';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import type { LifecycleResult, LifecycleService } from './lifecycle.service';

export interface SweepSummary {
  claimed: number;
  byAction: Record<string, number>;
  byOutcome: Record<string, number>;
}

/**
 * Keeps every connection alive by itself: every `sweepIntervalMs` it claims due connections in batches
 * (leases in the database, so any number of keepers can share one database), works through each batch
 * with bounded concurrency (each call to a provider has the HTTP client's deadline), and stops cleanly:
 * `stop()` claims nothing more, lets in-flight calls finish, and hands back unstarted claims.
 */
export class Keeper {
  readonly owner: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepSummary> | undefined;
  private stopping = false;

  constructor(
    private readonly deps: {
      connections: ConnectionsService;
      lifecycle: LifecycleService;
      clock: Clock;
      logger: Logger;
      settings: LifecycleConfig;
      /** The providers' state (src/incidents): degraded or paused providers are left alone but probed. */
      watch?: ProviderWatch;
      /** The daily self-check (src/incidents/canary.ts), run by a started keeper before each sweep; it decides itself whether it is due. */
      selfCheck?: () => Promise<void>;
    },
    owner?: string,
  ) {
    this.owner = owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  /** One sweep: claim and process batches until nothing is due (or stop() is called). */
  sweep(onResult?: (result: LifecycleResult) => void): Promise<SweepSummary> {
    if (this.running) return this.running;
    this.running = this.runSweep(onResult).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Sweeps now and then every interval. `keepAlive: false` lets the process exit around it (web). */
  start(options: { keepAlive: boolean }): void {
    const interval = this.deps.settings.sweepIntervalMs;
    if (interval === 0 || this.timer) return;
    const tick = () => {
      // Beside the sweep, never before it: a provider that hangs must not delay renewals.
      this.deps.selfCheck?.().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'self-check failed'));
      this.sweep()
        .catch((error: unknown) => this.deps.logger.error({ err: error }, 'keeper sweep failed'))
        .finally(() => {
          if (this.stopping) return;
          this.timer = setTimeout(tick, interval);
          if (!options.keepAlive) this.timer.unref();
        });
    };
    this.deps.logger.info({ owner: this.owner, intervalMs: interval }, 'keeper started');
    this.timer = setTimeout(tick, 0);
    if (!options.keepAlive) this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    this.deps.logger.info({ owner: this.owner }, 'keeper stopped');
  }

  private async runSweep(onResult?: (result: LifecycleResult) => void): Promise<SweepSummary> {
    const { connections, clock, settings, watch, logger } = this.deps;
    const summary: SweepSummary = { claimed: 0, byAction: {}, byOutcome: {} };
    // Degraded, paused and slowed providers are left out of the ordinary claims (re-read before each
    // batch: an incident found mid-sweep stops the rest of that provider's batch too); slowed ones get a
    // smaller claim once per sweep, and a degraded one a single probe when its time has come.
    const plan = watch ? await watch.sweepPlan(settings.batchSize) : { exclude: [], slow: [], probes: [] };
    while (!this.stopping) {
      const exclude = watch ? await watch.excluded() : [];
      const claims = await connections.claimDue({
        owner: this.owner,
        now: clock.now(),
        leaseMs: settings.leaseMs,
        limit: settings.batchSize,
        ...(exclude.length > 0 ? { providers: { exclude } } : {}),
      });
      if (claims.length === 0) break;
      await this.work(claims, summary, onResult);
    }
    for (const { provider, limit } of plan.slow) {
      if (this.stopping) break;
      const claims = await connections.claimDue({
        owner: this.owner,
        now: clock.now(),
        leaseMs: settings.leaseMs,
        limit,
        providers: { only: provider },
      });
      if (claims.length > 0) {
        logger.info({ provider, claimed: claims.length }, 'rate budget nearly used: fewer connections this sweep');
      }
      await this.work(claims, summary, onResult);
    }
    for (const provider of plan.probes) {
      if (this.stopping) break;
      const claim = await connections.claimProbe({
        provider,
        owner: this.owner,
        now: clock.now(),
        leaseMs: settings.leaseMs,
      });
      if (!claim) continue;
      logger.info({ provider, connectionId: claim.connection.id }, 'probing a degraded provider');
      await this.work([claim], summary, onResult, 'validate');
    }
    if (summary.claimed > 0) this.deps.logger.info({ owner: this.owner, ...summary }, 'keeper sweep done');
    return summary;
  }

  /** Works through claimed connections with bounded concurrency; unstarted claims are handed back. */
  private async work(
    claims: ClaimedConnection[],
    summary: SweepSummary,
    onResult: ((result: LifecycleResult) => void) | undefined,
    force?: 'validate',
  ): Promise<void> {
    const { connections, lifecycle, settings, watch, clock } = this.deps;
    summary.claimed += claims.length;
    const queue = [...claims];
    const handBack: string[] = [];
    const worker = async () => {
      while (!this.stopping) {
        const claim = queue.shift();
        if (!claim) break;
        // The provider's app went degraded (or paused) since the claim: leave the row for later.
        if (!force && watch?.holdsOff(claim.connection.provider, clock.now())) {
          handBack.push(claim.connection.id);
          continue;
        }
        const result = await lifecycle.process(claim, this.owner, force);
        summary.byAction[result.action] = (summary.byAction[result.action] ?? 0) + 1;
        summary.byOutcome[result.outcome] = (summary.byOutcome[result.outcome] ?? 0) + 1;
        onResult?.(result);
      }
    };
    await Promise.all(Array.from({ length: Math.min(settings.concurrency, claims.length) }, worker));
    // Stopped mid-batch: hand the unstarted claims back so another keeper need not wait for the lease.
    await connections.releaseClaims([...handBack, ...queue.map((c) => c.connection.id)], this.owner);
  }
}
