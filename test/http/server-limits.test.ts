import { connect as tcpConnect, type Socket } from 'node:net';
import { type RunningProcess, sharedSecrets, startWebProcess, waitFor } from '../support/processes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The web process's own limits (src/main/web.ts): a client that sends its headers too slowly is cut
 * off, and connections beyond the cap are refused, so slow or flooding clients cannot hold the server.
 */
describe('server limits', () => {
  let dir: string;
  let app: RunningProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'igconnect-limits-'));
    app = await startWebProcess({
      ...sharedSecrets(),
      DATABASE_URL: `sqlite:${join(dir, 'igconnect.db')}`,
      SERVER_HEADERS_TIMEOUT_MS: '1000',
      SERVER_REQUEST_TIMEOUT_MS: '2000',
      SERVER_MAX_CONNECTIONS: '10',
      KEEPER_IN_WEB: 'false',
    });
  }, 30_000);
  afterAll(async () => {
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A client that opens a request and then stalls half-way through its headers. */
  function slowClient(): Promise<{ socket: Socket; closed: Promise<string> }> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect(app.port, '127.0.0.1', () => {
        socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
        resolve({ socket, closed });
      });
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString()));
      const closed = new Promise<string>((done) => socket.on('close', () => done(received)));
      socket.on('error', () => undefined);
      socket.once('error', reject);
    });
  }

  /** /healthz over a new connection of its own (fetch would reuse a pooled keep-alive connection). */
  const healthy = () =>
    new Promise<boolean>((resolve) => {
      let received = '';
      const socket = tcpConnect(app.port, '127.0.0.1', () =>
        socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'),
      );
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(/^HTTP\/1\.1 200/.test(received)));
    });

  it('when a client stalls inside its headers, then the server answers 408 and closes the connection', async () => {
    const client = await slowClient();
    const received = await client.closed;
    expect(received).toMatch(/^HTTP\/1\.1 408/);
  });

  it('when more clients connect than the cap allows, then the extra ones are refused and service resumes once the slow ones are cut off', async () => {
    const slow = await Promise.all(Array.from({ length: 10 }, () => slowClient()));
    // The cap is reached: a new connection is closed without an answer.
    expect(await healthy()).toBe(false);
    await Promise.all(slow.map((c) => c.closed));
    await waitFor(async () => ((await healthy()) ? true : undefined), 'the server to accept again');
  });
});
