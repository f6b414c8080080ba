import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_APP_SECRET } from '../../src/providers/instagram.config';
import { createDb } from '../../src/db/create-db';
import { signRequest } from '../../src/sandbox/sandbox';
import { ODD_ACCOUNT } from '../support/harness';
import { Browser, connectAcross, type RunningProcess, sharedSecrets, startWebProcess } from '../support/processes';
import { SqliteLockHolder, TinyDisk } from '../support/storage-faults';
import { checkRows, percentile, report, round1, sleep, sqliteIntegrity, timedGet } from './support';

/**
 * The storage under a running web process (`node dist/src/main/web.js`, default settings): another
 * process holding SQLite's write lock for 15 s, and the disk under the database filling up.
 */
const LOCK_MS = 15_000;
/** DATABASE_TIMEOUT_MS's default: how long a write waits for the lock before answering 503. */
const LOCK_WAIT_MS = 5000;

async function connectPerson(web: RunningProcess, account: string): Promise<Browser> {
  const browser = new Browser();
  const response = await connectAcross(browser, { startOrigin: web.url, callbackOrigin: web.url, account });
  if (response.location !== '/account') throw new Error(`connect answered ${response.status} ${response.location}`);
  return browser;
}

describe('fault: storage', () => {
  let dir: string;
  let web: RunningProcess | undefined;
  const secrets = sharedSecrets();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'igconnect-fault-storage-'));
  });
  afterEach(async () => {
    await web?.kill();
    web = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('a database locked for 15 s by another process: /healthz stays fast, writes answer 503 within their deadline, all recovers', async () => {
    const file = join(dir, 'igconnect.db');
    web = await startWebProcess({ ...secrets, DATABASE_URL: `sqlite:${file}`, KEEPER_IN_WEB: 'false' });
    const person = await connectPerson(web, ODD_ACCOUNT.igUserId);
    expect((await person.get(`${web.url}/account`)).status).toBe(200);
    const holder = await SqliteLockHolder.open(file);
    const url = web.url;

    await holder.lock();
    const lockedAt = performance.now();
    const until = lockedAt + LOCK_MS;
    const health: number[] = [];
    const slowHealth: string[] = [];
    const healthStatuses = new Set<number>();
    const reads: { status: number; ms: number }[] = [];
    const writes: { status: number; ms: number }[] = [];
    let readyDuringLock = 0;

    const probeHealth = (async () => {
      while (performance.now() < until) {
        const answer = await timedGet(`${url}/healthz`);
        health.push(answer.ms);
        if (answer.ms > 50)
          slowHealth.push(`${round1(answer.ms)} ms at +${round1((performance.now() - lockedAt) / 1000)} s`);
        healthStatuses.add(answer.status);
        await sleep(50);
      }
    })();
    const probeReads = (async () => {
      while (performance.now() < until) {
        const started = performance.now();
        const page = await person.get(`${url}/account`);
        reads.push({ status: page.status, ms: performance.now() - started });
        await sleep(500);
      }
    })();
    const writeWave = async () => {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const answer = await timedGet(`${url}/auth/instagram`);
          writes.push({ status: answer.status, ms: answer.ms });
        }),
      );
    };
    await sleep(1000);
    await writeWave();
    const ready = await timedGet(`${url}/readyz`);
    readyDuringLock = ready.status;
    await sleep(1000);
    await writeWave();
    await Promise.all([probeHealth, probeReads]);
    await holder.unlock();
    const unlockedAt = performance.now();
    let readyAgainMs = NaN;
    for (;;) {
      if ((await timedGet(`${url}/readyz`)).status === 200) {
        readyAgainMs = performance.now() - unlockedAt;
        break;
      }
      if (performance.now() - unlockedAt > 10_000) break;
      await sleep(50);
    }
    const writeAfter = await timedGet(`${url}/auth/instagram`);
    await holder.close();
    await web.kill();
    web = undefined;

    const integrity = sqliteIntegrity(file);
    const db = createDb({ kind: 'sqlite', filename: file });
    const rows = await checkRows(db, secrets.TOKEN_ENCRYPTION_KEYS as string);
    await db.destroy();

    const writeMs = writes.map((w) => w.ms);
    const found = {
      'healthz answers during the lock': health.length,
      'healthz statuses': [...healthStatuses].join(','),
      'healthz p50 / p99 / max (ms)': `${round1(percentile(health, 50))} / ${round1(percentile(health, 99))} / ${round1(Math.max(...health))}`,
      'healthz answers over 50 ms': slowHealth.join(', ') || 'none',
      'status page reads (signed in) answered 200': `${reads.filter((r) => r.status === 200).length} of ${reads.length}`,
      'status page read max (ms)': round1(Math.max(...reads.map((r) => r.ms))),
      'writes (GET /auth/instagram) answered 503': `${writes.filter((w) => w.status === 503).length} of ${writes.length}`,
      'write answer min / max (ms), deadline 5000': `${round1(Math.min(...writeMs))} / ${round1(Math.max(...writeMs))}`,
      'readyz during the lock': readyDuringLock,
      'readyz 200 again after the unlock (ms)': round1(readyAgainMs),
      'a write after the unlock': writeAfter.status,
      integrity_check: integrity,
      'tokens that decrypt': `${rows.tokens.size} of ${rows.connections}`,
    };
    report({
      scenario: 'SQLite locked 15 s',
      did: [
        'web process on SQLite (defaults: lock wait 5000 ms), one person signed in',
        'another process held BEGIN IMMEDIATE for 15 s; meanwhile /healthz every 50 ms, the status page every 500 ms, two waves of 20 writes (GET /auth/instagram), /readyz once',
        'then released the lock and polled /readyz until 200',
      ],
      found,
    });
    // The bar (this suite's acceptance figure; npm test asserts no time): /healthz under 100 ms for 99 %
    // of answers under the lock, and every write refused within its deadline plus one second.
    expect([...healthStatuses]).toEqual([200]);
    expect(percentile(health, 99)).toBeLessThan(100);
    expect(writes.every((w) => w.status === 503)).toBe(true);
    expect(Math.max(...writeMs)).toBeLessThan(LOCK_WAIT_MS + 1000);
    expect(reads.every((r) => r.status === 200)).toBe(true);
    expect(readyDuringLock).toBe(503);
    expect(readyAgainMs).toBeLessThan(10_000);
    expect(writeAfter.status).toBe(302);
    expect(integrity).toBe('ok');
    expect(rows.undecryptable).toEqual([]);
    expect(rows.halfWritten).toEqual([]);
  });

  const diskProblem = TinyDisk.unavailableReason();
  if (diskProblem) process.stdout.write(`fault scenario "SQLite disk full" SKIPPED: ${diskProblem}\n`);

  (diskProblem ? it.skip : it)(
    'a full disk under SQLite (a 16 MB tmpfs filled up): 503 (JSON for webhooks), /readyz 503, recovery without restart, integrity ok, every token decrypts',
    async () => {
      const disk = TinyDisk.mount(16);
      try {
        const file = join(disk.dir, 'igconnect.db');
        web = await startWebProcess({ ...secrets, DATABASE_URL: `sqlite:${file}`, KEEPER_IN_WEB: 'false' });
        const url = web.url;
        const people = [];
        for (const account of ['17841405793187219', '17841401234567893']) {
          const person = await connectPerson(web, account);
          expect((await person.get(`${url}/account`)).status).toBe(200);
          people.push(person);
        }
        const filled = disk.fill();

        const start = await timedGet(`${url}/auth/instagram`);
        const signed = signRequest(
          { algorithm: 'HMAC-SHA256', issued_at: Math.floor(Date.now() / 1000), user_id: ODD_ACCOUNT.igUserId },
          SANDBOX_APP_SECRET,
        );
        const webhook = await fetch(`${url}/webhooks/instagram/deauthorize`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
          body: `signed_request=${encodeURIComponent(signed)}`,
        });
        const webhookBody = await webhook.text();
        const readyFull = (await timedGet(`${url}/readyz`)).status;
        const healthFull = (await timedGet(`${url}/healthz`)).status;
        const readFull = (await (people[0] as Browser).get(`${url}/account`)).status;
        // A new person trying to connect while the disk is full.
        let connectFull = 0;
        try {
          connectFull = (await connectAcross(new Browser(), { startOrigin: url, callbackOrigin: url })).status;
        } catch {
          connectFull = 503; // refused at the start route already
        }

        disk.free();
        const freedAt = performance.now();
        let readyAgainMs = NaN;
        while (performance.now() - freedAt < 10_000) {
          if ((await timedGet(`${url}/readyz`)).status === 200) {
            readyAgainMs = performance.now() - freedAt;
            break;
          }
          await sleep(50);
        }
        const again = await connectAcross(new Browser(), {
          startOrigin: url,
          callbackOrigin: url,
          account: '17841407654321097',
        });
        await web.stop();
        web = undefined;

        const integrity = sqliteIntegrity(file);
        const db = createDb({ kind: 'sqlite', filename: file });
        const rows = await checkRows(db, secrets.TOKEN_ENCRYPTION_KEYS as string);
        await db.destroy();

        report({
          scenario: 'SQLite disk full',
          did: [
            'web process with its SQLite file on a 16 MB tmpfs (mount -t tmpfs; root), two people connected',
            `filled the disk (${Math.round(filled / 1024)} KiB filler) and sent a start, a signed deauthorize webhook, /readyz, /healthz, a status page read and a whole connect`,
            'deleted the filler and polled /readyz; connected a third person; stopped the process and checked the file',
          ],
          found: {
            'start route while full': start.status,
            'webhook while full': `${webhook.status} ${webhook.headers.get('content-type')?.split(';')[0]} ${webhookBody}`,
            'readyz / healthz while full': `${readyFull} / ${healthFull}`,
            'status page read while full': readFull,
            'a connect while full': connectFull,
            'readyz 200 again after freeing space (ms)': round1(readyAgainMs),
            'a connect after freeing space': `${again.status} ${again.location}`,
            integrity_check: integrity,
            'connections / tokens that decrypt / half-written rows': `${rows.connections} / ${rows.tokens.size} / ${rows.halfWritten.length}`,
          },
        });
        expect(start.status).toBe(503);
        expect(webhook.status).toBe(503);
        expect(webhook.headers.get('content-type')).toMatch(/application\/json/);
        expect(readyFull).toBe(503);
        expect(healthFull).toBe(200);
        expect(readFull).toBe(200);
        expect(connectFull).toBe(503);
        expect(readyAgainMs).toBeLessThan(10_000);
        expect(again.status).toBe(303);
        expect(again.location).toBe('/account');
        expect(integrity).toBe('ok');
        expect(rows.connections).toBe(3);
        expect(rows.undecryptable).toEqual([]);
        expect(rows.halfWritten).toEqual([]);
      } finally {
        await web?.kill();
        web = undefined;
        disk.unmount();
      }
    },
  );
});
