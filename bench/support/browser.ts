import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * A minimal browser for the connect flow: its own cookie jar (one per flow, like one person), manual
 * redirects, form posts. Connections are kept alive in shared agents, as a browser pool would.
 */
export const keepAliveAgent = new Agent({ keepAlive: true, maxSockets: 256 });

/**
 * What lies between the browser and the servers. `proxy`: igconnect's public https origin is served by
 * a TLS-terminating proxy; a request to it goes to `upstream` over loopback http with the headers such a
 * proxy adds (X-Forwarded-Proto: https), so igconnect runs as behind a trusted proxy and the proxy's own
 * TLS work stays out of every figure. `ca`: the authority that signed the https sandbox's certificate.
 */
export interface Network {
  proxy?: { origin: string; upstream: string };
  ca?: Buffer;
}

/** Headers a TLS-terminating proxy adds to what it forwards (203.0.113.0/24 is a documentation range). */
export const PROXY_HEADERS = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' };

const httpsAgents = new Map<Buffer, HttpsAgent>();
function httpsAgent(ca: Buffer | undefined): HttpsAgent {
  const key = ca ?? Buffer.alloc(0);
  let agent = httpsAgents.get(key);
  if (!agent) {
    agent = new HttpsAgent({ keepAlive: true, maxSockets: 256, ...(ca ? { ca } : {}) });
    httpsAgents.set(key, agent);
  }
  return agent;
}

export interface Page {
  status: number;
  location: string | undefined;
  body: string;
}

export class Browser {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly network: Network = {}) {}

  get(url: string, headers: Record<string, string> = {}): Promise<Page> {
    return this.send('GET', url, undefined, headers);
  }

  post(url: string, form: URLSearchParams, headers: Record<string, string> = {}): Promise<Page> {
    return this.send('POST', url, form.toString(), {
      'content-type': 'application/x-www-form-urlencoded',
      ...headers,
    });
  }

  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  private send(method: string, url: string, body: string | undefined, headers: Record<string, string>): Promise<Page> {
    const cookie = this.cookieHeader();
    const { proxy, ca } = this.network;
    const proxied = proxy !== undefined && url.startsWith(`${proxy.origin}/`);
    const target = proxied ? `${proxy.upstream}${url.slice(proxy.origin.length)}` : url;
    const secure = target.startsWith('https:');
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : request)(
        target,
        {
          method,
          agent: secure ? httpsAgent(ca) : keepAliveAgent,
          headers: {
            ...(proxied ? { ...PROXY_HEADERS, host: new URL(url).host } : {}),
            ...headers,
            ...(cookie ? { cookie } : {}),
            ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
          },
          timeout: 30_000,
        },
        (res) => {
          // One loopback host for app and sandbox would mix their cookies; only the app sets any.
          for (const line of res.headers['set-cookie'] ?? []) {
            const [pair] = line.split(';');
            const eq = pair?.indexOf('=') ?? -1;
            if (pair && eq > 0) this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
          }
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              location: res.headers.location,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

function expectStatus(page: Page, status: number, step: string): Page {
  if (page.status !== status)
    throw new Error(`${step}: expected ${status}, got ${page.status} ${page.body.slice(0, 200)}`);
  return page;
}

/**
 * Start → sandbox consent page → Allow → callback (code exchange, long-lived exchange, /me, store) →
 * status page. The same steps test/auth/connect-flow.test.ts takes, over real HTTP.
 */
export async function connectFlow(browser: Browser, appUrl: string, account: string): Promise<void> {
  const start = expectStatus(await browser.get(`${appUrl}/auth/instagram`), 302, 'start');
  const consent = expectStatus(await browser.get(start.location ?? ''), 200, 'consent page');
  const requestId = /name="request"\s+value="([^"]+)"/.exec(consent.body)?.[1];
  if (!requestId) throw new Error('consent page: no request id');
  const authorizeUrl = new URL(start.location ?? '');
  const decided = expectStatus(
    await browser.post(
      `${authorizeUrl.origin}${authorizeUrl.pathname}`,
      new URLSearchParams({ request: requestId, decision: 'allow', account }),
    ),
    302,
    'consent post',
  );
  const done = expectStatus(await browser.get(decided.location ?? ''), 303, 'callback');
  const status = expectStatus(await browser.get(new URL(done.location ?? '', appUrl).toString()), 200, 'status page');
  if (!status.body.includes('Connected accounts')) throw new Error('status page: unexpected content');
}

/**
 * The sandbox's share of a flow, alone: the same five requests the flow sends to it (consent page,
 * consent post, code exchange, long-lived exchange, /me), without igconnect in between.
 */
export async function sandboxOnlyFlow(
  browser: Browser,
  sandbox: { url: string; clientId: string; clientSecret: string; redirectUri: string; apiVersion: string },
  account: string,
): Promise<void> {
  const authorize = new URL(`${sandbox.url}/oauth/authorize`);
  authorize.search = new URLSearchParams({
    client_id: sandbox.clientId,
    redirect_uri: sandbox.redirectUri,
    response_type: 'code',
    scope: 'instagram_business_basic',
    state: 'bench-state-0123456789abcdef0123456789abcdef',
  }).toString();
  const consent = expectStatus(await browser.get(authorize.toString()), 200, 'sandbox consent page');
  const requestId = /name="request"\s+value="([^"]+)"/.exec(consent.body)?.[1];
  if (!requestId) throw new Error('sandbox consent page: no request id');
  const decided = expectStatus(
    await browser.post(
      `${sandbox.url}/oauth/authorize`,
      new URLSearchParams({ request: requestId, decision: 'allow', account }),
    ),
    302,
    'sandbox consent post',
  );
  const code = new URL(decided.location ?? '').searchParams.get('code') ?? '';
  const token = expectStatus(
    await browser.post(
      `${sandbox.url}/oauth/access_token`,
      new URLSearchParams({
        client_id: sandbox.clientId,
        client_secret: sandbox.clientSecret,
        grant_type: 'authorization_code',
        redirect_uri: sandbox.redirectUri,
        code,
      }),
    ),
    200,
    'sandbox code exchange',
  );
  const shortLived = /"access_token":"([^"]+)"/.exec(token.body)?.[1] ?? '';
  const exchange = expectStatus(
    await browser.get(
      `${sandbox.url}/graph/access_token?${new URLSearchParams({
        grant_type: 'ig_exchange_token',
        client_secret: sandbox.clientSecret,
        access_token: shortLived,
      }).toString()}`,
    ),
    200,
    'sandbox long-lived exchange',
  );
  const longLived = /"access_token":"([^"]+)"/.exec(exchange.body)?.[1] ?? '';
  expectStatus(
    await browser.get(
      `${sandbox.url}/graph/${sandbox.apiVersion}/me?fields=id,user_id,username,name,account_type,profile_picture_url,followers_count,media_count`,
      { authorization: `Bearer ${longLived}` },
    ),
    200,
    'sandbox /me',
  );
}
