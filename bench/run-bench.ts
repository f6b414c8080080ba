import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { CompiledQuery, type Kysely } from 'kysely';
import { type Config, loadConfig } from '../src/config/config';
import { createDb } from '../src/db/create-db';
import type { Database } from '../src/db/schema';
import { migrateToLatest } from '../src/db/migrate';
import { DAY } from '../src/shared/clock';
import { PROJECT_ROOT } from '../src/shared/project-root';
import { TokenCipher } from '../src/shared/token-cipher';
import { type BenchMode, type BenchOptions, benchOptions } from './bench-options';
import { Browser, connectFlow, type Network, PROXY_HEADERS, sandboxOnlyFlow } from './support/browser';
import { ChildServer, processMemory, round } from './support/child-process';
import { apiSection } from './api-section';
import { summariseAllocations } from './support/allocation-profile';
import { type ProfileSummary, summariseProfile } from './support/cpu-profile';
import { freePort } from './support/free-port';
import { summariseHeapSnapshot } from './support/heap-snapshot';
import { type LoadSummary, type LoopRun, runLoad, runLoadDuring, runLoop, summarise } from './support/load';
import { countConnections, countDue, seedConnections } from './support/seed';
import { median, ratio } from './support/stats';
import { startEventsReceiver } from './support/events-receiver';
import { makeTlsMaterial, type TlsMaterial } from './support/tls';

/**
 * `npm run bench`: igconnect against the limit, as ratios to a baseline measured in the same run.
 * Every server is a child process on loopback; the load generator runs here. See BENCHMARKS.md.
 */

const DIST = join(PROJECT_ROOT, 'dist');

/**
 * The V8 flags `npm start` gives the web process (`node <flags> dist/src/main/web.js` in package.json),
 * given to igconnect's processes here through NODE_OPTIONS so that the bench measures what a deployment
 * runs; BENCH_APP_NODE_OPTIONS replaces them.
 */
