import { createServer, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import pino from 'pino';
import { requestLog } from '../../src/http/request-log';
import { createLogger, REDACT_KEYS, scrubLine } from '../../src/shared/logger';
import { Browser } from '../support/browser';
import { round } from '../support/child-process';
import { median } from '../support/stats';

/**
 * `node dist/bench/micro/request-logging.js`: the CPU one request costs in igconnect's request logging,
 * and in which part: igconnect's request log (src/http/request-log.ts) over igconnect's logger
 * (createLogger: redaction and line scrubbing), over pino with pino's own `redact` instead, with the
 * scrubbing only, and alone, each writing to /dev/null through pino's own destination, against a server
 * that does not log. Each is a real HTTP server in this process serving one route of a bare Express app;
 * one client takes turns with them, many times over, so that the machine's load hits all alike. The figure
 * is this process's CPU time per request (client included: the differences are the logging's). pino-http,
 * which the request log replaced (ADR 0013), measured 0.080 ms here against the request log's 0.044.
 */
const ROUNDS = Number(process.env.MICRO_ROUNDS ?? '12');
const REQUESTS = Number(process.env.MICRO_REQUESTS ?? '2000');

const devNull = () => pino.destination({ dest: '/dev/null', sync: true });
const base = { level: 'info', base: { app: 'igconnect' } };

// pino's own `redact` over the same names at the depths igconnect used it (key, *.key, *.*.key), as
// src/shared/logger.ts did before its redaction moved onto the finished line: the comparison in one process.
const redactPaths = REDACT_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

const variants: Record<string, RequestHandler | undefined> = {
  'no logging': undefined,
  "igconnect's logger (redaction and scrubLine)": requestLog(createLogger({ level: 'info', destination: devNull() })),
  "pino's redact (48 paths) and scrubLine": requestLog(
    pino(
      { ...base, redact: { paths: redactPaths, censor: '[redacted]' }, hooks: { streamWrite: scrubLine } },
      devNull(),
    ),
  ),
  'pino with scrubLine, no redaction': requestLog(pino({ ...base, hooks: { streamWrite: scrubLine } }, devNull())),
  'pino alone': requestLog(pino(base, devNull())),
};

// The headers a status page answer carries (helmet's and the app's).
const page = 'x'.repeat(12_000);
function handler(log: (typeof variants)[string]): RequestListener {
  const answer = (res: ServerResponse) => {
    for (let i = 0; i < 12; i++) res.setHeader(`x-header-${i}`, 'a value of some forty characters or so....');
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(page);
  };
  // Each behind Express, as in igconnect.
  const app = express();
  app.disable('x-powered-by');
  if (log) app.use(log);
  app.get('/account', (_req, res) => answer(res));
  return app;
}

async function main(): Promise<void> {
  const servers = await Promise.all(
    Object.entries(variants).map(async ([name, log]) => {
      const server = createServer(handler(log));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { name, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/account?x=1` };
    }),
  );
  const browser = new Browser();
  const cpu = new Map(servers.map((s) => [s.name, [] as number[]]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const { name, url } of servers) {
      const start = process.cpuUsage();
      for (let i = 0; i < REQUESTS; i++) await browser.get(url, { cookie: 'igconnect.sid=s%3Aabc.def' });
      const used = process.cpuUsage(start);
      if (round > 0) cpu.get(name)?.push((used.user + used.system) / 1000 / REQUESTS);
    }
  }
  const floor = median(cpu.get('no logging') ?? []);
  for (const [name, values] of cpu) {
    const ms = median(values);
    process.stdout.write(
      `${name}: ${round(ms, 4)} ms CPU per request (logging ${round(ms - floor, 4)} ms), rounds ${values.map((v) => round(v, 3)).join(' ')}\n`,
    );
  }
  for (const { server } of servers) server.close();
}

void main();
