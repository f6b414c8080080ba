import type { SandboxOptions } from '../../src/sandbox/sandbox';
import { getJson, postForm, type RunningSandbox, startSandbox } from './sandbox-support';

/** The Facebook Login for Business surface of the sandbox, driven over HTTP like a browser and a server would. */

export const FB_APP_ID = '810012345678901';
export const FB_APP_SECRET = 'facebook-test-secret';
export const FB_REDIRECT_URI = 'https://app.example/auth/facebook/callback';
export const FB_REDIRECT_WITH_QUERY = 'https://app.example/fb?tenant=a%20b';
export const APP_TOKEN = `${FB_APP_ID}|${FB_APP_SECRET}`;
export const VERSION = 'v25.0';

export const ALEX = { id: '10160123456789013', name: 'Alex Rivera' };
export const SAM = { id: '10160987654321011', name: 'Sam Okafor' };
export const MORGAN = { id: '10160555555555557', name: 'Morgan Blake' };
export const PAGES = {
  sunny: { id: '112233445566771', name: 'Sunny Bakery', ig: '17841405793187219', username: 'sunny.bakery' },
  trail: { id: '112233445566773', name: 'Trail Runner Jo', ig: '17841401234567893', username: 'trail.runner.jo' },
  corner: { id: '112233445566775', name: 'Corner Shop' },
  pixel: { id: '112233445566777', name: 'Pixel Garden Studio', ig: '17841407654321097' },
  harbor: { id: '112233445566779', name: 'Harbor Coffee', ig: '17841409876543213' },
};
export const DEFAULT_SCOPES = 'instagram_basic,pages_show_list,business_management';

export function startFacebookSandbox(overrides: Partial<SandboxOptions> = {}): Promise<RunningSandbox> {
  return startSandbox({
    facebook: {
      clientId: FB_APP_ID,
      clientSecret: FB_APP_SECRET,
      redirectUris: [FB_REDIRECT_URI, FB_REDIRECT_WITH_QUERY],
    },
    ...overrides,
  });
}

export const graphBase = (base: string) => `${base}/facebook/graph/${VERSION}`;

/** The dialog URL; a parameter given as '' is left out. */
export function dialogUrl(base: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    client_id: FB_APP_ID,
    redirect_uri: FB_REDIRECT_URI,
    state: 'st4te',
    response_type: 'code',
    scope: DEFAULT_SCOPES,
    ...params,
  });
  for (const [name, value] of [...query]) if (value === '') query.delete(name);
  return `${base}/facebook/${VERSION}/dialog/oauth?${query.toString()}`;
}

/** Every value a checkbox or radio of this name carries on the page (what a browser sends when all are ticked). */
export function valuesOf(html: string, name: string): string[] {
  return [...html.matchAll(new RegExp(`name="${name}"[^>]*value="([^"]+)"`, 'g'))].map((m) => m[1] ?? '');
}

export interface DialogChoice {
  decision?: 'allow' | 'cancel';
  person?: string;
  /** Optional permissions left ticked; default: every optional one on the page. */
  scopes?: string[];
  /** Pages left ticked; default: every Page on the page. */
  pages?: string[];
  /** Instagram accounts left ticked; default: every one on the page. */
  instagramAccounts?: string[];
  params?: Record<string, string>;
}

/** The dialog, then Allow or Cancel as a browser would; returns the redirect response. */
export async function answerDialog(base: string, choice: DialogChoice = {}): Promise<Response> {
  const consent = await fetch(dialogUrl(base, choice.params), { redirect: 'manual' });
  const html = await consent.text();
  if (consent.status !== 200) throw new Error(`dialog answered ${consent.status}: ${html}`);
  const request = /name="request"\s+value="([^"]+)"/.exec(html)?.[1] ?? '';
  const form = new URLSearchParams({ request, decision: choice.decision ?? 'allow' });
  if (choice.person) form.set('person', choice.person);
  for (const scope of choice.scopes ?? valuesOf(html, 'scopes')) form.append('scopes', scope);
  for (const page of choice.pages ?? valuesOf(html, 'pages')) form.append('pages', page);
  for (const ig of choice.instagramAccounts ?? valuesOf(html, 'instagram_accounts')) {
    form.append('instagram_accounts', ig);
  }
  return postForm(`${base}/facebook/${VERSION}/dialog/oauth`, form);
}

