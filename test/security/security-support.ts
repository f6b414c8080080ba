import { request as httpRequest } from 'node:http';
import { tokenAad } from '../../src/connections/token-vault';
import { type Agent, startTestApp, type TestApp } from '../support/harness';
import { INSTAGRAM, type ProviderCase } from '../support/providers';

/** Helpers shared by the hostile-input suite. Every case runs against the real app and sandbox over HTTP. */

export const PRODUCTION_ORIGIN = 'https://connect.example.com';

/**
 * The app as deployed behind a TLS proxy: PUBLIC_URL https, TRUST_PROXY on for loopback, while the
 * provider's URLs still reach the sandbox on the loopback port (test mode allows http there).
 */
export function startHttpsApp(
  extra: Record<string, string> = {},
  provider: ProviderCase = INSTAGRAM,
): Promise<TestApp> {
  return startTestApp({
    env: (url) => ({
      PUBLIC_URL: PRODUCTION_ORIGIN,
      TRUST_PROXY: 'loopback',
      ...provider.endpointsAt(url),
      ...extra,
    }),
  });
}

export function csrfFrom(html: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error('no CSRF token on the page');
  return token;
}

export function disconnectPaths(html: string): string[] {
  return [...html.matchAll(/action="(\/account\/connections\/[^"]+\/disconnect)"/g)].map((m) => m[1] as string);
}

export function connectionRows(app: TestApp) {
  return app.container.db.selectFrom('connections').selectAll().orderBy('connected_at').execute();
}

/** Every stored token in clear (only the test can do this: it holds the key ring). */
export async function storedTokens(app: TestApp): Promise<string[]> {
  return (await connectionRows(app)).map((row) =>
    app.container.cipher.open({ keyId: row.token_key_id, ciphertext: row.token_ciphertext }, tokenAad(row.id)),
  );
}

export function setCookies(response: { headers: Record<string, unknown> }): string[] {
  return (response.headers['set-cookie'] as string[] | undefined) ?? [];
}

export async function signedInPage(agent: Agent): Promise<string> {
  const page = await agent.get('/account');
  if (page.status !== 200) throw new Error(`/account answered ${page.status}`);
  return page.text;
}

/** A raw request, for what supertest cannot send (absolute-form targets, odd Host headers). */
export function rawGet(
  app: TestApp,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { port } = new URL(app.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: target, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export const SIGNED_OUT_MARKER = 'No accounts connected yet';
