import express, { type Request, type RequestHandler, type Response } from 'express';
import type { FacebookState } from './facebook-state';
import type { SandboxAccount } from './sandbox-accounts';
import type { SandboxState } from './sandbox-state';
import { ACCOUNT_TYPE_LABELS, renderView, type SandboxView } from './sandbox-views';
import type { SandboxEndpoint, ScriptedResponse } from './sandbox-wire';

/**
 * What every sandbox route group shares: reading requests as sent, writing answers the way Meta does,
 * scripted answers, and the sandbox's own HTML pages.
 */

export interface SandboxRouteOptions {
  clientId: string;
  clientSecret: string;
  redirectUris: readonly string[];
  /** Mount path without a trailing slash ('' when mounted at the root). */
  basePath: string;
  /** Origin without a trailing slash. */
  publicUrl: string;
  logger?: { error(details: object, message: string): void } | undefined;
  facebook: FacebookRouteOptions;
}

/** The Facebook app the Facebook surface accepts (its id and secret live in FacebookState). */
export interface FacebookRouteOptions {
  /** Registered Valid OAuth Redirect URIs, matched byte for byte. */
  redirectUris: readonly string[];
  /** The app's name, as debug_token's `application` and the dialog show it. */
  appName: string;
}

const JSON_TYPE = 'application/json; charset=UTF-8';
const FORM_TYPE = 'application/x-www-form-urlencoded';

/** Query parameters as sent, repeated keys kept (Express's parsed `req.query` hides or merges them). */
export function queryOf(req: Request): URLSearchParams {
  const index = req.url.indexOf('?');
  return new URLSearchParams(index === -1 ? '' : req.url.slice(index + 1));
}

/** A route parameter as a single string (Express types them as possibly repeated). */
export function routeParam(req: Request, name: string): string {
  const value: unknown = req.params[name];
  return typeof value === 'string' ? value : '';
}

/** The urlencoded body as sent. Another parser may have run first (an app-wide one): accept its object. */
export function formOf(req: Request): URLSearchParams {
  const body: unknown = req.body;
  if (typeof body === 'string') return new URLSearchParams(body);
  const params = new URLSearchParams();
  if (body !== null && typeof body === 'object') {
    for (const [key, value] of Object.entries(body)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item === 'string') params.append(key, item);
      }
    }
  }
  return params;
}

/** Raw text of urlencoded bodies, parsed with URLSearchParams so duplicated fields stay visible. */
export function formBody(limit: string): RequestHandler {
  return express.text({ type: FORM_TYPE, limit });
}

export function send(res: Response, response: ScriptedResponse): void {
  const { status = 200, body, headers = {} } = response;
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    res.setHeader('Content-Type', JSON_TYPE);
  }
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(status).send(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body));
}

export function sendJson(res: Response, text: string): void {
  res.status(200).setHeader('Content-Type', JSON_TYPE);
  res.setHeader('Cache-Control', 'no-store');
  res.send(text);
}

export function redirect(res: Response, status: 302 | 303, location: string): void {
  res.status(status).setHeader('Location', location);
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}

/** Waits (real time) unless the client disconnects first; true when the response can still be sent. */
function delay(res: Response, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(!res.writableEnded && !res.destroyed);
    }, ms);
    res.once('close', onClose);
  });
}

/** The 4xx an error carries (a body parser's 413, a bad percent-encoding's 400), else 500. */
export function statusOf(err: unknown): number {
  if (err !== null && typeof err === 'object' && 'status' in err && typeof err.status === 'number') {
    if (err.status >= 400 && err.status < 500) return err.status;
  }
  return 500;
}

/**
 * Counts the request, then plays the next scripted answer if one is queued. An item with neither status
 * nor body only delays (and adds its headers) before the normal answer.
 */
export function scriptedEndpoint(count: () => void, take: () => ScriptedResponse | undefined): RequestHandler {
  return async (_req, res, next) => {
    count();
    const scripted = take();
    if (!scripted) return next();
    if (scripted.delayMs !== undefined && scripted.delayMs > 0) {
      // A client that timed out has gone: answer nobody, and leave no timer behind to hold the process.
      if (!(await delay(res, scripted.delayMs))) return;
    }
    if (scripted.status === undefined && scripted.body === undefined) {
      for (const [header, value] of Object.entries(scripted.headers ?? {})) res.setHeader(header, value);
      return next();
    }
    send(res, scripted);
  };
}

/** What a route group is given: the sandbox's memory, its settings, and helpers bound to both. */
export interface SandboxRouteContext {
  state: SandboxState;
  /** The Facebook Login for Business surface's memory. */
  facebook: FacebookState;
  options: SandboxRouteOptions;
  /** Counts the request, then plays the endpoint's next scripted answer if one is queued. */
  endpoint(name: SandboxEndpoint): RequestHandler;
  page(res: Response, status: number, view: SandboxView, data: object): Promise<void>;
  /**
   * Authorization problems are shown to the person, never redirected: that is what registration is for.
   * `brand` names whose page it imitates (default Instagram).
   */
  errorPage(res: Response, status: number, title: string, detail: string, brand?: SandboxBrand): Promise<void>;
  /** Path of the account's generated avatar below the sandbox's mount point. */
  avatarPath(account: SandboxAccount): string;
  /** An account as the consent screen and the accounts page list it. */
  accountCard(account: SandboxAccount): SandboxAccount & { accountTypeLabel: string; avatarUrl: string };
}

export type SandboxBrand = 'Instagram' | 'Facebook';

export function createRouteContext(
  state: SandboxState,
  facebook: FacebookState,
  options: SandboxRouteOptions,
): SandboxRouteContext {
  const { basePath } = options;
  const avatarPath = (account: SandboxAccount) => `${basePath}/avatars/${account.igUserId}.svg`;

  async function page(res: Response, status: number, view: SandboxView, data: object) {
    const html = await renderView(view, { basePath, brand: 'Instagram', ...data });
    res.status(status).setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.send(html);
  }

  function endpoint(name: SandboxEndpoint): RequestHandler {
    return scriptedEndpoint(
      () => {
        state.calls[name] += 1;
      },
      () => state.takeScript(name),
    );
  }

  return {
    state,
    facebook,
    options,
    endpoint,
    page,
    errorPage: (res, status, title, detail, brand = 'Instagram') =>
      page(res, status, 'error', { title, detail, brand }),
    avatarPath,
    accountCard: (account) => ({
      ...account,
      accountTypeLabel: ACCOUNT_TYPE_LABELS[account.accountType],
      avatarUrl: avatarPath(account),
    }),
  };
}
