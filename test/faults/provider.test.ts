import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DAY } from '../../src/shared/clock';
import { storedTokens } from '../security/security-support';
import { authorize, connect, finishCallback, ODD_ACCOUNT, startTestApp, type TestApp } from '../support/harness';
import { report, round1 } from './support';

/**
 * Instagram on a bad day, between igconnect and the sandbox: a proxy that passes calls through, or
 * hangs, resets the connection, or answers garbage. Each is met in a connect callback (the code
 * exchange) and in a keeper renewal: a clear answer within the HTTP deadline, nothing stored from a
 * failed exchange, the stored token kept (and still valid) when a renewal fails, no 500.
 */
type Mode = 'pass' | 'hang' | 'reset' | 'garbage' | 'html' | 'truncated';
const FAULTS: Exclude<Mode, 'pass'>[] = ['hang', 'reset', 'garbage', 'html', 'truncated'];
const HTTP_TIMEOUT_MS = 2000;

class FaultyProvider {
  mode: Mode = 'pass';
  target = '';
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  static async start(): Promise<FaultyProvider> {
    const server = createServer();
    const provider = new FaultyProvider(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void provider.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return provider;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    switch (this.mode) {
      case 'hang':
        return; // never answers; the socket stays open until the client gives up
      case 'reset':
        req.socket.resetAndDestroy();
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.from([0xff, 0x00, 0x7b, 0x22, 0xfe]));
        return;
      case 'html':
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>Bad gateway</body></html>');
        return;
      case 'truncated':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"IGAAtrunc');
        return;
      default: {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const upstream = await fetch(`${this.target}${req.url}`, {
          method: req.method,
          headers: Object.fromEntries(
            Object.entries(req.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name)),
          ) as Record<string, string>,
          body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks),
          redirect: 'manual',
        });
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
        res.end(Buffer.from(await upstream.arrayBuffer()));
      }
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('fault: the provider hangs, resets or answers garbage', () => {
  let provider: FaultyProvider;
  let app: TestApp;

  beforeEach(async () => {
    provider = await FaultyProvider.start();
    app = await startTestApp({
      start: Date.now(),
      env: (url) => {
        provider.target = url;
        return {
          INSTAGRAM_TOKEN_URL: `${provider.url}/sandbox/oauth/access_token`,
          INSTAGRAM_GRAPH_URL: `${provider.url}/sandbox/graph`,
          HTTP_TIMEOUT_MS: String(HTTP_TIMEOUT_MS),
          VALIDATE_INTERVAL_HOURS: '0',
        };
      },
    });
  });
  afterEach(async () => {
    await app.close();
    await provider.close();
  });

  it('every fault: the callback answers a clear error within the deadline and stores nothing; a renewal keeps the old token', async () => {
    const found: Record<string, string> = {};
    const problems: string[] = [];
    for (const mode of FAULTS) {
      // The connect flow, with the code exchange failing this way.
      provider.mode = 'pass';
      const agent = app.agent();
      const callbackUrl = await authorize(agent, { account: ODD_ACCOUNT.igUserId });
      provider.mode = mode;
      const started = performance.now();
      const outcome = await finishCallback(agent, callbackUrl);
      const ms = performance.now() - started;
      const code = /data-error-code="([A-Z_]+)"/.exec(outcome.text)?.[1] ?? '?';
      const stored = await app.container.db.selectFrom('connections').selectAll().execute();
      found[`callback, provider ${mode}`] =
        `${outcome.status} ${code} in ${round1(ms)} ms, ${stored.length} connection(s) stored`;
      if (outcome.status === 500 || outcome.status < 500 || stored.length !== 0 || ms > HTTP_TIMEOUT_MS + 1500) {
        problems.push(`callback ${mode}`);
      }
    }

    // A connection to renew, then every fault in turn during its renewal.
    provider.mode = 'pass';
    expect((await connect(app.agent(), { account: ODD_ACCOUNT.igUserId })).headers.location).toBe('/account');
    const [original] = await storedTokens(app);
    app.clock.advance(51 * DAY);
    for (const mode of FAULTS) {
      provider.mode = mode;
      const started = performance.now();
      const summary = await app.container.createKeeper().sweep();
      const ms = performance.now() - started;
      const [row] = await app.container.db.selectFrom('connections').selectAll().execute();
      const [token] = await storedTokens(app);
      const kept = token === original && row?.status === 'active';
      found[`renewal, provider ${mode}`] =
        `${JSON.stringify(summary.byOutcome)} in ${round1(ms)} ms; token kept: ${kept}; still valid: ${app.sandbox.tokenInfo(token as string)?.invalidated === undefined}`;
      if (!kept || summary.claimed !== 1) problems.push(`renewal ${mode}`);
      // Past the backoff for the next fault.
      await app.container.db.updateTable('connections').set({ backoff_until: null, next_action_at: 0 }).execute();
    }
    provider.mode = 'pass';
    const recovered = await app.container.createKeeper().sweep();
    found['renewal once the provider is well again'] = JSON.stringify(recovered.byOutcome);
    const log = app.logs.join('');

    report({
      scenario: 'provider hangs, resets, answers garbage',
      did: [
        `app with HTTP_TIMEOUT_MS=${HTTP_TIMEOUT_MS}; its token and Graph URLs pointed at a proxy in front of the sandbox`,
        `for each of ${FAULTS.join(', ')}: a connect callback whose code exchange met it, then a keeper renewal that met it`,
      ],
      found: { ...found, 'unexpected errors logged': (log.match(/unexpected error/g) ?? []).length },
    });
    expect(problems).toEqual([]);
    expect(recovered.byOutcome).toEqual({ ok: 1 });
    expect(log).not.toContain('unexpected error');
  });
});
