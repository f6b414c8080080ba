import { execFileSync } from 'node:child_process';
import { createDb } from '../../src/db/create-db';
import { DedicatedCluster } from '../support/postgres';
import {
  Browser,
  connectAcross,
  freePort,
  type RunningProcess,
  sharedSecrets,
  startWebProcess,
} from '../support/processes';
import { checkRows, percentile, rejectedTokens, report, round1, sleep, timedGet } from './support';

/**
 * PostgreSQL stopped for a few seconds and started again under a web process with its keeper, while
 * people keep connecting: 503 while it is down (never a 500), /healthz untouched, recovery without a
 * restart, and afterwards every stored token whole and accepted. A cluster of the scenario's own
 * (scripts/pg-test-cluster.sh on another port): the shared one must stay up.
 */
function postgresBinaries(): boolean {
  try {
    execFileSync('bash', ['-c', 'ls /usr/lib/postgresql/*/bin/pg_ctl'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const available = postgresBinaries();
if (!available) process.stdout.write('fault scenario "PostgreSQL restart" SKIPPED: no PostgreSQL server binaries\n');

describe('fault: PostgreSQL restart under load', () => {
  (available ? it : it.skip)(
    'requests answer 503 while it is down, nothing is lost, and the app recovers by itself',
    async () => {
      const cluster = new DedicatedCluster(await freePort());
      let web: RunningProcess | undefined;
      const secrets = sharedSecrets();
      try {
        await cluster.destroy();
        await cluster.start();
        web = await startWebProcess({
          ...secrets,
          DATABASE_URL: cluster.url,
          DATABASE_TIMEOUT_MS: '2000',
          KEEPER_INTERVAL_SECONDS: '1',
          RATE_LIMIT_START: '0',
          RATE_LIMIT_CALLBACK: '0',
        });
        const url = web.url;
        let phase: 'before' | 'down' | 'after' = 'before';
        const outcomes: Record<string, Record<string, number>> = { before: {}, down: {}, after: {} };
        const count = (key: string) => {
          const bucket = outcomes[phase] as Record<string, number>;
          bucket[key] = (bucket[key] ?? 0) + 1;
        };
        let stopped = false;
        const accounts = ['17841405793187219', '17841401234567893', '17841407654321097'];
        const people = accounts.map(async (account) => {
          while (!stopped) {
            try {
              const response = await connectAcross(new Browser(), { startOrigin: url, callbackOrigin: url, account });
              count(response.location === '/account' ? 'connected' : String(response.status));
            } catch (error) {
              count(/answered (\d+)/.exec((error as Error).message)?.[1] ?? 'failed');
              await sleep(100);
            }
          }
        });
        const health: number[] = [];
        const healthStatuses = new Set<number>();
        const prober = (async () => {
          while (!stopped) {
            const answer = await timedGet(`${url}/healthz`);
            health.push(answer.ms);
            healthStatuses.add(answer.status);
            await sleep(100);
          }
        })();

        await sleep(2000);
        phase = 'down';
        await cluster.stop();
        const readyDown = (await timedGet(`${url}/readyz`)).status;
        await sleep(4000);
        await cluster.start();
        const startedAt = performance.now();
        let readyAgainMs = NaN;
        while (performance.now() - startedAt < 30_000) {
          if ((await timedGet(`${url}/readyz`)).status === 200) {
            readyAgainMs = performance.now() - startedAt;
            break;
          }
          await sleep(100);
        }
        phase = 'after';
        await sleep(3000);
        stopped = true;
        await Promise.all([...people, prober]);

        if (!web.alive()) throw new Error(`the web process died:\n${web.output().slice(-3000)}`);
        const db = createDb({ kind: 'postgres', url: cluster.url, poolMax: 2, timeoutMs: 5000 });
        const rows = await checkRows(db, secrets.TOKEN_ENCRYPTION_KEYS as string);
        await db.destroy();
        const rejected = await rejectedTokens(`${url}/sandbox`, rows.tokens);
        const output = web.output();
        await web.stop();

        const server500s = Object.values(outcomes)
          .flatMap((o) => Object.entries(o))
          .filter(([status]) => status === '500')
          .reduce((sum, [, n]) => sum + n, 0);
        report({
          scenario: 'PostgreSQL restart',
          did: [
            'web process (keeper inside, DATABASE_TIMEOUT_MS=2000) on a cluster of its own; three people connecting in a loop, /healthz every 100 ms',
            'stopped the cluster (fast shutdown) for 4 s, started it again, went on for 3 s',
          ],
          found: {
            'connect outcomes before': JSON.stringify(outcomes.before),
            'connect outcomes while down': JSON.stringify(outcomes.down),
            'connect outcomes after': JSON.stringify(outcomes.after),
            'readyz while down': readyDown,
            'readyz 200 again after the start (ms)': round1(readyAgainMs),
            'healthz statuses / p99 / max (ms)': `${[...healthStatuses].join(',')} / ${round1(percentile(health, 99))} / ${round1(Math.max(...health))}`,
            'answers 500': server500s,
            'unexpected errors logged': (output.match(/unexpected error/g) ?? []).length,
            'connections / tokens that decrypt / accepted by the sandbox / half-written rows': `${rows.connections} / ${rows.tokens.size} / ${rows.tokens.size - rejected.length} / ${rows.halfWritten.length}`,
          },
        });
        expect(readyDown).toBe(503);
        expect(readyAgainMs).toBeLessThan(30_000);
        expect([...healthStatuses]).toEqual([200]);
        expect(server500s).toBe(0);
        expect(output).not.toMatch(/unexpected error/);
        expect(outcomes.after?.connected ?? 0).toBeGreaterThan(0);
        expect(rows.undecryptable).toEqual([]);
        expect(rejected).toEqual([]);
        expect(rows.halfWritten).toEqual([]);
      } finally {
        await web?.kill();
        await cluster.destroy();
      }
    },
  );
});
