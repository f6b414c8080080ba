import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { LifecycleConfig } from '../config/config';
import type { ConnectionsService } from '../connections/connections.service';
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
    const { connections, lifecycle, clock, settings } = this.deps;
    const summary: SweepSummary = { claimed: 0, byAction: {}, byOutcome: {} };
    while (!this.stopping) {
      const claims = await connections.claimDue({
        owner: this.owner,
        now: clock.now(),
        leaseMs: settings.leaseMs,
        limit: settings.batchSize,
      });
      if (claims.length === 0) break;
      summary.claimed += claims.length;
      const queue = [...claims];
      const worker = async () => {
        while (!this.stopping) {
          const claim = queue.shift();
          if (!claim) break;
          const result = await lifecycle.process(claim, this.owner);
          summary.byAction[result.action] = (summary.byAction[result.action] ?? 0) + 1;
          summary.byOutcome[result.outcome] = (summary.byOutcome[result.outcome] ?? 0) + 1;
          onResult?.(result);
        }
      };
      await Promise.all(Array.from({ length: Math.min(settings.concurrency, claims.length) }, worker));
      // Stopped mid-batch: hand the unstarted claims back so another keeper need not wait for the lease.
      await connections.releaseClaims(
        queue.map((c) => c.connection.id),
        this.owner,
      );
    }
    if (summary.claimed > 0) this.deps.logger.info({ owner: this.owner, ...summary }, 'keeper sweep done');
    return summary;
  }
}
