/**
 * What a bench run does, from BENCH_* variables (the bench is a tool beside the app: the app's own
 * settings still come only from src/config/config.ts, which the bench feeds through each child's env).
 *
 *   BENCH_QUICK=1               short runs for debugging the bench; results go to bench/results/scratch/
 *   BENCH_SECONDS, BENCH_REPETITIONS   override the measured seconds and repetitions of each load (for
 *                               before/after rounds of one change, run alternately from two builds)
 *   BENCH_DATABASE_URL=postgres://…   also run every section on that (throwaway!) PostgreSQL database
 *   BENCH_ONLY=status,flow,…    sections to run (status, flow, scale, keeper, profile, startup; and heap,
 *                               which is only run when named: heap snapshots of the web process in a sweep)
 *   BENCH_MODE=loopback,production   modes to run, both by default: loopback (development settings, plain
 *                               http everywhere) and production (NODE_ENV=production behind a TLS proxy,
 *                               Instagram's endpoints over https); see BENCHMARKS.md
 *   BENCH_APP_<NAME>=value      passed to igconnect as <NAME>=value (e.g. to switch a rate limit off)
 *   BENCH_EVENTS=1              signed events on: a receiver in the bench process, the relay running in
 *                               igconnect's process beside the keeper's sweeps (as the web process runs it)
 */
export type BenchMode = 'loopback' | 'production';

export interface BenchOptions {
  quick: boolean;
  sections: Set<string>;
  modes: BenchMode[];
  warmupSeconds: number;
  durationSeconds: number;
  repetitions: number;
  /** autocannon connections for page loads, per mode (the production-shaped mode loads as the measure did). */
  connections: Record<BenchMode, number>;
  /** Keep-alive the sandbox hints in the production-shaped mode, and the short one measured beside it. */
  sandboxKeepAliveMs: number;
  shortKeepAliveMs: number;
  /** Connect flows in flight at once. */
  flowConcurrency: number;
  /** Bound on flows per measured run, whatever the duration. */
  maxFlowsPerRun: number;
  totalConnections: number;
  dueConnections: number;
  smallScale: number;
  /** Keeper concurrency for the sweep under status-page load (the app's default is 4). */
  keeperConcurrency: number;
  /** Concurrencies of the sweeps run alone. */
  keeperConcurrencies: number[];
  /** The paced status-page load around the in-web sweep, as a fraction of the page's measured ceiling. */
  pacedFraction: number;
  profileSeconds: number;
  startupRuns: number;
  postgresUrl: string | undefined;
  /** Extra environment for igconnect (BENCH_APP_*, prefix removed). */
  appEnv: Record<string, string>;
  /** Signed events delivered to a receiver in the bench process while igconnect runs. */
  events: boolean;
}

const ALL_SECTIONS = ['status', 'flow', 'scale', 'keeper', 'profile', 'startup', 'api'];

export function benchOptions(env: NodeJS.ProcessEnv): BenchOptions {
  const quick = env.BENCH_QUICK === '1';
  const appEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('BENCH_APP_') && value !== undefined) appEnv[name.slice('BENCH_APP_'.length)] = value;
  }
  const only = env.BENCH_ONLY?.split(',').map((s) => s.trim());
  const modes = (env.BENCH_MODE ?? 'loopback,production').split(',').map((s) => s.trim());
  for (const mode of modes) {
    if (mode !== 'loopback' && mode !== 'production') throw new Error(`BENCH_MODE: unknown mode "${mode}"`);
  }
  return {
    quick,
    sections: new Set(only ?? ALL_SECTIONS),
    modes: modes as BenchMode[],
    warmupSeconds: quick ? 1 : 3,
    durationSeconds: Number(env.BENCH_SECONDS ?? (quick ? 2 : 5)),
    repetitions: Number(env.BENCH_REPETITIONS ?? (quick ? 1 : 3)),
    connections: { loopback: 16, production: 32 },
    sandboxKeepAliveMs: 10_000,
    shortKeepAliveMs: 1_000,
    flowConcurrency: 16,
    maxFlowsPerRun: 20_000,
    totalConnections: quick ? 20_000 : 100_000,
    dueConnections: quick ? 2_000 : 10_000,
    smallScale: 1_000,
    keeperConcurrency: Number(env.BENCH_KEEPER_CONCURRENCY ?? '4'),
    keeperConcurrencies: [4, 16],
    pacedFraction: 0.25,
    profileSeconds: quick ? 2 : 5,
    startupRuns: quick ? 2 : 5,
    postgresUrl: env.BENCH_DATABASE_URL || undefined,
    appEnv,
    events: env.BENCH_EVENTS === '1',
  };
}