export function codeOf(response: Response): string {
  const code = new URL(response.headers.get('location') ?? '').searchParams.get('code');
  if (!code) throw new Error(`no code in the redirect: ${response.status} ${response.headers.get('location')}`);
  return code;
}

export async function codeFor(base: string, choice: DialogChoice = {}): Promise<string> {
  return codeOf(await answerDialog(base, choice));
}

export function exchangeUrl(base: string, code: string, overrides: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    client_id: FB_APP_ID,
    redirect_uri: FB_REDIRECT_URI,
    client_secret: FB_APP_SECRET,
    code,
    ...overrides,
  });
  return `${graphBase(base)}/oauth/access_token?${query.toString()}`;
}

async function tokenOf(url: string): Promise<string> {
  const { status, body } = await getJson(url);
  const token = (body as { access_token?: string }).access_token;
  if (status !== 200 || !token) throw new Error(`no token: ${status} ${JSON.stringify(body)}`);
  return token;
}

/** The short-lived user token of a whole dialog and code exchange. */
export async function shortUserToken(base: string, choice: DialogChoice = {}): Promise<string> {
  return tokenOf(exchangeUrl(base, await codeFor(base, choice)));
}

export function longLivedUrl(base: string, userToken: string, overrides: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    grant_type: 'fb_exchange_token',
    client_id: FB_APP_ID,
    client_secret: FB_APP_SECRET,
    fb_exchange_token: userToken,
    ...overrides,
  });
  return `${graphBase(base)}/oauth/access_token?${query.toString()}`;
}

/** Dialog, code exchange, then the long-lived exchange: what igconnect does before listing Pages. */
export async function longUserToken(base: string, choice: DialogChoice = {}): Promise<string> {
  return tokenOf(longLivedUrl(base, await shortUserToken(base, choice)));
}

export interface PageEntry {
  id: string;
  name: string;
  access_token?: string;
  instagram_business_account?: Record<string, unknown>;
}

export const ACCOUNT_FIELDS = 'id,name,access_token,instagram_business_account{id,username,name,profile_picture_url}';

export async function pagesOf(base: string, userToken: string): Promise<PageEntry[]> {
  const { status, body } = await getJson(
    `${graphBase(base)}/me/accounts?fields=${encodeURIComponent(ACCOUNT_FIELDS)}`,
    { headers: { authorization: `Bearer ${userToken}` } },
  );
  if (status !== 200) throw new Error(`/me/accounts answered ${status}: ${JSON.stringify(body)}`);
  return (body as { data: PageEntry[] }).data;
}

export function pageToken(pages: PageEntry[], pageId: string): string {
  const token = pages.find((page) => page.id === pageId)?.access_token;
  if (!token) throw new Error(`no token for Page ${pageId}`);
  return token;
}

export interface DebugData {
  app_id: string;
  type: string;
  application: string;
  data_access_expires_at: number;
  expires_at: number;
  is_valid: boolean;
  scopes: string[];
  granular_scopes: Array<{ scope: string; target_ids?: string[] }>;
  user_id: string;
  profile_id?: string;
  error?: { code: number; message: string; subcode?: number };
}

export async function debugToken(base: string, inputToken: string, appToken = APP_TOKEN): Promise<DebugData> {
  const query = new URLSearchParams({ input_token: inputToken, access_token: appToken });
  const { status, body } = await getJson(`${graphBase(base)}/debug_token?${query.toString()}`);
  if (status !== 200) throw new Error(`debug_token answered ${status}: ${JSON.stringify(body)}`);
  return (body as { data: DebugData }).data;
}

export function igUserUrl(
  base: string,
  igUserId: string,
  fields = 'id,username,name,profile_picture_url,followers_count,media_count',
) {
  return `${graphBase(base)}/${igUserId}?fields=${fields}`;
}

export const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
