import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningProcess, sharedSecrets, startWebProcess } from '../support/processes';
import { percentile, report, round1, sleep, timedGet } from './support';

/**
 * 500 clients that open a connection and trickle their headers a line a second, never finishing (a
 * slowloris). With Node's defaults they held their sockets for over a minute; igconnect's own limits
 * (SERVER_HEADERS_TIMEOUT_MS, checked every second) cut them off, and /healthz keeps answering.
 */
const CLIENTS = 500;

describe('fault: 500 slow clients', () => {
  let dir: string;
  let web: RunningProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'igconnect-fault-slow-'));
    web = await startWebProcess({ ...sharedSecrets(), DATABASE_URL: `sqlite:${join(dir, 'igconnect.db')}` });
  });
  afterAll(async () => {
    await web?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the server cuts every slow client off at its header deadline and keeps serving', async () => {
    const opened = performance.now();
    const closedAfter: number[] = [];
    let answered408 = 0;
    const clients = Array.from(
      { length: CLIENTS },
      () =>
        new Promise<void>((resolve) => {
          let received = '';
          let trickle: NodeJS.Timeout | undefined;
          const socket = tcpConnect(web.port, '127.0.0.1', () => {
            socket.write('GET /account HTTP/1.1\r\nHost: 127.0.0.1\r\n');
            trickle = setInterval(() => socket.write(`X-Slow-${Math.random().toString(36).slice(2)}: 1\r\n`), 1000);
          });
          socket.on('data', (chunk) => (received += chunk.toString()));
          socket.on('error', () => undefined);
          socket.on('close', () => {
            clearInterval(trickle);
            closedAfter.push(performance.now() - opened);
            if (/^HTTP\/1\.1 408/.test(received)) answered408 += 1;
            resolve();
          });
          // The scenario's own bound: a client still open after 40 s is counted as held.
          setTimeout(() => socket.destroy(), 40_000).unref();
        }),
    );
    const health: number[] = [];
    const statuses = new Set<number>();
    let done = false;
    const all = Promise.all(clients).then(() => (done = true));
    while (!done) {
      const answer = await timedGet(`${web.url}/healthz`);
      health.push(answer.ms);
      statuses.add(answer.status);
      await sleep(100);
    }
    await all;
    const page = await timedGet(`${web.url}/`);

    report({
      scenario: '500 slow clients',
      did: [
        `web process with the default limits (SERVER_HEADERS_TIMEOUT_MS 10000, SERVER_MAX_CONNECTIONS 1000)`,
        `${CLIENTS} sockets sending a request line, then one header line a second, never ending their headers; /healthz every 100 ms meanwhile`,
      ],
      found: {
        'slow clients cut off with a 408': `${answered408} of ${CLIENTS}`,
        'last slow client closed after (s)': round1(Math.max(...closedAfter) / 1000),
        'first slow client closed after (s)': round1(Math.min(...closedAfter) / 1000),
        'healthz answers / statuses': `${health.length} / ${[...statuses].join(',')}`,
        'healthz p50 / p99 / max (ms)': `${round1(percentile(health, 50))} / ${round1(percentile(health, 99))} / ${round1(Math.max(...health))}`,
        'home page afterwards': page.status,
      },
    });
    expect(answered408).toBe(CLIENTS);
    expect(Math.max(...closedAfter)).toBeLessThan(40_000);
    expect([...statuses]).toEqual([200]);
    expect(page.status).toBe(200);
  });
});
