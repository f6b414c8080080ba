import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { createApiKey } from '../src/api/api-keys';
import { tokenAad } from '../src/connections/token-vault';
import type { Database } from '../src/db/schema';
import { PROJECT_ROOT } from '../src/shared/project-root';
import type { TokenCipher } from '../src/shared/token-cipher';
import type { BenchOptions } from './bench-options';
import { Browser } from './support/browser';
import { type ChildServer, round } from './support/child-process';
import { summariseProfile } from './support/cpu-profile';
import { type LoadRun, runLoad, summarise } from './support/load';
import { median, ratio } from './support/stats';

/**
 * `BENCH_ONLY=api`: the deployer's API under load, on the rig of a database target (igconnect and the
 * sandbox as child processes, a person's three connections made through the real flow).
 *
 * - Token reads: `GET /api/v1/connections/{id}/access-token` of a fresh token (no renewal due), as fast
 *   as igconnect answers: key check, per-key rate limit, the connection read and its token opened, the
 *   read recorded, the answer. Target: 2,000 req/s on SQLite on two cores. `GET /connections/{id}`
 *   alternates with it: the API's own cost per request, for comparison.
 * - The Graph proxy: `GET …/proxy/me` against `GET /me` sent straight to the same sandbox with the same
 *   token, alternating repetitions in the same run. Target: proxied ≥ 0.7 × direct. Beside them, two
 *   bare forwarders of the same call: one on node's HTTP server alone (the floor of any proxy on this rig)
 *   and one as the only route of a bare Express app (the floor of any proxy served by Express).
 */
type Json = Record<string, unknown>;

export interface ApiRig {
  app: ChildServer;
  sandbox: ChildServer;
  db: Kysely<Database>;
  cipher: TokenCipher;
  options: Pick<BenchOptions, 'warmupSeconds' | 'durationSeconds' | 'repetitions' | 'profileSeconds'>;
  /** Headers of a proxy in front of igconnect, when the rig has one. */
  proxyHeaders?: Record<string, string>;
  /** The authority that signed the sandbox's certificate, when it serves https. */
  ca?: Buffer;
  /** CPU profiles of igconnect under token reads and proxied calls, named with this prefix. */
  profilePrefix?: string;
  /**
   * Starts a bare forwarder to the sandbox (bench/servers/forwarder-server.ts): on node's HTTP server alone
   * (the floor of any proxy), or as the one route of a bare Express app (the floor of any proxy in Express).
   */
  startForwarder?: (framework: 'forwarder' | 'expressForwarder') => Promise<ChildServer>;
  /** autocannon connections, when the rig sets them per mode. */
  connections?: number;
}

const FIELDS = 'id,user_id,username,name,account_type';

