import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/config';
import { createContainer } from '../../src/main/container';
import type { HttpClient, HttpResponse } from '../../src/shared/http-client';
import { round } from '../support/child-process';
import { median } from '../support/stats';

/**
 * `node dist/bench/micro/provider-watch.js`: what the provider watch (src/incidents) and the metrics add
 * to one keeper action and one proxied API request that succeed, in CPU time. The watch runs for real on
 * an SQLite file (its one-second state cache, its success counts flushed to the database every 5 s); the
 * provider's answer is a fixed in-memory one carrying Meta's usage header, so that only the bookkeeping is
 * timed, not the network. Per keeper action: the usage header read through `clientFor`, `succeeded`, the
 * keeper's `holdsOff` look, the metrics counters. Per API request: the proxy's pause look, the same, and
 * the request counter. Each variant is taken in turns with the bare call, many rounds.
 */
const ROUNDS = Number(process.env.MICRO_ROUNDS ?? '12');
const OPS = Number(process.env.MICRO_OPS ?? '20000');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'igconnect-micro-watch-'));
  const env = {
    NODE_ENV: 'test',
    PUBLIC_URL: 'http://127.0.0.1:3999',
    DATABASE_URL: `sqlite:${join(dir, 'igconnect.db')}`,
    SESSION_SECRET: randomBytes(48).toString('base64'),
    TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    METRICS_TOKEN: 'x'.repeat(40),
  };
  const container = await createContainer(loadConfig(env));
  const { watch, metrics, providers, clock } = container;
  const provider = providers.find('instagram');
  if (!watch || !metrics || !provider) throw new Error('expected the watch, metrics and the instagram provider');
  const headers = new Headers({ 'x-app-usage': JSON.stringify({ call_count: 1, total_cputime: 1, total_time: 1 }) });
  const answer: HttpResponse = { status: 200, headers, text: '{}' };
  const bare: HttpClient = async () => answer;
  // The watch's client wraps the container's; here it wraps the fixed answer instead.
  (watch as unknown as { deps: { http: HttpClient } }).deps.http = bare;
  (watch as unknown as { clients: Map<string, HttpClient> }).clients.clear();
  const request = { method: 'GET' as const, url: 'https://graph.instagram.com/v25.0/me' };
  await watch.snapshot('instagram');

  const variants: Record<string, () => Promise<void>> = {
    'bare call': async () => {
      await bare(request);
    },
    'keeper action bookkeeping': async () => {
      const started = clock.now();
      watch.holdsOff('instagram', started);
      await watch.clientFor(provider)(request);
      await watch.succeeded('instagram', started);
      metrics.observeStep({ provider: 'instagram', action: 'validate', outcome: 'ok', reason: 'ok' });
      metrics.observeProviderCall({
        method: 'GET',
        target: 'graph.instagram.com/v25.0/me',
        status: 200,
        seconds: 0.05,
      });
    },
    'API request bookkeeping': async () => {
      const started = clock.now();
      await watch.pauseLeftMs('instagram', started);
      await watch.clientFor(provider)(request);
      await watch.succeeded('instagram', started);
      metrics.observeProviderCall({
        method: 'GET',
        target: 'graph.instagram.com/v25.0/me',
        status: 200,
        seconds: 0.05,
      });
      metrics.observeRequest({
        method: 'GET',
        route: '/api/v1/connections/:id/proxy{/*path}',
        status: 200,
        seconds: 0.01,
      });
    },
  };
  const cpu = new Map<string, number[]>();
  let flushes = 0;
  let flushMs = 0;
  for (let r = 0; r < ROUNDS; r += 1) {
    for (const [name, run] of Object.entries(variants)) {
      const start = process.cpuUsage();
      for (let i = 0; i < OPS; i += 1) await run();
      const used = process.cpuUsage(start);
      cpu.set(name, [...(cpu.get(name) ?? []), (used.user + used.system) / 1000 / OPS]);
      // What the 5-second flush costs, paid once for however many successes were counted meanwhile.
      const started = performance.now();
      await watch.flush();
      flushMs += performance.now() - started;
      flushes += 1;
    }
  }
  const floor = median(cpu.get('bare call') ?? []);
  for (const [name, values] of cpu) {
    const ms = median(values);
    process.stdout.write(
      `${name}: ${round(ms * 1000, 2)} µs CPU per operation (${round((ms - floor) * 1000, 2)} µs above the bare call)\n`,
    );
  }
  process.stdout.write(
    `flush of the counted successes: ${round(flushMs / flushes, 3)} ms wall each (once every 5 s per process)\n`,
  );
  await container.close();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
