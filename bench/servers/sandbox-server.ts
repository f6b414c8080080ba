import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createSandboxAppWithControl, type SandboxAccount } from '../../src/sandbox/sandbox';
import { systemClock } from '../../src/shared/clock';
import { announceReady, serveRequests } from '../support/ipc-server';

/**
 * The sandbox (fake Instagram) as a process of its own, so that its CPU time and memory are counted
 * apart from igconnect's. Configured by the bench through SANDBOX_* variables:
 *
 *   SANDBOX_TLS_CERT, SANDBOX_TLS_KEY   serve https with this certificate (as Instagram is only reached)
 *   SANDBOX_KEEP_ALIVE_MS               idle keep-alive of its connections, hinted to clients as
 *                                       `Keep-Alive: timeout=<seconds>`; changed at run time by `keepAlive`
 */
function accounts(count: number): SandboxAccount[] {
  // Ids odd and 17 digits (above 2^53), like the built-in accounts: the app must keep them exact.
  return Array.from({ length: count }, (_, i) => ({
    appScopedId: String(26173400000000001n + 2n * BigInt(i)),
    igUserId: String(17841400000000001n + 2n * BigInt(i)),
    username: `bench.account.${i}`,
    name: `Bench Account ${i}`,
    accountType: 'BUSINESS',
    followersCount: 100 + i,
    mediaCount: 10,
    tester: true,
  }));
}

const env = process.env;
const port = Number(env.SANDBOX_PORT);
const tls = env.SANDBOX_TLS_CERT && env.SANDBOX_TLS_KEY;
const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
const list = accounts(Number(env.SANDBOX_ACCOUNTS ?? '16'));
const { app, control } = createSandboxAppWithControl({
  clock: systemClock,
  clientId: env.SANDBOX_CLIENT_ID ?? '',
  clientSecret: env.SANDBOX_CLIENT_SECRET ?? '',
  redirectUris: [env.SANDBOX_REDIRECT_URI ?? ''],
  basePath: '',
  publicUrl: url,
  accounts: list,
});

serveRequests({
  /** Long-lived tokens without the browser dance, spread over the accounts: for seeding due connections. */
  mint: (message) => {
    const count = Number(message.count);
    const issuedAt = Number(message.issuedAt);
    return Array.from({ length: count }, (_, i) =>
      control.issueLongLivedToken((list[i % list.length] as SandboxAccount).igUserId, { issuedAt }),
    );
  },
  calls: () => ({ ...control.calls }),
  accounts: () => list.map((a) => a.igUserId),
  /** Node's server hints its keepAliveTimeout, in whole seconds, on every keep-alive response. */
  keepAlive: (message) => {
    server.keepAliveTimeout = Number(message.ms);
    return server.keepAliveTimeout;
  },
  /** Connections (and TLS handshakes, and how many resumed a session) per kind of client, then reset. */
  connections: () => {
    const snapshot = structuredClone(clients);
    for (const counts of Object.values(clients)) Object.assign(counts, emptyCounts());
    return snapshot;
  },
});

/**
 * Who opened each connection, told by its first request: the consent pages are the browser's, the token
 * and Graph endpoints igconnect's. A handshake per call towards igconnect is what a lost keep-alive costs.
 */
const emptyCounts = () => ({ connections: 0, resumedSessions: 0, requests: 0 });
const clients = { igconnect: emptyCounts(), browser: emptyCounts() };
const kindOf = new WeakMap<Socket, keyof typeof clients>();

const server: Server = tls
  ? createHttpsServer(
      { cert: readFileSync(env.SANDBOX_TLS_CERT ?? ''), key: readFileSync(env.SANDBOX_TLS_KEY ?? '') },
      app,
    )
  : createServer(app);
server.on('request', (req: IncomingMessage) => {
  let kind = kindOf.get(req.socket);
  if (!kind) {
    kind = req.url?.startsWith('/oauth/authorize') ? 'browser' : 'igconnect';
    kindOf.set(req.socket, kind);
    clients[kind].connections += 1;
    if (tls && (req.socket as TLSSocket).isSessionReused()) clients[kind].resumedSessions += 1;
  }
  clients[kind].requests += 1;
});
server.keepAliveTimeout = Number(env.SANDBOX_KEEP_ALIVE_MS ?? '30000');
server.listen(port, '127.0.0.1', () => announceReady(url));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
