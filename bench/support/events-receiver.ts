import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TlsMaterial } from './tls';

/**
 * A receiver of igconnect's signed events in the bench process (BENCH_EVENTS=1): it takes every POST
 * with a 204 and counts it, so that a sweep runs with the relay delivering as a deployment's does. Over
 * https with the run's certificate in the production-shaped mode (production refuses a plain-http
 * receiver). Signatures are the events suite's business, not checked here.
 */
export interface EventsReceiver {
  url: string;
  delivered(): number;
  close(): Promise<void>;
}

export async function startEventsReceiver(tls: TlsMaterial | undefined): Promise<EventsReceiver> {
  let delivered = 0;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST') delivered += 1;
      res.writeHead(204).end();
    });
  };
  const server = tls
    ? createHttpsServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, handle)
    : createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/events`,
    delivered: () => delivered,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