export async function apiSection(rig: ApiRig, apiVersion: string, log: (message: string) => void): Promise<Json> {
  const connections = rig.connections ?? 16;
  const { key } = await createApiKey(rig.db, 'bench', Date.now());
  const row = await rig.db
    .selectFrom('connections')
    .selectAll()
    .where('status', '=', 'active')
    .orderBy('connected_at')
    .limit(1)
    .executeTakeFirstOrThrow();
  const token = rig.cipher.open({ keyId: row.token_key_id, ciphertext: row.token_ciphertext }, tokenAad(row.id));
  const ours = { authorization: `Bearer ${key}`, ...rig.proxyHeaders };
  const loadAverageAtStart = loadavg().map((l) => round(l, 2));

  // The sandbox may serve https with the run's own authority (the production-shaped mode).
  const browser = new Browser(rig.ca ? { ca: rig.ca } : {});
  const check = async (url: string, headers: Record<string, string>) => {
    const response = await browser.get(url, headers);
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${response.body}`);
    return response.body;
  };
  const tokenUrl = `${rig.app.url}/api/v1/connections/${row.id}/access-token`;
  const answered = JSON.parse(await check(tokenUrl, ours)) as { access_token: string };
  if (answered.access_token !== token) throw new Error('the token API answered another token than the stored one');
  const proxiedUrl = `${rig.app.url}/api/v1/connections/${row.id}/proxy/me?fields=${FIELDS}`;
  const directUrl = `${rig.sandbox.url}/graph/${apiVersion}/me?fields=${FIELDS}`;
  const direct = { authorization: `Bearer ${token}` };
  if ((await check(proxiedUrl, ours)) !== (await check(directUrl, direct))) {
    throw new Error('the proxied /me differs from the direct one');
  }

  /** Repetitions of each load, alternating, with each server's CPU time per request. */
  /** A load, and the server in front of the sandbox for it (igconnect unless named), whose CPU is counted. */
  type Load = { name: string; url: string; headers: Record<string, string>; front?: ChildServer };
  const measure = async (loads: Load[]) => {
    for (const load of loads) {
      await runLoad({ url: load.url, headers: load.headers, connections, durationSeconds: rig.options.warmupSeconds });
    }
    type Cpu = { app: number; front: number; sandbox: number };
    const runs = new Map(loads.map((l) => [l.name, [] as (LoadRun & { cpu: Cpu })[]]));
    for (let i = 0; i < rig.options.repetitions; i++) {
      for (const load of loads) {
        const front = load.front ?? rig.app;
        const before = { app: rig.app.cpuMs(), front: front.cpuMs(), sandbox: rig.sandbox.cpuMs() };
        const run = await runLoad({
          url: load.url,
          headers: load.headers,
          connections,
          durationSeconds: rig.options.durationSeconds,
        });
        const per = (now: number, then: number) => round((now - then) / Math.max(1, run.requests), 3);
        runs.get(load.name)?.push({
          ...run,
          cpu: {
            app: per(rig.app.cpuMs(), before.app),
            front: per(front.cpuMs(), before.front),
            sandbox: per(rig.sandbox.cpuMs(), before.sandbox),
          },
        });
      }
    }
    const out: Record<string, Json & { rps: number }> = {};
    for (const load of loads) {
      const list = runs.get(load.name) ?? [];
      out[load.name] = {
        ...summarise(list),
        cpuMsPerRequest: {
          igconnect: round(median(list.map((r) => r.cpu.app)), 3),
          ...(load.front ? { [load.front.name]: round(median(list.map((r) => r.cpu.front)), 3) } : {}),
          sandbox: round(median(list.map((r) => r.cpu.sandbox)), 3),
        },
      };
    }
    return out;
  };

  // Beside the token reads, the API's own floor in the same run: GET /connections/{id} (key check, rate
  // limit, one read, JSON), so the share of the token read itself shows.
  log('api: token reads (and GET /connections/{id} beside them)');
  const readsAndFloor = await measure([
    { name: 'connection', url: `${rig.app.url}/api/v1/connections/${row.id}`, headers: ours },
    { name: 'tokenReads', url: tokenUrl, headers: ours },
  ]);
  const reads = readsAndFloor.tokenReads as Json & { rps: number; p99: number };
  const floor = readsAndFloor.connection as Json & { rps: number };
  log(
    `api: token reads ${reads.rps} req/s, p99 ${reads.p99} ms, ${JSON.stringify(reads.cpuMsPerRequest)}; GET /connections/{id} ${floor.rps} req/s`,
  );

  log('api: proxied GET /me against direct calls (and bare forwarders beside them)');
  // Two floors beside igconnect: a forwarder on node's HTTP server alone, and the same forwarding as the one
  // route of a bare Express app (no key, limit, database or log), which no Express proxy can beat.
  const forwarder = await rig.startForwarder?.('forwarder');
  const expressForwarder = await rig.startForwarder?.('expressForwarder');
  const forwardedPath = `/graph/${apiVersion}/me?fields=${FIELDS}`;
  let both: Awaited<ReturnType<typeof measure>>;
  try {
    for (const front of [forwarder, expressForwarder]) {
      if (front && (await check(`${front.url}${forwardedPath}`, direct)) !== (await check(directUrl, direct))) {
        throw new Error(`the ${front.name}'s /me differs from the direct one`);
      }
    }
    both = await measure([
      { name: 'direct', url: directUrl, headers: direct },
      { name: 'proxied', url: proxiedUrl, headers: ours },
      ...(forwarder
        ? [{ name: 'forwarded', url: `${forwarder.url}${forwardedPath}`, headers: direct, front: forwarder }]
        : []),
      ...(expressForwarder
        ? [
            {
              name: 'expressForwarded',
              url: `${expressForwarder.url}${forwardedPath}`,
              headers: direct,
              front: expressForwarder,
            },
          ]
        : []),
    ]);
  } finally {
    await forwarder?.stop();
    await expressForwarder?.stop();
  }
  const proxyRatio = ratio(both.proxied?.rps ?? 0, both.direct?.rps ?? 1);
  const forwarderRatio = both.forwarded ? ratio(both.forwarded.rps, both.direct?.rps ?? 1) : undefined;
  const expressRatio = both.expressForwarded ? ratio(both.expressForwarded.rps, both.direct?.rps ?? 1) : undefined;
  log(
    `api: proxied ${both.proxied?.rps} req/s, direct ${both.direct?.rps} req/s, ratio ${proxyRatio}` +
      (forwarderRatio !== undefined ? `; bare forwarder ${both.forwarded?.rps} req/s, ratio ${forwarderRatio}` : '') +
      (expressRatio !== undefined
        ? `; bare Express forwarder ${both.expressForwarded?.rps} req/s, ratio ${expressRatio}`
        : ''),
  );

  // Where igconnect's time goes on each: inspector profiles, self time by module, per request served.
  const profiles: Json = {};
  if (rig.profilePrefix !== undefined) {
    const dir = join(PROJECT_ROOT, 'bench', 'results', 'profiles');
    mkdirSync(dir, { recursive: true });
    for (const [name, url] of [
      ['tokenReads', tokenUrl],
      ['connection', `${rig.app.url}/api/v1/connections/${row.id}`],
      ['proxied', proxiedUrl],
    ] as const) {
      log(`api: profile of ${name}`);
      const file = join(dir, `${rig.profilePrefix}-api-${name}.cpuprofile`);
      const cpu0 = rig.app.cpuMs();
      await rig.app.call('profileStart');
      const run = await runLoad({ url, headers: ours, connections, durationSeconds: rig.options.profileSeconds });
      await rig.app.call('profileStop', { file });
      const cpuMs = rig.app.cpuMs() - cpu0;
      const summary = summariseProfile(file, { served: run.requests, cpuMs });
      profiles[name] = {
        ...summary,
        served: run.requests,
        cpuMsPerServed: round(cpuMs / Math.max(1, run.requests), 3),
        busyMsPerServed: round(summary.totalMs / Math.max(1, run.requests), 3),
      };
    }
  }

  return {
    loadConnections: connections,
    loadAverageAtStart,
    loadAverageAtEnd: loadavg().map((l) => round(l, 2)),
    tokenReads: { ...reads, target: '>= 2000 req/s (SQLite, two cores)', met: reads.rps >= 2000 },
    getConnection: floor,
    tokenReadsToGetConnection: ratio(reads.rps, floor.rps),
    graphProxy: {
      request: `GET /me?fields=${FIELDS}`,
      direct: both.direct,
      proxied: both.proxied,
      throughputRatio: proxyRatio,
      addedP50Ms: round(Number(both.proxied?.p50) - Number(both.direct?.p50), 2),
      ...(both.forwarded
        ? {
            // A bare forwarder (no key, limit, database or log) on the same rig: the floor of any proxy here.
            forwarded: both.forwarded,
            forwarderThroughputRatio: forwarderRatio,
            proxiedToForwarded: ratio(both.proxied?.rps ?? 0, both.forwarded.rps),
          }
        : {}),
      ...(both.expressForwarded
        ? {
            // The same forwarding as the one route of a bare Express app: the floor of any proxy in Express.
            expressForwarded: both.expressForwarded,
            expressForwarderThroughputRatio: expressRatio,
            proxiedToExpressForwarded: ratio(both.proxied?.rps ?? 0, both.expressForwarded.rps),
          }
        : {}),
      target: '>= 0.7',
      met: proxyRatio >= 0.7,
    },
    ...(rig.profilePrefix !== undefined ? { profiles } : {}),
  };
}
