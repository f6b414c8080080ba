import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { createApiKey } from '../../src/api/api-keys';
import { createDb } from '../../src/db/create-db';
import type { Database } from '../../src/db/schema';
import { DAY } from '../../src/shared/clock';
import {
  type RunningProcess,
  type SandboxProcess,
  sharedSecrets,
  startSandboxProcess,
  startWebProcess,
  startWorkerProcess,
} from '../support/processes';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/postgres';
import { rowMinter } from '../support/minted-rows';
import { report, round1, sleep } from './support';

/**
 * Meta's bad day, end to end: two web instances (keepers inside, the Graph proxy in use) and a worker on
 * one SQLite database, a standalone sandbox in front. First ten tokens die for real among 190 working
 * ones (each must be marked); then the sandbox answers every Graph call with the same 190 (a platform
 * incident: the app must be degraded, no connection marked, the keepers must only probe, the proxy's
 * callers get Meta's answers); then Meta is well again (the app recovers by itself, every connection is
 * checked and still active). The events outbox must hold a needs_reconnect event for the ten and for
 * nobody else.
 */
const WORKING = 190;
const DEAD = 10;
const WORKING_ACCOUNT = '17841405793187219';
const DEAD_ACCOUNT = '17841401234567893';
const PUBLIC_URL = 'http://igconnect.faults.test';

