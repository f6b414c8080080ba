import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createConnectionPool,
  createHttpClient,
  type HttpClient,
  HttpTransportError,
} from '../../src/shared/http-client';
import { createLogger } from '../../src/shared/logger';

/** The outbound client against a real HTTP server on loopback: connections, redirects, deadlines. */
describe('outbound HTTP client', () => {
  let server: Server;
  let origin: string;
  let connections: number;
  let requests: { method: string; url: string; body: string; headers: IncomingMessage['headers'] }[];
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  let pool: ReturnType<typeof createConnectionPool>;
  let http: HttpClient;

  beforeEach(async () => {
    connections = 0;
    requests = [];
    handler = (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-business-use-case-usage', '{"1":[]}');
      res.end('{"ok":true}');
    };
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        requests.push({
          method: req.method ?? '',
          url: req.url ?? '',
          body: Buffer.concat(chunks).toString(),
          headers: req.headers,
        });
        handler(req, res);
      });
    });
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    pool = createConnectionPool();
    http = createHttpClient({ timeoutMs: 10_000, logger: createLogger({ level: 'silent' }), pool });
  });

  afterEach(async () => {
    await pool.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('when the server hints a one-second keep-alive, then consecutive calls share one connection', async () => {
    // Node's server hints `Keep-Alive: timeout=1` for this; undici's own margin would close after each call.
    server.keepAliveTimeout = 1000;
    for (let i = 0; i < 3; i++) {
      expect((await http({ method: 'GET', url: `${origin}/me?i=${i}` })).status).toBe(200);
      // The pool frees a connection just after the body has ended; a call in that same tick would open another.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(requests).toHaveLength(3);
    expect(connections).toBe(1);
  });

  it('when a form is posted, then it is sent url-encoded and the answer comes back with its headers', async () => {
    const response = await http({ method: 'POST', url: `${origin}/oauth/access_token`, form: { code: 'a b&c' } });
    expect(response.text).toBe('{"ok":true}');
    expect(response.headers.get('x-business-use-case-usage')).toBe('{"1":[]}');
    expect(requests[0]?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(requests[0]?.headers.accept).toBe('application/json');
    expect(requests[0]?.body).toBe('code=a+b%26c');
  });

  it('when the server redirects, then the redirect is returned, not followed', async () => {
    handler = (_req, res) => {
      res.statusCode = 302;
      res.setHeader('location', '/elsewhere');
      res.end();
    };
    const response = await http({ method: 'POST', url: `${origin}/oauth/access_token`, form: { client_secret: 's' } });
    expect(response.status).toBe(302);
    expect(requests.map((r) => r.url)).toEqual(['/oauth/access_token']);
  });

  it('when the server does not answer before the deadline, then the call fails as a timeout', async () => {
    handler = () => undefined;
    await expect(http({ method: 'GET', url: `${origin}/me?access_token=x`, timeoutMs: 200 })).rejects.toEqual(
      new HttpTransportError('timeout', `${new URL(origin).host}/me`),
    );
  });

  it('when nothing listens, then the call fails as a network error naming host and path only', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await http({ method: 'GET', url: `http://127.0.0.1:${port}/me?access_token=secret` }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HttpTransportError);
    expect((error as HttpTransportError).kind).toBe('network');
    expect((error as HttpTransportError).message).not.toContain('secret');
  });
});
