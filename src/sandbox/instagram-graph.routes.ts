import type { Request, Response, Router } from 'express';
import { mountInstagramMediaRoutes } from './instagram-media.routes';
import type { SandboxAccount } from './sandbox-accounts';
import { queryOf, routeParam, send, sendJson, type SandboxRouteContext } from './sandbox-http';
import type { TokenCheck } from './sandbox-state';
import {
  APP_USAGE_HEADER,
  duplicatedParameter,
  graphError,
  longLivedTokenBody,
  parameter,
  REFRESH_MIN_AGE_MS,
  type ScriptedResponse,
} from './sandbox-wire';

/**
 * graph.instagram.com as Instagram Login uses it: the long-lived exchange, the refresh, `/me`, a few media
 * endpoints (instagram-media.routes.ts), and Graph's error envelope for everything else below `/graph`.
 * See docs/instagram-platform.md.
 */

const GRAPH_VERSION = /^v\d+\.\d+$/;

type ProfileField = (account: SandboxAccount, context: SandboxRouteContext) => string | number;

/** The User fields `/me` can answer; any other name is refused like Graph does. */
const FIELDS = new Map<string, ProfileField>([
  ['id', (a) => a.appScopedId],
  ['user_id', (a) => a.igUserId],
  ['username', (a) => a.username],
  ['name', (a) => a.name],
  ['account_type', (a) => a.accountType],
  ['profile_picture_url', (a, context) => `${context.options.publicUrl}${context.avatarPath(a)}`],
  ['followers_count', (a) => a.followersCount],
  ['media_count', (a) => a.mediaCount],
]);

export function mountInstagramGraphRoutes(router: Router, context: SandboxRouteContext): void {
  router.use('/graph', (_req, res, next) => {
    res.setHeader('X-App-Usage', APP_USAGE_HEADER);
    next();
  });

  router.get('/graph/access_token', context.endpoint('exchange'), (req, res) => {
    const params = graphQuery(req, res);
    if (!params) return;
    if (params.get('grant_type') !== 'ig_exchange_token') {
      return send(res, graphError(100, undefined, 'Unsupported grant_type: use ig_exchange_token'));
    }
    const secret = parameter(params, 'client_secret');
    if (secret === undefined) return send(res, graphError(100, undefined, 'The parameter client_secret is required'));
    if (secret !== context.options.clientSecret) {
      return send(res, graphError(101, undefined, 'Error validating client secret.'));
    }
    const check = checkAccessToken(context, params, res);
    if (!check) return;
    if (check.token.kind !== 'short') {
      return send(res, igApiError('ig_exchange_token needs a short-lived access token'));
    }
    const longLived = context.state.issueToken(check.account, 'long', check.token.scopes);
    return sendJson(res, longLivedTokenBody(longLived));
  });

  router.get('/graph/refresh_access_token', context.endpoint('refresh'), (req, res) => {
    const params = graphQuery(req, res);
    if (!params) return;
    if (params.get('grant_type') !== 'ig_refresh_token') {
      return send(res, graphError(100, undefined, 'Unsupported grant_type: use ig_refresh_token'));
    }
    // An expired or invalidated token can never be refreshed: the person must connect again.
    const check = checkAccessToken(context, params, res);
    if (!check) return;
    if (check.token.kind !== 'long') return send(res, igApiError('Only long-lived access tokens can be refreshed'));
    // Too young is not an invalid token (not 190): the same token is fine and can be refreshed later.
    if (context.state.clock.now() - check.token.issuedAt < REFRESH_MIN_AGE_MS) {
      return send(res, igApiError('The access token must be at least 24 hours old before it can be refreshed.'));
    }
    // The old token stays valid until its own expiry, like Instagram.
    const refreshed = context.state.issueToken(check.account, 'long', check.token.scopes);
    return sendJson(res, longLivedTokenBody(refreshed));
  });

  router.get('/graph/:version/me', context.endpoint('me'), (req, res) => me(context, req, res));
  mountInstagramMediaRoutes(router, context);

  router.use('/graph', (req, res) => {
    send(res, { ...graphError(2500, undefined, `Unknown path components: ${req.path}`), status: 404 });
  });
}

/** A failure below `/graph` answers in Graph's envelope, which its clients parse. */
export function graphFailure(path: string, client: boolean): ScriptedResponse | undefined {
  if (!path.startsWith('/graph/')) return undefined;
  return client ? graphError(100, undefined, 'Malformed request') : graphError(2);
}

function igApiError(message: string): ScriptedResponse {
  return graphError(100, undefined, message, 'IGApiException');
}

/** The query string as sent; undefined once a repeated parameter has been answered with Graph's error. */
function graphQuery(req: Request, res: Response): URLSearchParams | undefined {
  const params = queryOf(req);
  const duplicated = duplicatedParameter(params);
  if (!duplicated) return params;
  send(res, graphError(100, undefined, `Duplicated parameter ${duplicated}`));
  return undefined;
}

/** The `access_token` parameter's token and account; undefined once a missing or bad one was answered. */
function checkAccessToken(context: SandboxRouteContext, params: URLSearchParams, res: Response) {
  const accessToken = parameter(params, 'access_token');
  if (accessToken === undefined) {
    send(res, graphError(100, undefined, 'The parameter access_token is required'));
    return undefined;
  }
  return answeredUnlessValid(context.state.checkToken(accessToken), res);
}

function answeredUnlessValid(check: TokenCheck, res: Response): Extract<TokenCheck, { ok: true }> | undefined {
  if (check.ok) return check;
  send(res, check.error);
  return undefined;
}

function me(context: SandboxRouteContext, req: Request, res: Response): void {
  const version = routeParam(req, 'version');
  if (!GRAPH_VERSION.test(version)) {
    return send(res, graphError(2500, undefined, `Unknown path components: /${version}/me`));
  }
  const params = graphQuery(req, res);
  if (!params) return;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1];
  const accessToken = parameter(params, 'access_token') ?? bearer;
  if (accessToken === undefined) {
    return send(
      res,
      graphError(190, undefined, 'An active access token must be used to query information about the current user.'),
    );
  }
  const check = answeredUnlessValid(context.state.checkToken(accessToken), res);
  if (!check) return;

  const requested = (parameter(params, 'fields') ?? 'id')
    .split(',')
    .map((field) => field.trim())
    .filter((field) => field !== '');
  const profile: Record<string, string | number> = {};
  for (const field of requested) {
    const read = FIELDS.get(field);
    if (!read) return send(res, igApiError(`Tried accessing nonexisting field (${field}) on node type (User)`));
    profile[field] = read(check.account, context);
  }
  // Graph always answers the node's id, asked for or not. Every id is a JSON string here.
  profile.id = check.account.appScopedId;
  return sendJson(res, JSON.stringify(context.state.responseShape === 'flat' ? profile : { data: [profile] }));
}
