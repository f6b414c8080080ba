import { createServer, type IncomingHttpHeaders, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DAY } from '../../src/shared/clock';
import { ODD_ACCOUNT, startTestApp, type TestApp } from '../support/harness';
import { row, seedConnection, storedToken } from '../support/factories';
import { apiKey, bearer } from './api-support';

/** The Graph proxy through HTTP: the app, a real database, and the sandbox's Graph endpoints. */

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A request sent exactly as written (fetch and supertest would normalise `\`, `..` and encodings). */
function raw(
  url: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<RawAnswer> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: options.headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('API: the Graph proxy', () => {
  let app: TestApp;
  let key: string;
  let connectionId: string;
  let token: string;

  beforeEach(async () => {
    app = await startTestApp();
    ({ key } = await apiKey(app));
    const seeded = await seedConnection(app, {
      account: ODD_ACCOUNT.igUserId,
      issuedAt: app.clock.now() - 2 * DAY,
      scopes: ['instagram_business_basic', 'instagram_business_content_publish'],
    });
    connectionId = seeded.id;
    token = storedToken(app, seeded);
    app.sandbox.resetCalls();
  });
  afterEach(async () => {
    await app.close();
  });

  const proxy = (path: string) => `/api/v1/connections/${connectionId}/proxy/${path}`;
  const get = (path: string) => app.agent().get(proxy(path)).set(bearer(key));

  it('when /me is asked for, then the sandbox answer comes back as Instagram sent it, with its usage header', async () => {
    const response = await get('me?fields=id,user_id,username');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['x-app-usage']).toBe(JSON.stringify({ call_count: 1, total_cputime: 1, total_time: 1 }));
    expect(response.headers['cache-control']).toBe('no-store');
    // Ids stay exact: the body is passed on as text, never parsed and rebuilt.
    expect(response.text).toBe(
      `{"id":"${ODD_ACCOUNT.appScopedId}","user_id":"${ODD_ACCOUNT.igUserId}","username":"sunny.bakery"}`,
    );
    expect(app.sandbox.calls.me).toBe(1);
    expect(response.text).not.toContain(token);
    expect(app.logs.join('\n')).not.toContain(token);
  });

  it('when Graph answers an error, then its status and body come back unchanged', async () => {
    const response = await get('me?fields=nope');
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 100, type: 'IGApiException' });
    expect((await row(app, connectionId)).status).toBe('active');
  });

  it('when media are listed over pages, then the paging URLs come back without the token and work through the proxy', async () => {
    const first = await get('me/media?fields=id,caption&limit=2');
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    expect(first.text).not.toContain(token);
    const next = new URL(first.body.paging.next as string);
    expect(next.searchParams.has('access_token')).toBe(false);
    expect(next.searchParams.get('limit')).toBe('2');
    const below = next.pathname.replace(/^.*\/graph\/v\d+\.\d+\//, '');
    const second = await get(`${below}${next.search}`);
    expect(second.status).toBe(200);
    expect(second.body.data[0].id).not.toBe(first.body.data[0].id);
    expect(second.text).not.toContain(token);
  });

  it('when a JSON or a form body is posted, then it reaches Graph as sent', async () => {
    const json = await app
      .agent()
      .post(proxy('me/media'))
      .set(bearer(key))
      .set('Content-Type', 'application/json')
      .send('{"image_url":"https://example.com/a.jpg","caption":"from json"}');
    expect(json.status).toBe(200);
    const form = await app
      .agent()
      .post(proxy(`${ODD_ACCOUNT.igUserId}/media`))
      .set(bearer(key))
      .type('form')
      .send('image_url=https%3A%2F%2Fexample.com%2Fb.jpg&caption=from+form');
    expect(form.status).toBe(200);
    for (const [created, caption] of [
      [json, 'from json'],
      [form, 'from form'],
    ] as const) {
      const container = await get(`${created.body.id}?fields=id,caption,status_code`);
      expect(container.body).toEqual({ id: created.body.id, caption, status_code: 'FINISHED' });
    }
  });

  it('when DELETE is proxied, then Graph receives a DELETE and its refusal comes back', async () => {
    const response = await app.agent().delete(proxy('17841400000000001')).set(bearer(key));
    expect(response.status).toBe(400);
    expect(response.body.error.message).toMatch(/^Unsupported delete request/);
  });

  it('when the body is neither JSON nor a form, or JSON that does not parse, then it is refused before Graph', async () => {
    const text = await app.agent().post(proxy('me/media')).set(bearer(key)).set('Content-Type', 'text/plain').send('x');
    expect([text.status, text.body.error.code]).toEqual([415, 'unsupported_media_type']);
    const broken = await app
      .agent()
      .post(proxy('me/media'))
      .set(bearer(key))
      .set('Content-Type', 'application/json')
      .send('{"image_url":');
    expect([broken.status, broken.body.error.code]).toEqual([400, 'invalid_request']);
  });

  const HOSTILE_PATHS = [
    'https://evil.example/x',
    'https:evil.example',
    '//evil.example/x',
    '/evil',
    '..',
    '../oauth/access_token',
    'me/../../refresh_access_token',
    './me',
    'me/./media',
    '%2e%2e/refresh_access_token',
    '.%2E/x',
    '%2E%2E',
    'me%2fmedia',
    'me%2F..%2Frefresh_access_token',
    'me%5cmedia',
    'me\\media',
    '..\\x',
    'me%00',
    'me%0d%0aHost:%20evil',
    'me%7f',
    'me//media',
    'me/',
    'me/media/',
    '',
    '%',
    'me%zz',
    'me@evil.example',
    'me;x',
    'me:80',
    '%252e%252e',
    'a/b/c/d/e/f/g/h/i',
  ];

  it.each(HOSTILE_PATHS)('when the path is %p, then it is 400 and Graph is never called', async (path) => {
    const answer = await raw(app.url, { path: proxy(path), headers: bearer(key) });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text).error.code).toBe('invalid_request');
    expect(app.sandbox.calls.me).toBe(0);
    expect(app.sandbox.calls.refresh).toBe(0);
  });

  it('when a token is put in the query, then it never reaches Graph in any spelling', async () => {
    // The API's own rule refuses an `access_token` parameter outright (it could be the API key)...
    expect((await get(`me?access_token=${token}`)).status).toBe(401);
    // ...and what Express's parsed query cannot see (it stops at 1,000 parameters) the proxy drops itself:
    // were it passed on, the sandbox would use it, refuse it (190) and the connection would be marked.
    const filler = Array.from({ length: 1000 }, (_, i) => `f${i}=1`).join('&');
    for (const name of ['access_token', 'ACCESS_TOKEN', 'access%5Ftoken', 'access_token%5B%5D']) {
      const response = await get(`me?fields=id&${filler}&${name}=IGAAbogus0000000000000000`);
      expect(response.status).toBe(200);
    }
    expect((await row(app, connectionId)).status).toBe('active');
  });

  it('when Graph answers 190, then the connection needs reconnecting at once and later calls get 409 without a call', async () => {
    app.sandbox.revokeTokens(ODD_ACCOUNT.igUserId);
    const refused = await get('me');
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 190, error_subcode: 467 });
    const after = await row(app, connectionId);
    expect([after.status, after.status_reason]).toEqual(['needs_reconnect', 'revoked']);
    const calls = app.sandbox.calls.me;
    const again = await get('me');
    expect([again.status, again.body.error.code]).toEqual([409, 'needs_reconnect']);
    expect(app.sandbox.calls.me).toBe(calls);
  });

  it('when the connection is unknown or the key missing, then nothing is called', async () => {
    const unknown = await app
      .agent()
      .get('/api/v1/connections/00000000-0000-4000-8000-000000000000/proxy/me')
      .set(bearer(key));
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'not_found']);
    expect((await app.agent().get(proxy('me'))).status).toBe(401);
    expect(app.sandbox.calls.me).toBe(0);
  });

  it("when Instagram's answer carries cookies and hop-by-hop headers, then only its type and usage headers come back", async () => {
    app.sandbox.script('me', {
      headers: {
        'Set-Cookie': 'fr=abc; Path=/; HttpOnly',
        'Proxy-Authenticate': 'Basic realm="graph"',
        'Keep-Alive': 'timeout=77',
        'X-Business-Use-Case-Usage': '{"17841405793187219":[{"type":"instagram","call_count":3}]}',
        'X-Fb-Trace-Id': 'AbCdEf123',
        'X-Other': 'not passed',
        'WWW-Authenticate': 'OAuth "Facebook Platform"',
      },
    });
    const response = await get('me');
    expect(response.status).toBe(200);
    expect(response.headers['x-business-use-case-usage']).toBe(
      '{"17841405793187219":[{"type":"instagram","call_count":3}]}',
    );
    expect(response.headers['x-fb-trace-id']).toBe('AbCdEf123');
    for (const name of ['set-cookie', 'proxy-authenticate', 'x-other', 'www-authenticate']) {
      expect(response.headers[name]).toBeUndefined();
    }
    expect(response.headers['keep-alive']).not.toBe('timeout=77');
  });

  it('when the proxied call is in the OpenAPI document, then its path parameter is declared', async () => {
    const doc = (await app.agent().get('/api/v1/openapi.json')).body;
    const ops = doc.paths['/api/v1/connections/{id}/proxy/{path}'];
    expect(Object.keys(ops).sort()).toEqual(['delete', 'get', 'post']);
    expect(ops.get.parameters.map((p: { name: string }) => p.name)).toEqual(['id', 'path']);
  });
});

/** What reaches the Graph host, seen by a stand-in for it (a recording HTTP server), and its failures. */
describe('API: the Graph proxy, seen from the Graph host', () => {
  let app: TestApp;
  let key: string;
  let graph: Server;
  let seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[];
  let answer: (res: import('node:http').ServerResponse) => void;

  beforeEach(async () => {
    seen = [];
    answer = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    graph = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        answer(res);
      });
    });
    await new Promise<void>((resolve) => graph.listen(0, '127.0.0.1', resolve));
    const { port } = graph.address() as AddressInfo;
    app = await startTestApp({
      env: { INSTAGRAM_GRAPH_URL: `http://127.0.0.1:${port}/graph`, HTTP_TIMEOUT_MS: '500' },
    });
    ({ key } = await apiKey(app));
  });
  afterEach(async () => {
    await app.close();
    graph.closeAllConnections();
    await new Promise<void>((resolve) => graph.close(() => resolve()));
  });

  it('when the caller sends cookies, hop-by-hop headers and its own Authorization, then Graph sees only ours', async () => {
    const seeded = await seedConnection(app);
    const body = '{"children":[17841405793187219123,1.50],"caption":"é"}';
    const response = await raw(app.url, {
      method: 'POST',
      path: `/api/v1/connections/${seeded.id}/proxy/me/media?caption=x&fields=id`,
      headers: {
        ...bearer(key),
        'Content-Type': 'application/json; charset=utf-8',
        Cookie: 'igconnect.sid=secret-session',
        Connection: 'keep-alive, X-Hop',
        'X-Hop': 'should not pass',
        'Keep-Alive': 'timeout=5',
        'Proxy-Authorization': 'Basic c2VjcmV0',
        'X-Forwarded-For': '10.0.0.1',
        'X-Custom': 'nope',
      },
      body,
    });
    expect(response.status).toBe(200);
    expect(response.text).toBe('{"ok":true}');
    const [call] = seen;
    expect(call?.method).toBe('POST');
    expect(call?.url).toBe('/graph/v25.0/me/media?caption=x&fields=id');
    // Byte for byte: big numbers and trailing zeros survive, as a parsed-and-rebuilt body would not.
    expect(call?.body).toBe(body);
    expect(call?.headers.authorization).toBe(`Bearer ${storedToken(app, seeded)}`);
    expect(call?.headers['content-type']).toBe('application/json; charset=utf-8');
    for (const name of ['cookie', 'x-hop', 'proxy-authorization', 'x-forwarded-for', 'x-custom']) {
      expect(call?.headers[name]).toBeUndefined();
    }
    expect(JSON.stringify(call?.headers)).not.toContain(key);
  });

  it('when Graph does not answer before the deadline, then it is 502 JSON', async () => {
    const seeded = await seedConnection(app);
    answer = () => undefined;
    const response = await app.agent().get(`/api/v1/connections/${seeded.id}/proxy/me`).set(bearer(key));
    expect(response.status).toBe(502);
    expect(response.body.error).toEqual({ code: 'provider_unavailable', message: expect.stringMatching(/in time/) });
  });

  it('when Graph cannot be reached, then it is 502 JSON', async () => {
    const seeded = await seedConnection(app);
    answer = (res) => res.socket?.destroy();
    const response = await app.agent().get(`/api/v1/connections/${seeded.id}/proxy/me`).set(bearer(key));
    expect(response.status).toBe(502);
    expect(response.body.error.code).toBe('provider_unavailable');
  });

  it('when Graph redirects, then the redirect is not followed', async () => {
    const seeded = await seedConnection(app);
    answer = (res) => res.writeHead(302, { location: 'http://127.0.0.1:9/elsewhere' }).end();
    const response = await app.agent().get(`/api/v1/connections/${seeded.id}/proxy/me`).set(bearer(key));
    expect(response.status).toBe(302);
    expect(response.headers.location).toBeUndefined();
    expect(seen).toHaveLength(1);
  });
});