function startFlags(): string {
  const scripts = (
    JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  const match = /^node((?: --[\w-]+(?:=\S+)?)*) dist\//.exec(scripts.start ?? '');
  return (match?.[1] ?? '').trim();
}
const APP_ID = '1234567890123';
const APP_SECRET = 'bench-instagram-app-secret';
const API_VERSION = 'v25.0';
const SANDBOX_ACCOUNTS = 32;
/** igconnect's public origin in the production-shaped mode: a TLS proxy's, which the bench plays (see Network). */
const PUBLIC_ORIGIN = 'https://igconnect.bench.test';

type Json = Record<string, unknown>;

/** Sections that failed in this run (each is recorded in the results as `{ failed }`). */
const failedSections: string[] = [];

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

interface Target {
  name: 'sqlite' | 'postgres';
  databaseUrl: string;
  dir: string;
}

/** Everything one database target needs while it runs, in one mode. */
interface Rig {
  target: Target;
  mode: BenchMode;
  options: BenchOptions;
  /** Where people reach igconnect: its loopback address, or the proxy's https origin in production mode. */
  publicUrl: string;
  network: Network;
  /** Headers every request to igconnect or the baseline carries (the proxy's, in production mode). */
  proxyHeaders: Record<string, string>;
  /** autocannon connections for the status page in this mode. */
  connections: number;
  /** igconnect's log file (its stdout, written by pino as in a deployment). */
  logFile: string;
  appEnv: Record<string, string>;
  config: Config;
  db: Kysely<Database>;
  cipher: TokenCipher;
  sandbox: ChildServer;
  app: ChildServer;
  baseline: ChildServer;
  /** Session cookie of a user with 3 connections made through the real connect flow. */
  cookie: string;
  accounts: string[];
}

async function main(): Promise<void> {
  const options = benchOptions(process.env);
  const results: Json = {
    startedAt: new Date().toISOString(),
    commit: commit(),
    machine: machine(),
    options: { ...options, sections: [...options.sections], postgresUrl: options.postgresUrl ? '(set)' : undefined },
  };
  if (!options.postgresUrl) results.postgres = { skipped: 'BENCH_DATABASE_URL is not set' };
  const tls = options.modes.includes('production') ? makeTlsMaterial() : undefined;
  try {
    // One fresh database per target and mode; results under `sqlite`, `sqlite-production`, `postgres`, …
    for (const mode of options.modes) {
      for (const name of options.postgresUrl ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const)) {
        const dir = mkdtempSync(join(tmpdir(), `igconnect-bench-${name}-`));
        const target: Target = {
          name,
          databaseUrl: name === 'sqlite' ? `sqlite:${join(dir, 'igconnect.db')}` : (options.postgresUrl ?? ''),
          dir,
        };
        const key = mode === 'loopback' ? name : `${name}-production`;
        try {
          results[key] = await runTarget(target, mode, options, tls);
        } catch (error) {
          if (name === 'sqlite') {
            // Recorded, and the other modes still run; the run fails once its file is written.
            const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
            log(`${key} failed: ${message}`);
            results[key] = { failed: message };
            failedSections.push(key);
            continue;
          }
          results[key] = { skipped: error instanceof Error ? error.message : String(error) };
          log(`${key} skipped: ${String((results[key] as Json).skipped)}`);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
  } finally {
    if (tls) rmSync(tls.dir, { recursive: true, force: true });
  }
  if (options.sections.has('startup')) results.startup = await startup(options);
  results.finishedAt = new Date().toISOString();
  results.loadAverageAtEnd = loadavg().map((l) => round(l, 2));

  const dir = join(PROJECT_ROOT, 'bench', 'results', ...(options.quick ? ['scratch'] : []));
  mkdirSync(dir, { recursive: true });
  if (failedSections.length > 0) results.failedSections = failedSections;
  const file = join(dir, `bench-${String(results.startedAt).replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`results written to ${file}`);
  if (failedSections.length > 0) throw new Error(`sections failed: ${failedSections.join(', ')}`);
}

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'views', 'bench'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
    });
    return dirty.trim() === '' ? head : `${head} (with uncommitted changes)`;
  } catch {
    return 'unknown';
  }
}

function machine(): Json {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: round(totalmem() / 1024 ** 3, 1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverageAtStart: loadavg().map((l) => round(l, 2)),
  };
}

async function runTarget(
  target: Target,
  mode: BenchMode,
  options: BenchOptions,
  tls: TlsMaterial | undefined,
): Promise<Json> {
  log(`target ${target.name}, ${mode} mode`);
  const production = mode === 'production';
  if (production && !tls) throw new Error('the production-shaped mode needs its TLS material');
  const [sandboxPort, appPort, baselinePort] = [await freePort(), await freePort(), await freePort()];
  const appUrl = `http://127.0.0.1:${appPort}`;
  const sandboxUrl = `${production ? 'https' : 'http'}://127.0.0.1:${sandboxPort}`;
  const publicUrl = production ? PUBLIC_ORIGIN : appUrl;
  const receiver = options.events ? await startEventsReceiver(production ? tls : undefined) : undefined;
  // igconnect as against the real Instagram ("live" mode), pointed at the sandbox in its own process.
  // Production-shaped: what a deployment sets (the configuration refuses the sandbox and http URLs there),
  // behind a proxy on the same host that terminates TLS, with Instagram's endpoints over https.
  const appEnv: Record<string, string> = {
    NODE_ENV: production ? 'production' : 'development',
    PORT: String(appPort),
    PUBLIC_URL: publicUrl,
    ...(production && tls ? { TRUST_PROXY: 'loopback', NODE_EXTRA_CA_CERTS: tls.caFile } : {}),
    DATABASE_URL: target.databaseUrl,
    SESSION_SECRET: randomBytes(36).toString('base64url'),
    TOKEN_ENCRYPTION_KEYS: `b1:${randomBytes(32).toString('base64')}`,
    INSTAGRAM_APP_ID: APP_ID,
    INSTAGRAM_APP_SECRET: APP_SECRET,
    INSTAGRAM_AUTHORIZE_URL: `${sandboxUrl}/oauth/authorize`,
    INSTAGRAM_TOKEN_URL: `${sandboxUrl}/oauth/access_token`,
    INSTAGRAM_GRAPH_URL: `${sandboxUrl}/graph`,
    INSTAGRAM_API_VERSION: API_VERSION,
    LOG_LEVEL: 'info',
    KEEPER_IN_WEB: 'false',
    // Every bench flow comes from 127.0.0.1, which per-address limits would refuse by design: keep the
    // limiter counting (its cost stays in the figures) with a limit the run never reaches.
    RATE_LIMIT_START: '1000000',
    RATE_LIMIT_CALLBACK: '1000000',
    API_RATE_LIMIT_PER_MINUTE: '10000000',
    NODE_OPTIONS: startFlags(),
    ...(receiver
      ? { EVENTS_WEBHOOK_URL: receiver.url, EVENTS_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}` }
      : {}),
    ...options.appEnv,
  };
  const config = loadConfig(appEnv);
  const db = createDb(config.database);
  await migrateToLatest(db);
  if (target.name === 'postgres') await emptyDatabase(db);
  const cipher = new TokenCipher(config.encryptionKeys);

  const sandbox = await ChildServer.start('sandbox', join(DIST, 'bench/servers/sandbox-server.js'), {
    env: {
      SANDBOX_PORT: String(sandboxPort),
      SANDBOX_CLIENT_ID: APP_ID,
      SANDBOX_CLIENT_SECRET: APP_SECRET,
      SANDBOX_REDIRECT_URI: config.providers.instagram!.redirectUri,
      SANDBOX_ACCOUNTS: String(SANDBOX_ACCOUNTS),
      ...(production && tls
        ? {
            SANDBOX_TLS_CERT: tls.certFile,
            SANDBOX_TLS_KEY: tls.keyFile,
            SANDBOX_KEEP_ALIVE_MS: String(options.sandboxKeepAliveMs),
          }
        : {}),
    },
  });
  const logFile = join(target.dir, 'igconnect.log');
  const app = await startApp(appEnv, target.dir, logFile);
  const baseline = await ChildServer.start('baseline', join(DIST, 'bench/servers/baseline-server.js'), {
    env: {
      ...(production ? { NODE_ENV: 'production', BASELINE_BEHIND_PROXY: '1' } : {}),
      BASELINE_PORT: String(baselinePort),
      BASELINE_DATABASE_URL:
        target.name === 'sqlite' ? `sqlite:${join(target.dir, 'baseline.db')}` : target.databaseUrl,
      BASELINE_SESSION_SECRET: randomBytes(36).toString('base64url'),
    },
  });
  const accounts = await sandbox.call<string[]>('accounts');
  const network: Network = production
    ? { proxy: { origin: PUBLIC_ORIGIN, upstream: appUrl }, ca: readFileSync(tls?.caFile ?? '') }
    : {};

  // A person with three Instagram accounts, connected through the real flow in one browser.
  const person = new Browser(network);
  for (const account of accounts.slice(0, 3)) await connectFlow(person, publicUrl, account);
  const rig: Rig = {
    target,
    mode,
    options,
    publicUrl,
    network,
    proxyHeaders: production ? PROXY_HEADERS : {},
    connections: options.connections[mode],
    logFile,
    appEnv,
    config,
    db,
    cipher,
    sandbox,
    app,
    baseline,
    cookie: person.cookieHeader(),
    accounts,
  };
  const out: Json = {};
  // A section that fails is recorded as failed and the run goes on, so that one failure does not throw
  // away the minutes the other sections took; the run then exits with an error after writing its file.
  const section = async (name: string, run: () => Promise<Json>) => {
    try {
      out[name] = await run();
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`${name} failed: ${message}`);
      out[name] = { failed: message };
      failedSections.push(`${target.name}-${mode}: ${name}`);
    }
  };
  try {
    if (options.sections.has('status')) await section('statusPage', () => statusPage(rig));
    if (options.sections.has('flow')) await section('connectFlow', () => flows(rig));
    if (options.sections.has('scale') || options.sections.has('keeper') || options.sections.has('heap')) {
      await section('scale', () => scale(rig));
    }
    if (options.sections.has('keeper')) await section('keeper', () => keeper(rig));
    if (options.sections.has('heap')) await section('heap', () => heap(rig));
    if (options.sections.has('profile')) await section('profiles', () => profiles(rig));
    if (options.sections.has('api')) {
      await section('api', () =>
        apiSection(
          {
            ...rig,
            ca: network.ca,
            startForwarder: async (framework) =>
              ChildServer.start(framework, join(DIST, 'bench/servers/forwarder-server.js'), {
                env: {
                  FORWARDER_PORT: String(await freePort()),
                  FORWARDER_UPSTREAM: sandboxUrl,
                  FORWARDER_FRAMEWORK: framework === 'expressForwarder' ? 'express' : 'node',
                  ...(tls ? { NODE_EXTRA_CA_CERTS: tls.caFile } : {}),
                },
              }),
            ...(options.sections.has('profile') ? { profilePrefix: `${target.name}-${mode}` } : {}),
          },
          API_VERSION,
          log,
        ),
      );
    }
    out.appPeakRssMb = rig.app.memory().peakRssMb;
    out.sandboxPeakRssMb = rig.sandbox.memory().peakRssMb;
    out.logBytes = statSync(logFile).size;
    if (receiver) out.eventsDelivered = receiver.delivered();
  } finally {
    await Promise.all([rig.app.stop(), rig.sandbox.stop(), rig.baseline.stop()]);
    await receiver?.close();
    await db.destroy();
  }
  return { mode, publicUrl, sandboxUrl, ...out };
}

async function startApp(appEnv: Record<string, string>, cwd: string, logFile: string): Promise<ChildServer> {
  // The child gets its own copy of the descriptor; pino writes each line to it as to a deployment's log file.
  const fd = openSync(logFile, 'a');
  try {
    return await ChildServer.start('igconnect', join(DIST, 'bench/servers/app-server.js'), {
      env: appEnv,
      cwd,
      stdout: fd,
    });
  } finally {
    closeSync(fd);
  }
}

/** Lines and bytes igconnect logged since `offset` of its log file. */
function logSince(rig: Rig, offset: number): { lines: number; bytes: number } {
  const text = readFileSync(rig.logFile).subarray(offset).toString('utf8');
  return { lines: text.split('\n').length - 1, bytes: Buffer.byteLength(text) };
}

async function emptyDatabase(db: Kysely<Database>): Promise<void> {
  for (const table of ['sessions', 'oauth_transactions', 'deletion_requests', 'connections', 'users'] as const) {
    await db.deleteFrom(table).execute();
  }
}

async function statusLoad(rig: Rig, seconds: number) {
  return runLoad({
    url: `${rig.app.url}/account`,
    headers: { cookie: rig.cookie, ...rig.proxyHeaders },
    connections: rig.connections,
    durationSeconds: seconds,
  });
}

async function statusReps(rig: Rig): Promise<LoadSummary & { cpuMsPerRequest: number }> {
  await statusLoad(rig, rig.options.warmupSeconds);
  const runs = [];
  const cpu: number[] = [];
  for (let i = 0; i < rig.options.repetitions; i++) {
    const cpu0 = rig.app.cpuMs();
    const run = await statusLoad(rig, rig.options.durationSeconds);
    cpu.push((rig.app.cpuMs() - cpu0) / run.requests);
    runs.push(run);
  }
  return { ...summarise(runs), cpuMsPerRequest: round(median(cpu), 3) };
}

// --- 1. status page vs baseline -------------------------------------------------------------------

async function statusPage(rig: Rig): Promise<Json> {
  log('status page vs baseline');
  const page = await new Browser(rig.network).get(`${rig.publicUrl}/account`, { cookie: rig.cookie });
  const connections = (page.body.match(/data-next-action=/g) ?? []).length;
  if (page.status !== 200 || connections !== 3)
    throw new Error(`status page: ${page.status}, ${connections} connections`);
  const bytes = Buffer.byteLength(page.body);

  const visitor = new Browser();
  await visitor.get(`${rig.baseline.url}/sign-in`, rig.proxyHeaders);
  const baselineBytes = await rig.baseline.call<number>('pageBytes', { bytes });
  const baselineCookie = visitor.cookieHeader();
  const check = await visitor.get(`${rig.baseline.url}/page`, rig.proxyHeaders);
  if (check.status !== 200 || Buffer.byteLength(check.body) !== bytes) {
    throw new Error(`baseline page: ${check.status}, ${Buffer.byteLength(check.body)} bytes, wanted ${bytes}`);
  }
  const baselineLoad = (seconds: number) =>
    runLoad({
      url: `${rig.baseline.url}/page`,
      headers: { cookie: baselineCookie, ...rig.proxyHeaders },
      connections: rig.connections,
      durationSeconds: seconds,
    });

  // Warm both, then alternate so that a change in machine load hits both sides alike.
  await baselineLoad(rig.options.warmupSeconds);
  await statusLoad(rig, rig.options.warmupSeconds);
  const base = [];
  const ours = [];
  // CPU time per request of each server: steadier than throughput when other work shares the machine.
  const baseCpu: number[] = [];
  const ourCpu: number[] = [];
  const logOffset = statSync(rig.logFile).size;
  for (let i = 0; i < rig.options.repetitions; i++) {
    let cpu0 = rig.baseline.cpuMs();
    const b = await baselineLoad(rig.options.durationSeconds);
    baseCpu.push((rig.baseline.cpuMs() - cpu0) / b.requests);
    base.push(b);
    cpu0 = rig.app.cpuMs();
    const o = await statusLoad(rig, rig.options.durationSeconds);
    ourCpu.push((rig.app.cpuMs() - cpu0) / o.requests);
    ours.push(o);
  }
  const logged = logSince(rig, logOffset);
  const ourRequests = ours.reduce((sum, run) => sum + run.requests, 0);
  const baseline = { ...summarise(base), cpuMsPerRequest: round(median(baseCpu), 3) };
  const igconnect = {
    ...summarise(ours),
    cpuMsPerRequest: round(median(ourCpu), 3),
    // Proof that logging was on, and what it wrote: one line per request is expected.
    logLinesPerRequest: round(logged.lines / Math.max(1, ourRequests), 3),
    logBytesPerRequest: round(logged.bytes / Math.max(1, ourRequests)),
  };
  const throughputRatio = ratio(igconnect.rps, baseline.rps);
  log(
    `status: igconnect ${igconnect.rps} rps (${igconnect.cpuMsPerRequest} ms CPU/req), baseline ${baseline.rps} rps (${baseline.cpuMsPerRequest} ms CPU/req), ratio ${throughputRatio}`,
  );
  return {
    pageBytes: bytes,
    baselinePageBytes: baselineBytes,
    connectionsOnPage: connections,
    loadConnections: rig.connections,
    igconnect,
    baseline,
    throughputRatio,
    p99Ratio: ratio(igconnect.p99, baseline.p99),
    cpuPerRequestRatio: ratio(igconnect.cpuMsPerRequest, baseline.cpuMsPerRequest),
    target: '>= 0.7 (issue 13; 0.8 in issue 7)',
    met: throughputRatio >= 0.7,
    p99Target: '<= 2',
    p99Met: ratio(igconnect.p99, baseline.p99) <= 2,
  };
}

// --- 2. the whole connect flow ---------------------------------------------------------------------

async function flows(rig: Rig): Promise<Json> {
  log('connect flow');
  const { options, accounts } = rig;
  const appFlow = (i: number) =>
    connectFlow(new Browser(rig.network), rig.publicUrl, accounts[i % accounts.length] ?? '');
  const sandboxFlow = (i: number) =>
    sandboxOnlyFlow(
      new Browser(rig.network),
      {
        url: rig.sandbox.url,
        clientId: APP_ID,
        clientSecret: APP_SECRET,
        redirectUri: rig.config.providers.instagram!.redirectUri,
        apiVersion: API_VERSION,
      },
      accounts[i % accounts.length] ?? '',
    );
  const loop = { concurrency: options.flowConcurrency, maxCount: options.maxFlowsPerRun };
  type SandboxConnections = Record<
    'igconnect' | 'browser',
    { connections: number; resumedSessions: number; requests: number }
  >;

  /**
   * Each variant is a task with the sandbox's keep-alive hint it runs under; variants alternate within
   * every repetition, so a change in machine load hits all of them.
   */
  const measure = async (variants: { name: string; task: (i: number) => Promise<void>; keepAliveMs?: number }[]) => {
    const setUp = async (keepAliveMs: number | undefined) => {
      if (keepAliveMs !== undefined) await rig.sandbox.call('keepAlive', { ms: keepAliveMs });
    };
    for (const variant of variants) {
      await setUp(variant.keepAliveMs);
      await runLoop(variant.task, { ...loop, seconds: options.warmupSeconds });
    }
    const runs = new Map(
      variants.map((v) => [v.name, [] as (LoopRun & { cpuMsPerFlow: Json; sandboxConnections: SandboxConnections })[]]),
    );
    for (let i = 0; i < options.repetitions; i++) {
      for (const variant of variants) {
        await setUp(variant.keepAliveMs);
        await rig.sandbox.call('connections');
        const before = { app: rig.app.cpuMs(), sandbox: rig.sandbox.cpuMs(), client: clientCpuMs() };
        const run = await runLoop(variant.task, { ...loop, seconds: options.durationSeconds });
        const per = (now: number, then: number) => round((now - then) / Math.max(1, run.count), 3);
        runs.get(variant.name)?.push({
          ...run,
          cpuMsPerFlow: {
            igconnect: per(rig.app.cpuMs(), before.app),
            sandbox: per(rig.sandbox.cpuMs(), before.sandbox),
            loadGenerator: per(clientCpuMs(), before.client),
          },
          // Connections the sandbox accepted during the run (each a TLS handshake over https), by client.
          sandboxConnections: await rig.sandbox.call<SandboxConnections>('connections'),
        });
      }
    }
    await setUp(variants.length > 1 ? options.sandboxKeepAliveMs : undefined);
    return Object.fromEntries(
      variants.map((variant) => {
        const list = runs.get(variant.name) ?? [];
        const cpu = (key: string) => round(median(list.map((r) => Number(r.cpuMsPerFlow[key]))), 3);
        const flowsDone = list.reduce((sum, r) => sum + r.count, 0);
        const igconnectSide = list.map((r) => r.sandboxConnections.igconnect);
        const total = (key: 'connections' | 'resumedSessions' | 'requests') =>
          igconnectSide.reduce((sum, c) => sum + c[key], 0);
        return [
          variant.name,
          {
            ...(variant.keepAliveMs !== undefined
              ? { sandboxKeepAliveHintSeconds: Math.floor(variant.keepAliveMs / 1000) }
              : {}),
            flowsPerSecond: round(median(list.map((r) => r.perSecond))),
            p50Ms: round(median(list.map((r) => r.p50)), 2),
            p99Ms: round(median(list.map((r) => r.p99)), 2),
            failures: list.reduce((sum, r) => sum + r.failures, 0),
            cpuMsPerFlow: { igconnect: cpu('igconnect'), sandbox: cpu('sandbox'), loadGenerator: cpu('loadGenerator') },
            // igconnect's calls to Instagram over all repetitions: how many opened a connection.
            igconnectToSandbox: {
              callsPerFlow: round(total('requests') / Math.max(1, flowsDone), 2),
              connectionsPerFlow: round(total('connections') / Math.max(1, flowsDone), 3),
              resumedSessions: total('resumedSessions'),
              connections: total('connections'),
              calls: total('requests'),
            },
            runs: list,
          },
        ];
      }),
    ) as Record<string, Json & { cpuMsPerFlow: Record<string, number>; flowsPerSecond: number }>;
  };

  const production = rig.mode === 'production';
  const measured = await measure(
    production
      ? [
          { name: 'full', task: appFlow, keepAliveMs: options.sandboxKeepAliveMs },
          { name: 'fullShortKeepAlive', task: appFlow, keepAliveMs: options.shortKeepAliveMs },
        ]
      : [{ name: 'full', task: appFlow }],
  );
  const full = measured.full as Json & { cpuMsPerFlow: Record<string, number>; flowsPerSecond: number };
  log(
    `flow: ${full.flowsPerSecond} flows/s, p99 ${String(full.p99Ms)} ms, cpu/flow ${JSON.stringify(full.cpuMsPerFlow)}`,
  );
  const short = measured.fullShortKeepAlive;
  if (short)
    log(`flow, 1 s keep-alive hint: ${short.flowsPerSecond} flows/s, cpu/flow ${JSON.stringify(short.cpuMsPerFlow)}`);
  const sandboxAlone = (await measure([{ name: 'alone', task: sandboxFlow }])).alone as Json;
  log(`sandbox alone: ${String(sandboxAlone.flowsPerSecond)} flows/s, p99 ${String(sandboxAlone.p99Ms)} ms`);
  const cpu = full.cpuMsPerFlow as { igconnect: number; sandbox: number; loadGenerator: number };
  const total = cpu.igconnect + cpu.sandbox + cpu.loadGenerator;
  return {
    concurrency: options.flowConcurrency,
    steps:
      'GET /auth/instagram -> GET sandbox consent -> POST consent -> GET callback (code exchange, long-lived exchange, /me, store) -> GET /account',
    full,
    ...(short ? { fullShortKeepAlive: short } : {}),
    sandboxAlone,
    cpuShareOfFlow: {
      igconnect: round((100 * cpu.igconnect) / total),
      sandbox: round((100 * cpu.sandbox) / total),
      loadGenerator: round((100 * cpu.loadGenerator) / total),
    },
    /** What two cores would give if igconnect alone used them (sandbox and client elsewhere). */
    igconnectCpuBoundFlowsPerSecondOnTwoCores: round(2000 / cpu.igconnect),
    target: '>= 200 flows/s (issue 7); igconnect CPU <= 8 ms per flow, <= 10 ms with a 1 s keep-alive hint (issue 13)',
    met: full.flowsPerSecond >= 200,
  };
}

function clientCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

// --- 4. scale: 1,000 vs 100,000 stored connections ----------------------------------------------------

async function scale(rig: Rig): Promise<Json> {
  const { options, db, cipher, config } = rig;
  const now = Date.now();
  const existing = await countConnections(db);
  log(`scale: seeding to ${options.smallScale} connections`);
  await seedConnections(db, cipher, config.lifecycle, {
    count: options.smallScale - existing,
    due: [],
    dueIssuedAt: 0,
    now,
    perUser: 3,
  });
  const small = await statusReps(rig);
  log(
    `scale ${options.smallScale}: ${small.rps} rps, p50 ${small.p50} ms, p99 ${small.p99} ms, ${small.cpuMsPerRequest} ms CPU/req`,
  );

  log(`scale: seeding to ${options.totalConnections} connections (${options.dueConnections} due)`);
  const dueIssuedAt = now - 51 * DAY;
  const tokens = await rig.sandbox.call<string[]>('mint', { count: options.dueConnections, issuedAt: dueIssuedAt });
  const seeded = await seedConnections(db, cipher, config.lifecycle, {
    count: options.totalConnections - options.smallScale,
    due: tokens,
    dueIssuedAt,
    now,
    perUser: 3,
  });
  const total = await countConnections(db);
  const due = await countDue(db, Date.now());
  log(`seeded ${total} connections (${due} due) in ${round(seeded.ms / 1000, 2)} s`);
  const large = await statusReps(rig);
  log(
    `scale ${total}: ${large.rps} rps, p50 ${large.p50} ms, p99 ${large.p99} ms, ${large.cpuMsPerRequest} ms CPU/req`,
  );
  return {
    queryPlans: rig.target.name === 'sqlite' ? await queryPlans(db) : 'EXPLAIN is shown for SQLite only',
    small: { connections: options.smallScale, status: small },
    large: { connections: total, due, seedSeconds: round(seeded.ms / 1000, 2), status: large },
    p50Ratio: ratio(large.p50, small.p50),
    p99Ratio: ratio(large.p99, small.p99),
    rpsRatio: ratio(large.rps, small.rps),
    cpuPerRequestRatio: ratio(large.cpuMsPerRequest, small.cpuMsPerRequest),
  };
}

/** SQLite's plan for each query of a status page and of a sweep's claim: all should name an index. */
async function queryPlans(db: Kysely<Database>): Promise<Record<string, string[]>> {
  const now = Date.now();
  const queries = {
    sessionBySid: db.selectFrom('sessions').select(['sess', 'expires_at']).where('sid', '=', 'x').compile(),
    userExists: db.selectFrom('users').select('id').where('id', '=', 'x').compile(),
    connectionsOfUser: db
      .selectFrom('connections')
      .selectAll()
      .where('user_id', '=', 'x')
      .orderBy('connected_at')
      .compile(),
    keeperClaimCandidates: db
      .selectFrom('connections')
      .select('id')
      .where('next_action_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .orderBy('next_action_at')
      .limit(100)
      .compile(),
  };
  const plans: Record<string, string[]> = {};
  for (const [name, query] of Object.entries(queries)) {
    const result = await db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`EXPLAIN QUERY PLAN ${query.sql}`, [...query.parameters]),
    );
    plans[name] = result.rows.map((row) => row.detail);
  }
  return plans;
}

// --- 3. keeper sweep -----------------------------------------------------------------------------

async function keeper(rig: Rig): Promise<Json> {
  const { options, db, config } = rig;
  type Sweep = { claimed: number; byOutcome: Record<string, number>; ms: number };

  // Sweeps alone run in a keeper process of its own (as `npm run worker`), so its memory is the keeper's.
  const worker = await ChildServer.start('keeper', join(DIST, 'bench/servers/keeper-server.js'), {
    env: rig.appEnv,
    cwd: rig.target.dir,
  });
  const sweeps: Json[] = [];
  try {
    for (const concurrency of options.keeperConcurrencies) {
      await reseedDue(rig);
      const idleRss = worker.memory().rssMb;
      worker.resetPeakMemory();
      const sampler = sampleRss(worker.pid);
      const cpu0 = worker.cpuMs();
      const sandboxCpu0 = rig.sandbox.cpuMs();
      const summary = await worker.call<Sweep>('sweep', { concurrency });
      const samples = sampler.stop();
      const ok = summary.byOutcome.ok ?? 0;
      const result = {
        process: 'keeper alone (npm run worker)',
        concurrency,
        claimed: summary.claimed,
        byOutcome: summary.byOutcome,
        seconds: round(summary.ms / 1000, 2),
        tokensPerSecond: round(ok / (summary.ms / 1000)),
        keeperCpuMsPerToken: round((worker.cpuMs() - cpu0) / Math.max(1, ok), 3),
        sandboxCpuMsPerToken: round((rig.sandbox.cpuMs() - sandboxCpu0) / Math.max(1, ok), 3),
        rssBeforeMb: idleRss,
        peakRssMb: Math.max(worker.memory().peakRssMb, ...samples),
        afterSweep: await worker.call<Json>('memoryUsage'),
      };
      log(`sweep c=${concurrency} (worker): ${result.tokensPerSecond} tokens/s, peak ${result.peakRssMb} MB`);
      sweeps.push(result);
    }
  } finally {
    await worker.stop();
  }

  // Then the default deployment (keeper inside the web process) under a paced status-page load: the
  // latency a person sees while a sweep runs, against the same paced load with no sweep.
  const ceiling = await statusLoad(rig, options.durationSeconds);
  const rate = Math.max(20, Math.round(ceiling.rps * options.pacedFraction));
  const paced = {
    url: `${rig.app.url}/account`,
    headers: { cookie: rig.cookie, ...rig.proxyHeaders },
    connections: 8,
    overallRate: rate,
  };
  const idleRuns = [];
  for (let i = 0; i < options.repetitions; i++) {
    idleRuns.push(await runLoad({ ...paced, durationSeconds: options.durationSeconds }));
  }
  const idle = summarise(idleRuns);
  await reseedDue(rig);
  const webRssBefore = rig.app.memory().rssMb;
  rig.app.resetPeakMemory();
  const sampler = sampleRss(rig.app.pid);
  const cpu0 = rig.app.cpuMs();
  const during = await runLoadDuring({ ...paced, maxSeconds: 120 }, () =>
    rig.app.call<Sweep>('sweep', { concurrency: options.keeperConcurrency }),
  );
  const samples = sampler.stop();
  const ok = during.value.byOutcome.ok ?? 0;
  const inWeb = {
    process: 'igconnect web process with the keeper inside (KEEPER_IN_WEB=true, the default)',
    concurrency: options.keeperConcurrency,
    claimed: during.value.claimed,
    byOutcome: during.value.byOutcome,
    seconds: round(during.value.ms / 1000, 2),
    tokensPerSecond: round(ok / (during.value.ms / 1000)),
    webCpuMsPerToken: round((rig.app.cpuMs() - cpu0) / Math.max(1, ok), 3),
    rssBeforeMb: webRssBefore,
    peakRssMb: Math.max(rig.app.memory().peakRssMb, ...samples),
    afterSweep: await rig.app.call<Json>('memoryUsage'),
    statusDuringSweep: during.run,
  };
  log(
    `sweep c=${options.keeperConcurrency} in web under ${rate} req/s: ${inWeb.tokensPerSecond} tokens/s, status p99 ${during.run.p99} ms (idle ${idle.p99} ms), peak ${inWeb.peakRssMb} MB`,
  );
  sweeps.push(inWeb);

  const alone = sweeps.find((s) => s.concurrency === options.keeperConcurrency) ?? inWeb;
  const peak = Math.max(...sweeps.map((s) => Number(s.peakRssMb)));
  return {
    connections: await countConnections(db),
    dueEachSweep: options.dueConnections,
    pacedStatusLoad: { requestsPerSecond: rate, connections: 8, ceilingRps: ceiling.rps },
    statusIdle: idle,
    sweeps,
    targets: {
      tokensPerSecond: { target: '>= 1000', value: alone.tokensPerSecond, met: Number(alone.tokensPerSecond) >= 1000 },
      peakRssMb: { target: '< 250', value: peak, met: peak < 250 },
      statusP99DuringSweepVsIdle: {
        target: '<= 2',
        value: ratio(during.run.p99, idle.p99),
        met: during.run.p99 <= 2 * idle.p99,
      },
    },
    settings: { batchSize: config.lifecycle.batchSize, leaseMs: config.lifecycle.leaseMs },
  };
}

/**
 * What the web process holds while its keeper sweeps (opt-in: BENCH_ONLY=heap). First a sweep under the
 * keeper section's paced status load, sampling V8's and the process's memory every 250 ms: where the peak
 * RSS sits (V8 spaces, external, the rest native). Then heap snapshots at idle and 3 s into a second
 * sweep, summarised by kind of object, and what grew between them.
 */
async function heap(rig: Rig): Promise<Json> {
  const { options } = rig;
  const dir = join(PROJECT_ROOT, 'bench', 'results', 'profiles');
  mkdirSync(dir, { recursive: true });
  const ceiling = await statusLoad(rig, options.durationSeconds);
  const rate = Math.max(20, Math.round(ceiling.rps * options.pacedFraction));
  const paced = {
    url: `${rig.app.url}/account`,
    headers: { cookie: rig.cookie, ...rig.proxyHeaders },
    connections: 8,
    overallRate: rate,
  };
  type Usage = Json & { rssMb: number };

  await reseedDue(rig);
  const idle = await rig.app.call<Usage>('memoryUsage');
  rig.app.resetPeakMemory();
  const samples: Usage[] = [];
  const cpu0 = rig.app.cpuMs();
  const during = await runLoadDuring({ ...paced, maxSeconds: 120 }, async () => {
    await rig.app.call('sweepStart', { concurrency: options.keeperConcurrency });
    let done = false;
    const result = rig.app.call<{ ms: number; byOutcome: Record<string, number> }>('sweepResult').finally(() => {
      done = true;
    });
    while (!done) {
      const { rssAnonMb, rssFileMb } = rig.app.memory();
      samples.push({ ...(await rig.app.call<Usage>('memoryUsage')), rssAnonMb, rssFileMb });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return result;
  });
  const webCpuMs = rig.app.cpuMs() - cpu0;
  const peakSample = samples.reduce((a, b) => (b.rssMb > a.rssMb ? b : a), samples[0] ?? idle);
  const peakRssMb = rig.app.memory().peakRssMb;
  log(`heap: sweep peak RSS ${peakRssMb} MB; at the highest sample ${JSON.stringify(peakSample)}`);

  await reseedDue(rig);
  const idleFile = join(dir, `${rig.target.name}-${rig.mode}-idle.heapsnapshot`);
  const sweepFile = join(dir, `${rig.target.name}-${rig.mode}-sweep.heapsnapshot`);
  await rig.app.call('heapSnapshot', { file: idleFile });
  await rig.app.call('sweepStart', { concurrency: options.keeperConcurrency });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const atSnapshot = await rig.app.call<Usage>('memoryUsage');
  await rig.app.call('heapSnapshot', { file: sweepFile });
  await rig.app.call('sweepResult');
  const idleHeap = summariseHeapSnapshot(idleFile, 200);
  const sweepHeap = summariseHeapSnapshot(sweepFile, 200);
  const before = new Map(idleHeap.top.map((e) => [e.name, e]));
  const grew = sweepHeap.top
    .map((e) => ({
      name: e.name,
      count: e.count - (before.get(e.name)?.count ?? 0),
      mb: round(e.mb - (before.get(e.name)?.mb ?? 0), 2),
    }))
    .sort((a, b) => b.mb - a.mb)
    .slice(0, 20);
  log(`heap: live heap ${idleHeap.totalMb} MB idle, ${sweepHeap.totalMb} MB 3 s into a sweep`);

  // A third sweep, alone, under V8's sampling heap profiler: what a refreshed token allocates, by module.
  await reseedDue(rig);
  const allocationFile = join(dir, `${rig.target.name}-${rig.mode}-sweep.heapprofile`);
  await rig.app.call('allocationStart');
  const sampled = await rig.app.call<{ byOutcome: Record<string, number> }>('sweep', {
    concurrency: options.keeperConcurrency,
  });
  await rig.app.call('allocationStop', { file: allocationFile });
  const allocations = summariseAllocations(allocationFile, { served: sampled.byOutcome.ok ?? 0 });
  log(`heap: a sweep allocates ${allocations.kbPerServed} KB per refreshed token`);
  return {
    pacedStatusLoad: { requestsPerSecond: rate, connections: 8 },
    nodeOptions: rig.appEnv.NODE_OPTIONS ?? '',
    sweep: {
      seconds: round(during.value.ms / 1000, 2),
      byOutcome: during.value.byOutcome,
      // The paced page load included, as in the keeper section's in-web sweep.
      webCpuMsPerToken: round(webCpuMs / Math.max(1, during.value.byOutcome.ok ?? 0), 3),
    },
    statusDuringSweep: { p50: during.run.p50, p99: during.run.p99, rps: during.run.rps },
    peakRssMb,
    idle,
    atHighestSample: peakSample,
    samples,
    snapshots: {
      idle: { ...idleHeap, top: idleHeap.top.slice(0, 20) },
      duringSweep: { ...sweepHeap, top: sweepHeap.top.slice(0, 20), memoryUsage: atSnapshot },
      grewDuringSweep: grew,
    },
    allocationsPerToken: allocations,
  };
}

/** Replaces the rows the last sweep refreshed with as many freshly due ones (the total stays the same). */
async function reseedDue(rig: Rig): Promise<void> {
  const { db, options } = rig;
  if ((await countDue(db, Date.now())) >= options.dueConnections) return;
  const refreshed = await db.deleteFrom('connections').where('last_refreshed_at', 'is not', null).executeTakeFirst();
  const now = Date.now();
  const dueIssuedAt = now - 51 * DAY;
  const tokens = await rig.sandbox.call<string[]>('mint', { count: options.dueConnections, issuedAt: dueIssuedAt });
  await seedConnections(db, rig.cipher, rig.config.lifecycle, {
    count: Math.max(options.dueConnections, Number(refreshed.numDeletedRows)),
    due: tokens,
    dueIssuedAt,
    now,
    perUser: 3,
  });
}

function sampleRss(pid: number): { stop(): number[] } {
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(processMemory(pid).rssMb), 100);
  return {
    stop: () => {
      clearInterval(timer);
      return samples;
    },
  };
}

// --- profiles ----------------------------------------------------------------------------------

/**
 * CPU profiles of igconnect (inspector, sampling every 200 µs) under a status-page load and under flows
 * (in the production-shaped mode also under flows with the short keep-alive hint). Each summary gives
 * the requests or flows served while it ran, so that a module's share becomes milliseconds per request.
 */
async function profiles(rig: Rig): Promise<Json> {
  const out: Record<string, ProfileSummary & { served: number; cpuMsPerServed: number; busyMsPerServed: number }> = {};
  const dir = join(PROJECT_ROOT, 'bench', 'results', 'profiles');
  mkdirSync(dir, { recursive: true });
  const production = rig.mode === 'production';
  const kinds = production
    ? (['statusPage', 'connectFlow', 'connectFlowShortKeepAlive'] as const)
    : (['statusPage', 'connectFlow'] as const);
  for (const kind of kinds) {
    log(`profile: ${kind}`);
    const file = join(dir, `${rig.target.name}-${rig.mode}-${kind}.cpuprofile`);
    if (production) {
      const ms = kind === 'connectFlowShortKeepAlive' ? rig.options.shortKeepAliveMs : rig.options.sandboxKeepAliveMs;
      await rig.sandbox.call('keepAlive', { ms });
    }
    const cpu0 = rig.app.cpuMs();
    await rig.app.call('profileStart');
    let served: number;
    if (kind === 'statusPage') {
      served = (await statusLoad(rig, rig.options.profileSeconds)).requests;
    } else {
      const run = await runLoop(
        (i) => connectFlow(new Browser(rig.network), rig.publicUrl, rig.accounts[i % rig.accounts.length] ?? ''),
        {
          concurrency: rig.options.flowConcurrency,
          seconds: rig.options.profileSeconds,
          maxCount: rig.options.maxFlowsPerRun,
        },
      );
      served = run.count;
    }
    await rig.app.call('profileStop', { file });
    const cpuMs = rig.app.cpuMs() - cpu0;
    const summary = summariseProfile(file, { served, cpuMs });
    out[kind] = {
      ...summary,
      served,
      // From /proc, profiler overhead included; busyMsPerServed (the profile's own samples) excludes most of it.
      cpuMsPerServed: round(cpuMs / Math.max(1, served), 3),
      busyMsPerServed: round(summary.totalMs / Math.max(1, served), 3),
    };
  }
  if (production) await rig.sandbox.call('keepAlive', { ms: rig.options.sandboxKeepAliveMs });
  return out;
}

// --- 4b. start-up and idle memory of the real entry point --------------------------------------------

async function startup(options: BenchOptions): Promise<Json> {
  log('startup');
  const dir = mkdtempSync(join(tmpdir(), 'igconnect-bench-startup-'));
  try {
    const runs: { ms: number; idleRssMb: number }[] = [];
    const dbFile = join(dir, 'igconnect.db');
    for (let i = 0; i <= options.startupRuns; i++) runs.push(await startOnce(dir, dbFile, options));
    const [first, ...warm] = runs;
    return {
      command: 'node dist/src/main/web.js (KEEPER_IN_WEB=false), until GET /healthz answers 200',
      firstStartWithMigrationsMs: first?.ms,
      medianStartMs: round(median(warm.map((r) => r.ms))),
      medianIdleRssMb: round(median(warm.map((r) => r.idleRssMb))),
      runs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function startOnce(
  dir: string,
  dbFile: string,
  options: BenchOptions,
): Promise<{ ms: number; idleRssMb: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [join(DIST, 'src/main/web.js')], {
    cwd: dir,
    stdio: 'ignore',
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'development',
      PORT: String(port),
      DATABASE_URL: `sqlite:${dbFile}`,
      SESSION_SECRET: randomBytes(36).toString('base64url'),
      TOKEN_ENCRYPTION_KEYS: `b1:${randomBytes(32).toString('base64')}`,
      KEEPER_IN_WEB: 'false',
      ...options.appEnv,
    },
  });
  try {
    const deadline = started + 30_000;
    for (;;) {
      if (performance.now() > deadline) throw new Error('web.js did not answer /healthz within 30 s');
      try {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (response.status === 200) break;
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const ms = round(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idleRssMb = processMemory(child.pid ?? 0).rssMb;
    return { ms, idleRssMb };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
