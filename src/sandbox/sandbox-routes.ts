import express, {
  type ErrorRequestHandler,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import type { SandboxAccount } from './sandbox-accounts';
import type { SandboxControl } from './sandbox-control';
import type { SandboxState } from './sandbox-state';
import { ACCOUNT_TYPE_LABELS, avatarSvg, renderView, SANDBOX_CSS_FILE, SCOPE_DESCRIPTIONS } from './sandbox-views';
import {
  APP_USAGE_HEADER,
  duplicatedParameter,
  flatTokenBody,
  graphError,
  INSTAGRAM_LOGIN_SCOPES,
  longLivedTokenBody,
  parameter,
  redirectWithParams,
  REFRESH_MIN_AGE_MS,
  SCOPE_BASIC,
  type SandboxEndpoint,
  type ScriptedResponse,
  tokenError,
  wrappedTokenBody,
} from './sandbox-wire';

export interface SandboxRouteOptions {
  clientId: string;
  clientSecret: string;
  redirectUris: readonly string[];
  /** Mount path without a trailing slash ('' when mounted at the root). */
  basePath: string;
  /** Origin without a trailing slash. */
  publicUrl: string;
  logger?: { error(details: object, message: string): void } | undefined;
}

const JSON_TYPE = 'application/json; charset=UTF-8';
const FORM_TYPE = 'application/x-www-form-urlencoded';
const GRAPH_VERSION = /^v\d+\.\d+$/;
const ACCOUNT_ACTIONS = ['revoke', 'expire', 'password', 'remove', 'delete-data'] as const;
type AccountAction = (typeof ACCOUNT_ACTIONS)[number];
const ACTION_NOTICES: Record<AccountAction, string> = {
  revoke: 'Revoked every token of',
  expire: 'Marked every token as expired for',
  password: 'Simulated a password change (tokens invalidated) for',
  remove: 'Removed the app (tokens invalidated, signed deauthorize callback sent to the app) for',
  'delete-data': 'Sent a signed data-deletion request to the app for',
};

/** Query parameters as sent, repeated keys kept (Express's parsed `req.query` hides or merges them). */
function queryOf(req: Request): URLSearchParams {
  const index = req.url.indexOf('?');
  return new URLSearchParams(index === -1 ? '' : req.url.slice(index + 1));
}

/** A route parameter as a single string (Express types them as possibly repeated). */
function routeParam(req: Request, name: string): string {
  const value: unknown = req.params[name];
  return typeof value === 'string' ? value : '';
}

/** The urlencoded body as sent. Another parser may have run first (an app-wide one): accept its object. */
function formOf(req: Request): URLSearchParams {
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
function formBody(limit: string): RequestHandler {
  return express.text({ type: FORM_TYPE, limit });
}

function send(res: Response, response: ScriptedResponse): void {
  const { status = 200, body, headers = {} } = response;
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    res.setHeader('Content-Type', JSON_TYPE);
  }
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(status).send(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body));
}

function sendJson(res: Response, text: string): void {
  res.status(200).setHeader('Content-Type', JSON_TYPE);
  res.setHeader('Cache-Control', 'no-store');
  res.send(text);
}

