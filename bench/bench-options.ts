/**
 * What a bench run does, from BENCH_* variables (the bench is a tool beside the app: the app's own
 * settings still come only from src/config/config.ts, which the bench feeds through each child's env).
 *
 *   BENCH_QUICK=1               short runs for debugging the bench; results go to bench/results/scratch/
 *   BENCH_DATABASE_URL=postgres://…   also run every section on that (throwaway!) PostgreSQL database
 *   BENCH_ONLY=status,flow,…    sections to run (status, flow, scale, keeper, profile, startup)
 *   BENCH_APP_<NAME>=value      passed to igconnect as <NAME>=value (e.g. to switch a rate limit off)
 */
export interface BenchOptions {
  quick: boolean;
  sections: Set<string>;
  warmupSeconds: number;
  durationSeconds: number;
  repetitions: number;
  /** autocannon connections for page loads. */
  connections: number;
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
}

const ALL_SECTIONS = ['status', 'flow', 'scale', 'keeper', 'profile', 'startup', 'api'];

export function benchOptions(env: NodeJS.ProcessEnv): BenchOptions {
  const quick = env.BENCH_QUICK === '1';
  const appEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('BENCH_APP_') && value !== undefined) appEnv[name.slice('BENCH_APP_'.length)] = value;
  }
  const only = env.BENCH_ONLY?.split(',').map((s) => s.trim());
  return {
    quick,
    sections: new Set(only ?? ALL_SECTIONS),
    warmupSeconds: quick ? 1 : 3,
    durationSeconds: quick ? 2 : 5,
    repetitions: quick ? 1 : 3,
    connections: 16,
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
  };
}