async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  explain?: () => Promise<string>,
): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await check()) return performance.now() - started;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${explain ? `: ${await explain()}` : ''}`);
}

const ENGINES: ('SQLite' | 'PostgreSQL')[] = TEST_DATABASE_URL ? ['SQLite', 'PostgreSQL'] : ['SQLite'];

describe.each(ENGINES)('fault: a Meta platform incident (every call answers the same error), %s', (engine) => {
  const dir = mkdtempSync(join(tmpdir(), 'igconnect-incident-'));
  const file = join(dir, 'igconnect.db');
  let sandbox: SandboxProcess;
  let receiver: Server;
  const processes: RunningProcess[] = [];
  let db: Kysely<Database>;
  let database: TestDatabase | undefined;

  afterAll(async () => {
    for (const p of processes) await p.stop().catch(() => undefined);
    await sandbox?.stop();
    await db?.destroy();
    await database?.drop();
    receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('degrades the app, marks no connection for it, probes slowly, recovers by itself; real deaths are marked', async () => {
    if (engine === 'PostgreSQL') database = await createTestDatabase();
    const databaseUrl = database?.url ?? `sqlite:${file}`;
    sandbox = await startSandboxProcess([`${PUBLIC_URL}/auth/instagram/callback`]);
    // Events are written to the outbox only when a receiver is configured: one that accepts everything.
    receiver = createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const secrets = sharedSecrets();
    const env = {
      ...secrets,
      ...sandbox.instagramEnv,
      PUBLIC_URL,
      DATABASE_URL: databaseUrl,
      KEEPER_INTERVAL_SECONDS: '1',
      KEEPER_CONCURRENCY: '4',
      KEEPER_BATCH_SIZE: '50',
      INCIDENT_PROBE_SECONDS: '5',
      EVENTS_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`,
      EVENTS_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 9).toString('base64')}`,
      RATE_LIMIT_START: '0',
      API_RATE_LIMIT_PER_MINUTE: '0',
      // "app degraded" is a warning, "app recovered" an info line.
      LOG_LEVEL: 'info',
    };
    // A first start creates the schema; the connections are seeded while nothing runs.
    await (await startWebProcess({ ...env, KEEPER_INTERVAL_SECONDS: '0' })).stop();
    db =
      engine === 'SQLite'
        ? createDb({ kind: 'sqlite', filename: file })
        : createDb({ kind: 'postgres', url: databaseUrl, poolMax: 2, timeoutMs: 10_000 });
    await seed(db, sandbox, secrets.TOKEN_ENCRYPTION_KEYS as string);
    const { key } = await createApiKey(db, 'fault suite', Date.now());
    await fetch(`${sandbox.url}/_control/calls/reset`, { method: 'POST' });

    // Phase 1: a normal day with ten real deaths (the person removed the app, say).
    await postJson(`${sandbox.url}/_control/revoke`, { account: DEAD_ACCOUNT });
    const webA = await startWebProcess(env);
    const webB = await startWebProcess(env);
    const worker = await startWorkerProcess(env);
    processes.push(webA, webB, worker);
    const counts = async () => {
      const rows = await db.selectFrom('connections').select(['status', 'last_validation_outcome']).execute();
      return {
        active: rows.filter((r) => r.status === 'active').length,
        marked: rows.filter((r) => r.status === 'needs_reconnect').length,
        validated: rows.filter((r) => r.last_validation_outcome !== null).length,
        ok: rows.filter((r) => r.last_validation_outcome === 'ok').length,
      };
    };
    const phase1Ms = await waitUntil(
      'the first checks',
      async () => (await counts()).validated === WORKING + DEAD,
      60_000,
    );
    const afterPhase1 = await counts();
    const degradedRow = async () =>
      (await db.selectFrom('provider_state').selectAll().where('provider', '=', 'instagram').executeTakeFirst()) ??
      null;
    const degradedAfterPhase1 = (await degradedRow())?.degraded_since ?? null;

    // Phase 2: the incident. Every connection is due for its check again; callers use the proxy meanwhile.
    await db
      .updateTable('connections')
      .set({ last_validated_at: Date.now() - 2 * DAY, next_action_at: Date.now() })
      .where('status', '=', 'active')
      .execute();
    await fetch(`${sandbox.url}/_control/calls/reset`, { method: 'POST' });
    await postJson(`${sandbox.url}/_control/incident`, { code: 190, subcode: 460 });
    const incidentStarted = performance.now();
    const proxy = proxyCallers([webA.url, webB.url], key, await activeIds(db));
    const degradeMs = await waitUntil(
      'the app to be degraded',
      async () => ((await degradedRow())?.degraded_since ?? null) !== null,
      30_000,
      async () =>
        JSON.stringify({
          failures: await db
            .selectFrom('provider_failures')
            .select(['signature', (eb) => eb.fn.countAll().as('n')])
            .groupBy('signature')
            .execute(),
          calls: await db.selectFrom('provider_calls').selectAll().execute(),
          state: await degradedRow(),
          outcomes: await db
            .selectFrom('connections')
            .select(['last_validation_outcome', (eb) => eb.fn.countAll().as('n')])
            .groupBy('last_validation_outcome')
            .execute(),
          sandbox: await sandbox.calls(),
          log: webA
            .output()
            .split('\n')
            .filter((l) => /warn|error|judge|degraded/i.test(l))
            .slice(-5),
        }),
    );
    const callsAtDegrade = (await sandbox.calls()).me ?? 0;
    await sleep(12_000);
    const duringIncident = await counts();
    const callsDuringIncident = (await sandbox.calls()).me ?? 0;
    const proxied = await proxy.stop();
    const incidentMs = performance.now() - incidentStarted;

    // Phase 3: Meta is well again.
    await fetch(`${sandbox.url}/_control/incident`, { method: 'DELETE' });
    const recoverMs = await waitUntil(
      'recovery',
      async () => ((await degradedRow())?.degraded_since ?? null) === null,
      30_000,
    );
    const caughtUpMs = await waitUntil(
      'every active connection checked again',
      async () => (await counts()).ok === WORKING,
      60_000,
    );
    const final = await counts();
    const events = await db.selectFrom('events').select(['type']).execute();
    const needsReconnectEvents = events.filter((e) => e.type === 'connection.needs_reconnect').length;
    const logs = [webA, webB, worker].map((p) => p.output()).join('\n');

    const found = {
      'phase 1: real deaths marked / working still active': `${afterPhase1.marked} / ${afterPhase1.active} (of ${DEAD} / ${WORKING}), done ${round1(phase1Ms)} ms after the processes were ready`,
      'phase 1: app degraded': degradedAfterPhase1 !== null,
      'incident: app degraded after': `${round1(degradeMs)} ms, ${callsAtDegrade} Graph calls in`,
      'incident: connections marked needs_reconnect': duringIncident.marked - afterPhase1.marked,
      'incident: Graph calls in total (keepers, cross-checks, probes, proxied)': `${callsDuringIncident} over ${round1(incidentMs / 1000)} s`,
      'incident: proxied calls answered': JSON.stringify(proxied.statuses),
      'incident: answers 500': proxied.statuses['500'] ?? 0,
      'recovery: app recovered after the incident ended': `${round1(recoverMs)} ms`,
      'recovery: every working connection checked ok again after': `${round1(caughtUpMs / 1000)} s`,
      'final: active / needs_reconnect': `${final.active} / ${final.marked}`,
      'events: connection.needs_reconnect': needsReconnectEvents,
      'logs: "app degraded" / "app recovered" lines': `${(logs.match(/app degraded/g) ?? []).length} / ${(logs.match(/app recovered/g) ?? []).length}`,
    };
    report({
      scenario: `meta platform incident, ${engine}`,
      did: [
        `seeded ${WORKING} working connections and ${DEAD} whose tokens Meta refuses (190/467)`,
        `ran two web processes (keepers inside) and a worker on one ${engine} database, keeper interval 1 s, probes every 5 s`,
        'phase 1: every connection due for its daily check',
        'phase 2: every Graph call answers 190/460 for 12 s after the app was degraded; callers hit the proxy on both instances',
        'phase 3: Meta well again',
      ],
      found,
    });
    expect(afterPhase1).toMatchObject({ marked: DEAD, active: WORKING });
    expect(degradedAfterPhase1).toBeNull();
    expect(duringIncident.marked).toBe(DEAD);
    expect(proxied.statuses['500'] ?? 0).toBe(0);
    expect(final).toMatchObject({ active: WORKING, marked: DEAD, ok: WORKING });
    expect(needsReconnectEvents).toBe(DEAD);
  });
});

async function postJson(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
}

async function activeIds(db: Kysely<Database>): Promise<string[]> {
  return (await db.selectFrom('connections').select('id').where('status', '=', 'active').execute()).map((r) => r.id);
}

/** Four callers on each instance asking the proxy for /me of random active connections until stop(). */
function proxyCallers(urls: string[], key: string, ids: string[]) {
  let stopped = false;
  const statuses: Record<string, number> = {};
  const caller = async (url: string) => {
    while (!stopped) {
      const id = ids[Math.floor(Math.random() * ids.length)];
      try {
        const response = await fetch(`${url}/api/v1/connections/${id}/proxy/me`, {
          headers: { authorization: `Bearer ${key}` },
        });
        await response.arrayBuffer();
        statuses[String(response.status)] = (statuses[String(response.status)] ?? 0) + 1;
      } catch {
        statuses.network = (statuses.network ?? 0) + 1;
      }
      await sleep(50);
    }
  };
  const running = urls.flatMap((url) => Array.from({ length: 4 }, () => caller(url)));
  return {
    async stop() {
      stopped = true;
      await Promise.all(running);
      return { statuses: { ...statuses } };
    },
  };
}

async function seed(db: Kysely<Database>, sandbox: SandboxProcess, keys: string): Promise<void> {
  const mint = rowMinter(sandbox, keys);
  const now = Date.now();
  const userId = randomUUID();
  await db.insertInto('users').values({ id: userId, created_at: now, end_user_id: null }).execute();
  const rows = [];
  for (let n = 0; n < WORKING + DEAD; n += 1) {
    const { row } = await mint({
      userId,
      account: n < WORKING ? WORKING_ACCOUNT : DEAD_ACCOUNT,
      n,
      username: `incident.seed.${n}`,
      issuedAt: now - 2 * DAY,
      expiresAt: now + 50 * DAY,
      nextActionAt: now,
    });
    rows.push(row);
  }
  for (let i = 0; i < rows.length; i += 50)
    await db
      .insertInto('connections')
      .values(rows.slice(i, i + 50))
      .execute();
}
