import autocannon from 'autocannon';
import { round } from './child-process';
import { median, percentile } from './stats';

/** One run of a load generator against one URL: throughput and latency in milliseconds. */
export interface LoadRun {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

export interface LoadSummary extends LoadRun {
  /** Each repetition; the summary fields are their medians. */
  runs: LoadRun[];
}

export interface HttpLoad {
  url: string;
  headers: Record<string, string>;
  connections: number;
  durationSeconds: number;
  /** Requests per second across all connections; unset: as fast as the server answers. */
  overallRate?: number;
}

function toRun(result: autocannon.Result): LoadRun {
  return {
    rps: round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** Fixed-duration autocannon run (keep-alive connections, one request in flight on each). */
export async function runLoad(load: HttpLoad): Promise<LoadRun> {
  const result = await autocannon({
    url: load.url,
    headers: load.headers,
    connections: load.connections,
    duration: load.durationSeconds,
    timeout: 10,
    ...(load.overallRate ? { overallRate: load.overallRate } : {}),
  });
  return toRun(result);
}

/**
 * Load that runs until `until` settles (bounded by maxSeconds): measures a page while something else
 * (a keeper sweep) runs. Returns the run and the value `until` produced.
 */
export async function runLoadDuring<T>(
  load: Omit<HttpLoad, 'durationSeconds'> & { maxSeconds: number },
  until: () => Promise<T>,
): Promise<{ run: LoadRun; value: T }> {
  let resolveResult: (result: autocannon.Result) => void = () => undefined;
  const finished = new Promise<autocannon.Result>((resolve) => (resolveResult = resolve));
  const instance = autocannon(
    {
      url: load.url,
      headers: load.headers,
      connections: load.connections,
      duration: load.maxSeconds,
      timeout: 10,
      ...(load.overallRate ? { overallRate: load.overallRate } : {}),
    },
    (error, result) => {
      if (error) throw error;
      resolveResult(result);
    },
  );
  const value = await until();
  instance.stop();
  return { run: toRun(await finished), value };
}

export function summarise(runs: LoadRun[]): LoadSummary {
  const pick = (key: keyof LoadRun) => median(runs.map((r) => r[key]));
  return {
    rps: round(pick('rps')),
    p50: pick('p50'),
    p99: pick('p99'),
    requests: pick('requests'),
    non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    runs,
  };
}

export interface LoopRun {
  perSecond: number;
  count: number;
  failures: number;
  p50: number;
  p99: number;
  seconds: number;
  firstError?: string;
}

/**
 * Runs `task` with `concurrency` in flight until `seconds` have passed or `maxCount` tasks started,
 * whichever comes first. Latency is per task (a whole flow), in milliseconds.
 */
export async function runLoop(
  task: (index: number) => Promise<void>,
  options: { concurrency: number; seconds: number; maxCount: number },
): Promise<LoopRun> {
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (performance.now() < deadline && next < options.maxCount) {
      const index = next++;
      const t0 = performance.now();
      try {
        await task(index);
        latencies.push(performance.now() - t0);
      } catch (error) {
        failures += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  return {
    perSecond: round(latencies.length / seconds),
    count: latencies.length,
    failures,
    p50: round(percentile(latencies, 50), 2),
    p99: round(percentile(latencies, 99), 2),
    seconds: round(seconds, 2),
    ...(firstError ? { firstError } : {}),
  };
}