function redirect(res: Response, status: 302 | 303, location: string): void {
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

function statusOf(err: unknown): number {
  if (err !== null && typeof err === 'object' && 'status' in err && typeof err.status === 'number') {
    if (err.status >= 400 && err.status < 500) return err.status;
  }
  return 500;
}

export function createSandboxRouter(
  state: SandboxState,
  control: SandboxControl,
  options: SandboxRouteOptions,
): Router {
  const router = express.Router();
  const { basePath } = options;

  const avatarUrl = (account: SandboxAccount) => `${options.publicUrl}${basePath}/avatars/${account.igUserId}.svg`;

  async function page(res: Response, status: number, view: 'consent' | 'accounts' | 'error', data: object) {
    const html = await renderView(view, { basePath, ...data });
    res.status(status).setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.send(html);
  }

  /** Authorization problems are shown to the person, never redirected: that is what registration is for. */
  const errorPage = (res: Response, status: number, title: string, detail: string) =>
    page(res, status, 'error', { title, detail });

  /**
   * Counts the request, then plays the next scripted answer if one is queued. An item with neither
   * status nor body only delays (and adds its headers) before the normal answer.
   */
  function endpoint(name: SandboxEndpoint): RequestHandler {
    return async (_req, res, next) => {
      state.calls[name] += 1;
      const scripted = state.takeScript(name);
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

  router.get('/sandbox.css', (_req, res) => {
    res.sendFile(SANDBOX_CSS_FILE, { maxAge: '1h' });
  });

  // --- 1. authorize: validate, then show the consent screen -----------------------------------------

  router.get('/oauth/authorize', endpoint('authorize'), async (req, res) => {
    const params = queryOf(req);
    const duplicated = duplicatedParameter(params);
    if (duplicated) {
      return errorPage(res, 400, 'Invalid request', `The parameter ${duplicated} was given more than once.`);
    }
    const clientId = params.get('client_id');
    if (clientId !== options.clientId) {
      return errorPage(
        res,
        400,
        'Invalid platform app',
        'The client_id is not the Instagram app id of this app (App Dashboard > Instagram > API setup with Instagram login).',
      );
    }
    const redirectUri = params.get('redirect_uri');
    if (redirectUri === null || !options.redirectUris.includes(redirectUri)) {
      return errorPage(
        res,
        400,
        'Invalid redirect_uri',
        'The redirect_uri must match a registered one exactly: scheme, host, port, path and trailing slash.',
      );
    }
    const responseType = params.get('response_type');
    if (responseType !== 'code') {
      return errorPage(res, 400, 'Invalid response_type', 'Instagram Login only supports response_type=code.');
    }
    // Comma-separated only: a space or `+` stays part of a name, which then fails as an invalid scope.
    const requested = [...new Set((params.get('scope') ?? '').split(',').filter((s) => s !== ''))];
    const invalid = requested.filter((scope) => !INSTAGRAM_LOGIN_SCOPES.includes(scope));
    if (invalid.length > 0) {
      return errorPage(
        res,
        400,
        `Invalid Scopes: ${invalid.join(', ')}`,
        'Instagram Login accepts only the instagram_business_* scopes, comma-separated. Basic Display (user_profile, user_media), the retired business_* names and Facebook Login scopes are refused.',
      );
    }
    if (!requested.includes(SCOPE_BASIC)) {
      return errorPage(
        res,
        400,
        `Invalid Scopes: ${SCOPE_BASIC} is required`,
        `Every Instagram Login request must include ${SCOPE_BASIC}.`,
      );
    }
    const forceReauth = params.has('force_reauth') && params.get('force_reauth') !== 'false';
    const requestId = state.addPending({
      clientId,
      redirectUri,
      scopes: requested,
      state: params.get('state') ?? undefined,
      forceReauth,
    });
    return page(res, 200, 'consent', {
      title: 'Allow access',
      requestId,
      clientId,
      redirectHost: new URL(redirectUri).host,
      forceReauth,
      accounts: state.accounts().map((account) => ({
        ...account,
        accountTypeLabel: ACCOUNT_TYPE_LABELS[account.accountType],
        avatarUrl: `${basePath}/avatars/${account.igUserId}.svg`,
      })),
      scopes: requested.map((scope) => ({
        name: scope,
        description: SCOPE_DESCRIPTIONS[scope] ?? scope,
        required: scope === SCOPE_BASIC,
      })),
    });
  });

  // --- 2. the person's decision ----------------------------------------------------------------------

  router.post('/oauth/authorize', formBody('8kb'), async (req, res) => {
    const form = formOf(req);
    const duplicated = duplicatedParameter(form, ['request', 'decision', 'account']);
    if (duplicated) {
      return errorPage(res, 400, 'Invalid request', `The field ${duplicated} was given more than once.`);
    }
    // Only the server-side record counts: client_id, redirect_uri and scopes are never read from the form.
    const pending = state.takePending(form.get('request') ?? '');
    if (!pending) {
      return errorPage(
        res,
        400,
        'This request is no longer valid',
        'The authorization request is unknown, expired or was already answered. Start again from the app.',
      );
    }
    const stateParam: Array<[string, string]> = pending.state === undefined ? [] : [['state', pending.state]];
    const decision = form.get('decision');
    if (decision === 'deny') {
      return redirect(
        res,
        302,
        redirectWithParams(pending.redirectUri, [
          ['error', 'access_denied'],
          ['error_reason', 'user_denied'],
          ['error_description', 'The user denied your request'],
          ...stateParam,
        ]),
      );
    }
    if (decision !== 'allow') {
      return errorPage(res, 400, 'Invalid request', 'Choose Allow or Deny.');
    }
    const accountId = parameter(form, 'account');
    const account = accountId === undefined ? state.accounts()[0] : state.findAccount(accountId);
    if (!account) return errorPage(res, 400, 'Unknown account', 'Pick one of the listed test accounts.');
    // Optional scopes can be declined; scopes that were not requested cannot be added here.
    const ticked = form.getAll('scopes');
    const granted = pending.scopes.filter((scope) => scope === SCOPE_BASIC || ticked.includes(scope));
    const code = state.issueCode({
      clientId: pending.clientId,
      redirectUri: pending.redirectUri,
      igUserId: account.igUserId,
      scopes: granted,
    });
    return redirect(res, 302, redirectWithParams(pending.redirectUri, [['code', code], ...stateParam]));
  });

  // --- 3. code → short-lived token ---------------------------------------------------------------

  router.post('/oauth/access_token', endpoint('token'), formBody('16kb'), (req, res) => {
    const form = formOf(req);
    // The code works once: the first presentation burns it, even if this exchange fails for another reason.
    const codes = form.getAll('code');
    const record = codes.length === 1 && codes[0] ? state.consumeCode(codes[0]) : undefined;

    const fields = ['client_id', 'client_secret', 'grant_type', 'redirect_uri', 'code'];
    const bad = duplicatedParameter(form, fields) ?? fields.find((field) => parameter(form, field) === undefined);
    if (bad) return send(res, tokenError(`Missing or duplicated parameter ${bad}`));
    const clientId = form.get('client_id');
    if (clientId !== options.clientId) return send(res, tokenError('Invalid platform app'));
    if (form.get('client_secret') !== options.clientSecret) {
      return send(res, tokenError('Error validating client secret'));
    }
    if (form.get('grant_type') !== 'authorization_code') return send(res, tokenError('Unsupported grant_type'));
    if (!record || record.clientId !== clientId) {
      return send(res, tokenError('Matching code was not found or was already used'));
    }
    if (form.get('redirect_uri') !== record.redirectUri) return send(res, tokenError('Invalid redirect_uri'));
    const account = state.findAccount(record.igUserId);
    if (!account) return send(res, tokenError('Matching code was not found or was already used'));
    if (!account.tester) return send(res, tokenError('Insufficient developer role'));

    const accessToken = state.issueToken(account, 'short', record.scopes);
    // Both shapes are documented by Meta; neither carries token_type or expires_in.
    const body =
      state.responseShape === 'flat'
        ? flatTokenBody(accessToken, account.appScopedId, record.scopes)
        : wrappedTokenBody(accessToken, account.appScopedId, record.scopes);
    return sendJson(res, body);
  });

  // --- 4-6. Graph ----------------------------------------------------------------------------------

  router.use('/graph', (_req, res, next) => {
    res.setHeader('X-App-Usage', APP_USAGE_HEADER);
    next();
  });

  router.get('/graph/access_token', endpoint('exchange'), (req, res) => {
    const params = queryOf(req);
    const duplicated = duplicatedParameter(params);
    if (duplicated) return send(res, graphError(100, undefined, `Duplicated parameter ${duplicated}`));
    if (params.get('grant_type') !== 'ig_exchange_token') {
      return send(res, graphError(100, undefined, 'Unsupported grant_type: use ig_exchange_token'));
    }
    const secret = parameter(params, 'client_secret');
    if (secret === undefined) return send(res, graphError(100, undefined, 'The parameter client_secret is required'));
    if (secret !== options.clientSecret)
      return send(res, graphError(101, undefined, 'Error validating client secret.'));
    const accessToken = parameter(params, 'access_token');
    if (accessToken === undefined) {
      return send(res, graphError(100, undefined, 'The parameter access_token is required'));
    }
    const check = state.checkToken(accessToken);
    if (!check.ok) return send(res, check.error);
    if (check.token.kind !== 'short') {
      return send(
        res,
        graphError(100, undefined, 'ig_exchange_token needs a short-lived access token', 'IGApiException'),
      );
    }
    const longLived = state.issueToken(check.account, 'long', check.token.scopes);
    return sendJson(res, longLivedTokenBody(longLived));
  });

  router.get('/graph/refresh_access_token', endpoint('refresh'), (req, res) => {
    const params = queryOf(req);
    const duplicated = duplicatedParameter(params);
    if (duplicated) return send(res, graphError(100, undefined, `Duplicated parameter ${duplicated}`));
    if (params.get('grant_type') !== 'ig_refresh_token') {
      return send(res, graphError(100, undefined, 'Unsupported grant_type: use ig_refresh_token'));
    }
    const accessToken = parameter(params, 'access_token');
    if (accessToken === undefined) {
      return send(res, graphError(100, undefined, 'The parameter access_token is required'));
    }
    // An expired or invalidated token can never be refreshed: the person must connect again.
    const check = state.checkToken(accessToken);
    if (!check.ok) return send(res, check.error);
    if (check.token.kind !== 'long') {
      return send(res, graphError(100, undefined, 'Only long-lived access tokens can be refreshed', 'IGApiException'));
    }
    // Too young is not an invalid token (not 190): the same token is fine and can be refreshed later.
    if (state.clock.now() - check.token.issuedAt < REFRESH_MIN_AGE_MS) {
      return send(
        res,
        graphError(
          100,
          undefined,
          'The access token must be at least 24 hours old before it can be refreshed.',
          'IGApiException',
        ),
      );
    }
    // The old token stays valid until its own expiry, like Instagram.
    const refreshed = state.issueToken(check.account, 'long', check.token.scopes);
    return sendJson(res, longLivedTokenBody(refreshed));
  });

  const FIELDS = new Map<string, (account: SandboxAccount) => string | number>([
    ['id', (a) => a.appScopedId],
    ['user_id', (a) => a.igUserId],
    ['username', (a) => a.username],
    ['name', (a) => a.name],
    ['account_type', (a) => a.accountType],
    ['profile_picture_url', (a) => avatarUrl(a)],
    ['followers_count', (a) => a.followersCount],
    ['media_count', (a) => a.mediaCount],
  ]);

  router.get('/graph/:version/me', endpoint('me'), (req, res) => {
    const version = routeParam(req, 'version');
    if (!GRAPH_VERSION.test(version)) {
      return send(res, graphError(2500, undefined, `Unknown path components: /${version}/me`));
    }
    const params = queryOf(req);
    const duplicated = duplicatedParameter(params);
    if (duplicated) return send(res, graphError(100, undefined, `Duplicated parameter ${duplicated}`));
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1];
    const accessToken = parameter(params, 'access_token') ?? bearer;
    if (accessToken === undefined) {
      return send(
        res,
        graphError(190, undefined, 'An active access token must be used to query information about the current user.'),
      );
    }
    const check = state.checkToken(accessToken);
    if (!check.ok) return send(res, check.error);

    const requested = (parameter(params, 'fields') ?? 'id')
      .split(',')
      .map((field) => field.trim())
      .filter((field) => field !== '');
    const profile: Record<string, string | number> = {};
    for (const field of requested) {
      const read = FIELDS.get(field);
      if (!read) {
        return send(
          res,
          graphError(
            100,
            undefined,
            `Tried accessing nonexisting field (${field}) on node type (User)`,
            'IGApiException',
          ),
        );
      }
      profile[field] = read(check.account);
    }
    // Graph always answers the node's id, asked for or not. Every id is a JSON string here.
    profile.id = check.account.appScopedId;
    return sendJson(res, JSON.stringify(state.responseShape === 'flat' ? profile : { data: [profile] }));
  });

  // --- 7-8. avatars, accounts page --------------------------------------------------------------------

  router.get('/avatars/:file', (req, res) => {
    const id = /^(\d+)\.svg$/.exec(routeParam(req, 'file'))?.[1];
    const account = id === undefined ? undefined : state.findAccount(id);
    if (!account) {
      res.status(404).type('text/plain').send('Not found');
      return;
    }
    res.setHeader('Content-Type', 'image/svg+xml');
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.send(avatarSvg(account));
  });

  router.get('/accounts', async (req, res) => {
    const notice = /^(revoke|expire|password|remove|delete-data):(\d+)$/.exec(queryOf(req).get('notice') ?? '');
    const noticeAccount = notice?.[2] ? state.findAccount(notice[2]) : undefined;
    return page(res, 200, 'accounts', {
      title: 'Test accounts',
      notice:
        notice && noticeAccount
          ? `${ACTION_NOTICES[notice[1] as AccountAction]} @${noticeAccount.username}.`
          : undefined,
      accounts: state.accounts().map((account) => ({
        ...account,
        accountTypeLabel: ACCOUNT_TYPE_LABELS[account.accountType],
        avatarUrl: `${basePath}/avatars/${account.igUserId}.svg`,
        activeTokens: state.activeTokenCount(account),
      })),
    });
  });

  router.post('/accounts/:id/:action', formBody('1kb'), async (req, res) => {
    // These buttons change state: refuse a form posted from another site.
    if (req.get('sec-fetch-site') === 'cross-site') {
      return errorPage(res, 403, 'Forbidden', 'This form must be sent from the sandbox accounts page.');
    }
    const action = ACCOUNT_ACTIONS.find((a) => a === routeParam(req, 'action'));
    const account = state.findAccount(routeParam(req, 'id'));
    if (!action || !account) return errorPage(res, 404, 'Not found', 'No such account or action.');
    if (action === 'revoke') control.revokeTokens(account.igUserId);
    if (action === 'expire') control.expireTokens(account.igUserId);
    if (action === 'password') control.changePassword(account.igUserId);
    if (action === 'remove') await control.removeApp(account.igUserId);
    if (action === 'delete-data') await control.requestDataDeletion(account.igUserId);
    return redirect(res, 303, `${basePath}/accounts?notice=${action}:${account.igUserId}`);
  });

  // --- 9. everything else ---------------------------------------------------------------------------

  router.use('/graph', (req, res) => {
    send(res, { ...graphError(2500, undefined, `Unknown path components: ${req.path}`), status: 404 });
  });

  router.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });

  const onError: ErrorRequestHandler = (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const status = statusOf(err);
    if (status >= 500) {
      options.logger?.error({ err, path: req.path }, 'sandbox request failed');
    }
    const client = status < 500;
    if (req.path.startsWith('/graph/')) {
      return send(res, {
        ...(client ? graphError(100, undefined, 'Malformed request') : graphError(2)),
        status,
      });
    }
    if (req.path === '/oauth/access_token') {
      return send(res, {
        ...tokenError(client ? 'Malformed request' : 'An unexpected error has occurred'),
        status,
      });
    }
    // No stack trace, ever: a short plain-text answer.
    res
      .status(status)
      .type('text/plain')
      .send(client ? 'Bad request' : 'Sandbox error');
  };
  router.use(onError);

  return router;
}
