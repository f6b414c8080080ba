import { createServer } from 'node:http';
import { createSandboxAppWithControl, type SandboxAccount } from '../../src/sandbox/sandbox';
import { systemClock } from '../../src/shared/clock';
import { announceReady, serveRequests } from '../support/ipc-server';

/**
 * The sandbox (fake Instagram) as a process of its own, so that its CPU time and memory are counted
 * apart from igconnect's. Configured by the bench through SANDBOX_* variables.
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
const url = `http://127.0.0.1:${port}`;
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
});

const server = createServer(app);
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => announceReady(url));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
