import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSandboxAppWithControl, type SandboxControl, type SandboxOptions } from '../../src/sandbox/sandbox';
import { ManualClock } from '../../src/shared/clock';

export const CLIENT_ID = '990602627938098';
export const CLIENT_SECRET = 'sandbox-test-secret';
export const REDIRECT_URI = 'https://app.example/auth/instagram/callback';
export const BASIC = 'instagram_business_basic';
export const COMMENTS = 'instagram_business_manage_comments';
export const ODD = { igUserId: '17841405793187219', appScopedId: '26173461234567891' };
export const NOT_A_TESTER = '17841408888888881';

export interface RunningSandbox {
  /** Origin + basePath, e.g. http://127.0.0.1:1234/sandbox */
  base: string;
  control: SandboxControl;
  clock: ManualClock;
  close(): Promise<void>;
}

/** The standalone sandbox app on a real port, with a manual clock. */
export async function startSandbox(overrides: Partial<SandboxOptions> = {}): Promise<RunningSandbox> {
  const clock = new ManualClock(Date.UTC(2026, 10, 1, 12, 0, 0));
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { app, control } = createSandboxAppWithControl({
    clock,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [REDIRECT_URI, 'https://app.example/cb?tenant=a%20b'],
    basePath: '/sandbox',
    publicUrl: origin,
    ...overrides,
  });
  server.on('request', app);
  return {
    base: `${origin}/sandbox`,
    control,
    clock,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function authorizeUrl(base: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: `${BASIC},${COMMENTS}`,
    state: 'st4te',
    ...params,
  });
  return `${base}/oauth/authorize?${query.toString()}`;
}

export function pendingId(html: string): string {
  const id = /name="request"\s+value="([^"]+)"/.exec(html)?.[1];
  if (!id) throw new Error('no pending request id on the consent page');
  return id;
}

export function postForm(url: string, form: URLSearchParams | string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
}

/** Consent page then Allow/Deny, as a browser would; returns the redirect response. */
export async function decide(
  base: string,
  options: { decision?: 'allow' | 'deny'; account?: string; scopes?: string[]; params?: Record<string, string> } = {},
): Promise<Response> {
  const consent = await fetch(authorizeUrl(base, options.params), { redirect: 'manual' });
  if (consent.status !== 200) throw new Error(`consent answered ${consent.status}`);
  const form = new URLSearchParams({ request: pendingId(await consent.text()), decision: options.decision ?? 'allow' });
  if (options.account) form.set('account', options.account);
  for (const scope of options.scopes ?? [COMMENTS]) form.append('scopes', scope);
  return postForm(`${base}/oauth/authorize`, form);
}

/** A fresh authorization code for the account. */
export async function codeFor(base: string, account = ODD.igUserId, scopes?: string[]): Promise<string> {
  const response = await decide(base, { account, ...(scopes ? { scopes } : {}) });
  const code = new URL(response.headers.get('location') ?? '').searchParams.get('code');
  if (!code) throw new Error('no code in the redirect');
  return code;
}

export function tokenForm(code: string, overrides: Record<string, string> = {}): URLSearchParams {
  return new URLSearchParams({
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_type: 'authorization_code',
    redirect_uri: REDIRECT_URI,
    code,
    ...overrides,
  });
}

/** The short-lived token of a full code exchange (flat shape). */
export async function shortLivedToken(base: string, account = ODD.igUserId): Promise<string> {
  const response = await postForm(`${base}/oauth/access_token`, tokenForm(await codeFor(base, account)));
  const text = await response.text();
  const token = /"access_token":"([^"]+)"/.exec(text)?.[1];
  if (!token) throw new Error(`no token: ${text}`);
  return token;
}

export async function getJson(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as unknown, headers: response.headers };
}

/** Narrow an unknown Graph error body for assertions. */
export function graphErrorOf(body: unknown): {
  message: string;
  type: string;
  code: number;
  error_subcode?: number;
  fbtrace_id: string;
} {
  const error = (body as { error?: unknown }).error;
  if (error === null || typeof error !== 'object') throw new Error(`not a Graph error: ${JSON.stringify(body)}`);
  return error as { message: string; type: string; code: number; error_subcode?: number; fbtrace_id: string };
}
