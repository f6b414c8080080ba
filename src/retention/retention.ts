import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { RetentionConfig } from '../config/config';
import type { Database } from '../db/schema';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import { type PruneRule, pruneRules } from './rules';

/**
 * The retention job: deletes what igconnect no longer keeps (rules.ts), table by table, in batches of
 * `batchSize` rows with a pause between batches, so other writers (requests, the keeper, the relay) get
 * the database's writer in between. Keeper processes run it every `intervalMs`, one instance per interval
 * across the deployment: the run is claimed with a conditional UPDATE of the job's `housekeeping` row,
 * as the daily self-check claims its own (src/incidents/canary.ts). `npm run cli -- prune` runs it now.
 */
export const RETENTION_JOB = 'retention';

export interface PruneSummary {
  at: number;
  /** Rows deleted per table, every table of the run named (0 included). */
  deleted: Record<string, number>;
  batches: number;
  /** Stopped early (shutdown or Ctrl-C): the next run picks up what is left. */
  interrupted: boolean;
}

const HOUR_MS = 3_600_000;
/** Between two batches: long enough for a waiting writer to take the lock, short enough to clear a backlog. */
const DEFAULT_PAUSE_MS = 20;

export class Retention {
  private lastLook = Number.NEGATIVE_INFINITY;
  private stopping = false;
  private running: Promise<PruneSummary> | undefined;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      clock: Clock;
      logger: Logger;
      settings: RetentionConfig;
      pauseMs?: number;
    },
  ) {}

  /**
   * Runs the job when this process has not looked within the interval (at most hourly) and no other
   * instance ran it within the interval. Cheap otherwise: no statement.
   */
  async runIfDue(): Promise<void> {
    const { clock, settings, db } = this.deps;
    if (settings.intervalMs === 0 || this.stopping) return;
    const now = clock.now();
    if (now - this.lastLook < Math.min(settings.intervalMs, HOUR_MS)) return;
    this.lastLook = now;
    if (await claimRun(db, now, now - settings.intervalMs)) await this.run();
  }

  /** Runs every rule now, batch by batch; a run already under way in this process is joined. */
  run(options: { batchSize?: number; onBatch?: (table: string, deleted: number) => void } = {}): Promise<PruneSummary> {
    if (this.running) return this.running;
    this.running = this.prune(options).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** No batch starts after this; the batch under way finishes. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
  }

  private async prune(options: {
    batchSize?: number;
    onBatch?: (table: string, deleted: number) => void;
  }): Promise<PruneSummary> {
    const { db, clock, logger, settings } = this.deps;
    const limit = options.batchSize ?? settings.batchSize;
    const pauseMs = this.deps.pauseMs ?? DEFAULT_PAUSE_MS;
    const at = clock.now();
    const summary: PruneSummary = { at, deleted: {}, batches: 0, interrupted: false };
    const rules: PruneRule[] = pruneRules(db, settings, at);
    for (const rule of rules) {
      summary.deleted[rule.table] = 0;
      for (;;) {
        if (this.stopping) {
          summary.interrupted = true;
          break;
        }
        const { deleted, more } = await rule.batch(limit);
        summary.batches += 1;
        summary.deleted[rule.table] = (summary.deleted[rule.table] ?? 0) + deleted;
        options.onBatch?.(rule.table, deleted);
        if (!more) break;
        if (pauseMs > 0) await sleep(pauseMs);
      }
      if (summary.interrupted) break;
    }
    await ensureRow(db);
    await db
      .updateTable('housekeeping')
      .set({ report: JSON.stringify(summary) })
      .where('job', '=', RETENTION_JOB)
      .execute();
    logger.info(
      { ...summary.deleted, batches: summary.batches, interrupted: summary.interrupted },
      'retention: pruned',
    );
    return summary;
  }
}

/** Claims this interval's run: true for exactly one caller while the last run is older than `ranBefore`. */
async function claimRun(db: Kysely<Database>, now: number, ranBefore: number): Promise<boolean> {
  await ensureRow(db);
  const result = await db
    .updateTable('housekeeping')
    .set({ ran_at: now })
    .where('job', '=', RETENTION_JOB)
    .where((eb) => eb.or([eb('ran_at', 'is', null), eb('ran_at', '<=', ranBefore)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

async function ensureRow(db: Kysely<Database>): Promise<void> {
  await db
    .insertInto('housekeeping')
    .values({ job: RETENTION_JOB, ran_at: null, report: null })
    .onConflict((oc) => oc.column('job').doNothing())
    .execute();
}

/** The last run's summary, as kept in the database (for `prune` and the operator); undefined before one. */
export async function lastRun(db: Kysely<Database>): Promise<PruneSummary | undefined> {
  const row = await db.selectFrom('housekeeping').select('report').where('job', '=', RETENTION_JOB).executeTakeFirst();
  if (!row?.report) return undefined;
  try {
    return JSON.parse(row.report) as PruneSummary;
  } catch {
    return undefined;
  }
}
