import type { Request, Response, Router } from 'express';
import { facebookEndpoint, GRAPH_VERSION } from './facebook-dialog.routes';
import type { FacebookPage, FacebookPerson } from './facebook-people';
import { type FacebookGrant, type FacebookTokenCheck, type FacebookTokenRecord, pageVisible } from './facebook-state';
import {
  type FacebookEndpoint,
  INSTAGRAM_SCOPES,
  jsonWithBareIds,
  LONG_USER_EXPIRES_IN_SECONDS,
  nonexistingField,
  OEMBED_DEFAULT_WIDTH,
  OEMBED_MIN_WIDTH,
  OEMBED_POSTS,
  oembedBody,
  PAGE_SCOPES,
  parsePostUrl,
  SCOPE_PAGES_SHOW_LIST,
  SHORT_USER_EXPIRES_IN_SECONDS,
  unsupportedRequest,
  userTokenBody,
} from './facebook-wire';
import { queryOf, routeParam, type SandboxRouteContext, send, sendJson } from './sandbox-http';
import {
  APP_USAGE_HEADER,
  duplicatedParameter,
  graphError,
  isDecimalId,
  parameter,
  type ScriptedResponse,
} from './sandbox-wire';

/**
 * graph.facebook.com as the Facebook Login for Business path uses it, below `/facebook/graph/<version>`:
 * the code exchange, the long-lived user token, the app token, `/me`, `/me/accounts` with Page tokens,
 * the Instagram account node, `debug_token`, `DELETE /{user-id}/permissions` and `instagram_oembed`.
 * Every error is a Graph envelope. See docs/instagram-platform.md.
 */

const GRAPH = '/facebook/graph/:version';

export function mountFacebookGraphRoutes(router: Router, context: SandboxRouteContext): void {
  router.use('/facebook/graph', (_req, res, next) => {
    res.setHeader('X-App-Usage', APP_USAGE_HEADER);
    next();
  });

  router.get(`${GRAPH}/oauth/access_token`, countByGrant(context), (req, res) => {
    const params = graphRequest(req, res);
    if (!params) return;
    const grantType = params.get('grant_type');
    const clientProblem = checkClient(context, params);
    if (grantType === 'client_credentials') {
      if (clientProblem) return send(res, clientProblem);
      return sendJson(res, JSON.stringify({ access_token: context.facebook.issueAppToken(), token_type: 'bearer' }));
    }
    if (grantType === 'fb_exchange_token') return exchange(context, params, clientProblem, res);
    if (grantType !== null) return send(res, graphError(100, undefined, `Unsupported grant_type: ${grantType}`));
    return exchangeCode(context, params, clientProblem, res);
  });

  router.get(`${GRAPH}/me`, facebookEndpoint(context, 'fb_me'), (req, res) => me(context, req, res));
  router.get(`${GRAPH}/me/accounts`, facebookEndpoint(context, 'fb_accounts'), (req, res) =>
    accounts(context, req, res),
  );
  router.get(`${GRAPH}/debug_token`, facebookEndpoint(context, 'fb_debug_token'), (req, res) =>
    debugToken(context, req, res),
  );
  router.get(`${GRAPH}/instagram_oembed`, facebookEndpoint(context, 'fb_oembed'), (req, res) =>
    oembed(context, req, res),
  );
  router.delete(`${GRAPH}/:userId/permissions`, facebookEndpoint(context, 'fb_permissions'), (req, res) =>
    deletePermissions(context, req, res),
  );
  router.get(`${GRAPH}/:id`, facebookEndpoint(context, 'fb_ig_user'), (req, res) => instagramUser(context, req, res));

  router.use('/facebook/graph', (req, res) => {
    send(res, { ...graphError(2500, undefined, `Unknown path components: ${req.path}`), status: 404 });
  });
}

/** A failure below `/facebook/graph` answers in Graph's envelope, which its clients parse. */
export function facebookGraphFailure(path: string, client: boolean): ScriptedResponse | undefined {
  if (!path.startsWith('/facebook/graph/')) return undefined;
  return client ? graphError(100, undefined, 'Malformed request') : graphError(2);
}

/** `/oauth/access_token` serves three grants; each is counted (and scripted) as an endpoint of its own. */
function countByGrant(context: SandboxRouteContext) {
  const handlers: Record<string, ReturnType<typeof facebookEndpoint>> = {};
  const handler = (endpoint: FacebookEndpoint) => (handlers[endpoint] ??= facebookEndpoint(context, endpoint));
  return (req: Request, res: Response, next: () => void) => {
    const grantType = queryOf(req).get('grant_type');
    const endpoint: FacebookEndpoint =
      grantType === 'fb_exchange_token'
        ? 'fb_exchange'
        : grantType === 'client_credentials'
          ? 'fb_app_token'
          : 'fb_token';
    return handler(endpoint)(req, res, next);
  };
}

/** The query as sent, once the version is known and no parameter is repeated; undefined once answered. */
function graphRequest(req: Request, res: Response): URLSearchParams | undefined {
  const version = routeParam(req, 'version');
  if (!GRAPH_VERSION.test(version)) {
    send(res, { ...graphError(2500, undefined, `Unknown path components: /${version}`), status: 404 });
    return undefined;
  }
  const params = queryOf(req);
  const duplicated = duplicatedParameter(params);
  if (!duplicated) return params;
  send(res, graphError(100, undefined, `Duplicated parameter ${duplicated}`));
  return undefined;
}

/** The access token from the query, else from `Authorization: Bearer`. */
function accessTokenOf(req: Request, params: URLSearchParams): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1];
  return parameter(params, 'access_token') ?? bearer;
}

function answeredUnlessValid(
  check: FacebookTokenCheck,
  res: Response,
): Extract<FacebookTokenCheck, { ok: true }> | undefined {
  if (check.ok) return check;
  send(res, check.error);
  return undefined;
}

function checkClient(context: SandboxRouteContext, params: URLSearchParams): ScriptedResponse | undefined {
  const clientId = parameter(params, 'client_id');
  if (clientId === undefined) return graphError(101, undefined, 'Missing client_id parameter.');
  if (clientId !== context.facebook.clientId) {
    return graphError(101, undefined, 'Error validating application. Invalid application ID.');
  }
  const secret = parameter(params, 'client_secret');
  if (secret === undefined) return graphError(100, undefined, 'Missing client_secret parameter.');
  // Graph answers a wrong secret with code 1, which otherwise means "unknown, retry": clients must read the message.
  if (secret !== context.facebook.clientSecret) return graphError(1, undefined, 'Error validating client secret.');
  return undefined;
}

/** Code → short-lived user token. The code burns on its first presentation, whatever fails next. */
function exchangeCode(
  context: SandboxRouteContext,
  params: URLSearchParams,
  clientProblem: ScriptedResponse | undefined,
  res: Response,
): void {
  const { facebook } = context;
  const code = parameter(params, 'code');
  const lookup = code === undefined ? ({ found: 'unknown' } as const) : facebook.consumeCode(code);
  if (clientProblem) return send(res, clientProblem);
  const redirectUri = parameter(params, 'redirect_uri');
  if (redirectUri === undefined) return send(res, graphError(100, undefined, 'Missing redirect_uri parameter.'));
  if (lookup.found === 'used') return send(res, graphError(100, 36009, 'This authorization code has been used.'));
  if (lookup.found === 'expired') return send(res, graphError(100, 36007, 'This authorization code has expired.'));
  if (lookup.found === 'unknown' || lookup.code.clientId !== facebook.clientId) {
    return send(res, graphError(100, undefined, 'Invalid verification code format.'));
  }
  if (redirectUri !== lookup.code.redirectUri) {
    return send(
      res,
      graphError(
        100,
        36008,
        'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request',
      ),
    );
  }
  const person = facebook.findPerson(lookup.code.personId);
  if (!person) return send(res, graphError(100, undefined, 'Invalid verification code format.'));
  const token = facebook.issueUserToken(person, 'short', lookup.code.grant);
  return sendJson(res, userTokenBody(token, SHORT_USER_EXPIRES_IN_SECONDS));
}

/** `grant_type=fb_exchange_token`: a valid user token (short or long) → a new long-lived one, same grant. */
function exchange(
  context: SandboxRouteContext,
  params: URLSearchParams,
  clientProblem: ScriptedResponse | undefined,
  res: Response,
): void {
  if (clientProblem) return send(res, clientProblem);
  const input = parameter(params, 'fb_exchange_token');
  if (input === undefined) return send(res, graphError(100, undefined, 'Missing fb_exchange_token parameter.'));
  const check = answeredUnlessValid(context.facebook.checkToken(input), res);
  if (!check) return;
  if (check.token.type !== 'USER') {
    return send(res, graphError(100, undefined, 'fb_exchange_token must be a user access token.'));
  }
  const token = context.facebook.issueUserToken(check.person, 'long', check.token.grant);
  return sendJson(res, userTokenBody(token, LONG_USER_EXPIRES_IN_SECONDS));
}

/** A user or Page token from the request, checked; undefined once the error was answered. */
function tokenOfRequest(
  context: SandboxRouteContext,
  req: Request,
  res: Response,
  params: URLSearchParams,
  missing: ScriptedResponse,
): Extract<FacebookTokenCheck, { ok: true }> | undefined {
  const accessToken = accessTokenOf(req, params);
  if (accessToken === undefined) {
    send(res, missing);
    return undefined;
  }
  return answeredUnlessValid(context.facebook.checkToken(accessToken), res);
}

const ACTIVE_TOKEN_REQUIRED = graphError(
  2500,
  undefined,
  'An active access token must be used to query information about the current user.',
);

/** `fields=a,b{c,d}` as a list of names with optional sub-fields; undefined when the braces do not match. */
function parseFields(spec: string): Array<{ name: string; sub?: string[] }> | undefined {
  const fields: Array<{ name: string; sub?: string[] }> = [];
  let depth = 0;
  let current = '';
  const flush = () => {
    const item = current.trim();
    current = '';
    if (item === '') return true;
    const match = /^([a-z_]+)(?:\{([a-z_,\s]*)\})?$/.exec(item);
    if (!match?.[1]) return false;
    const sub = match[2]
      ?.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    fields.push(sub === undefined ? { name: match[1] } : { name: match[1], sub });
    return true;
  };
  for (const char of spec) {
    if (char === '{') depth += 1;
    if (char === '}') depth -= 1;
    if (depth < 0 || depth > 1) return undefined;
    if (char === ',' && depth === 0) {
      if (!flush()) return undefined;
    } else current += char;
  }
  if (depth !== 0 || !flush()) return undefined;
  return fields;
}

function fieldsOf(params: URLSearchParams, fallback: string, res: Response) {
  const fields = parseFields(parameter(params, 'fields') ?? fallback);
  if (fields) return fields;
  send(res, graphError(100, undefined, 'Syntax error in the fields parameter'));
  return undefined;
}

/** `/me`: the person (their app-scoped id written as a bare JSON number) or, for a Page token, the Page. */
function me(context: SandboxRouteContext, req: Request, res: Response): void {
  const params = graphRequest(req, res);
  if (!params) return;
  const check = tokenOfRequest(context, req, res, params, ACTIVE_TOKEN_REQUIRED);
  if (!check) return;
  const fields = fieldsOf(params, 'id,name', res);
  if (!fields) return;
  const page =
    check.token.pageId === undefined ? undefined : check.person.pages.find((p) => p.id === check.token.pageId);
  const node: Record<string, string> = page
    ? { id: page.id, name: page.name, category: page.category }
    : { id: check.person.id, name: check.person.name };
  const entries: Array<[string, string]> = [];
  for (const field of fields) {
    if (field.sub !== undefined || !Object.hasOwn(node, field.name)) {
      return send(res, nonexistingField(field.name, page ? 'Page' : 'User'));
    }
    if (field.name !== 'id') entries.push([field.name, node[field.name] ?? '']);
  }
  // Graph always answers the node's id. A person's id goes out as a bare number above 2^53: JSON.parse corrupts it.
  entries.push(['id', node.id ?? '']);
  return sendJson(res, jsonWithBareIds(entries, page ? [] : ['id']));
}

const PAGE_FIELDS = ['id', 'name', 'category', 'access_token', 'instagram_business_account'];
const IG_FIELDS = ['id', 'username', 'name', 'profile_picture_url', 'followers_count', 'media_count'];

/**
 * `/me/accounts`: the person's Pages. A Page left out in granular consent comes without `access_token`
 * (and without its Instagram account); a business-owned Page only with business_management.
 */
function accounts(context: SandboxRouteContext, req: Request, res: Response): void {
  const { facebook } = context;
  const params = graphRequest(req, res);
  if (!params) return;
  const check = tokenOfRequest(context, req, res, params, ACTIVE_TOKEN_REQUIRED);
  if (!check) return;
  if (check.token.type === 'PAGE') return send(res, nonexistingField('accounts', 'Page'));
  const fields = fieldsOf(params, 'id,name,category,access_token', res);
  if (!fields) return;
  for (const field of fields) {
    if (!PAGE_FIELDS.includes(field.name)) return send(res, nonexistingField(field.name, 'Page'));
    const unknown = field.sub?.find((sub) => !IG_FIELDS.includes(sub));
    if (unknown !== undefined) return send(res, nonexistingField(unknown, 'ShadowIGUser'));
  }
  const { grant } = check.token;
  if (!grant.scopes.includes(SCOPE_PAGES_SHOW_LIST)) {
    return send(res, graphError(200, undefined, '(#200) Requires pages_show_list permission to manage the object'));
  }
  const limit = parameter(params, 'limit');
  if (limit !== undefined && !/^[1-9]\d{0,2}$/.test(limit)) {
    return send(res, graphError(100, undefined, '(#100) The parameter limit must be a positive integer'));
  }
  const pages = facebook.pagesOf(check.person).filter((page) => pageVisible(page, grant));
  const after = parameter(params, 'after');
  const start = after === undefined ? 0 : pages.findIndex((page) => cursor(page.id) === after) + 1;
  const slice = pages.slice(start, start + Number(limit ?? 25));
  const accessToken = accessTokenOf(req, params) ?? '';
  const data = slice.map((page) => pageEntry(context, page, fields, grant, accessToken, check.token));
  const body: Record<string, unknown> = { data };
  const first = slice[0];
  const last = slice[slice.length - 1];
  if (first && last) {
    const paging: Record<string, unknown> = { cursors: { before: cursor(first.id), after: cursor(last.id) } };
    if (start + slice.length < pages.length) {
      // Like Graph, `next` repeats the request's own parameters (a token sent in the query stays there).
      const next = new URLSearchParams(params);
      next.set('after', cursor(last.id));
      paging.next = `${context.options.publicUrl}${context.options.basePath}${req.path}?${next.toString()}`;
    }
    body.paging = paging;
  }
  return sendJson(res, JSON.stringify(body));
}

function cursor(pageId: string): string {
  return Buffer.from(pageId, 'utf8').toString('base64url');
}

function pageEntry(
  context: SandboxRouteContext,
  page: FacebookPage,
  fields: Array<{ name: string; sub?: string[] }>,
  grant: FacebookGrant,
  userAccessToken: string,
  user: FacebookTokenRecord,
): Record<string, unknown> {
  const shared = grant.pageIds.includes(page.id);
  const entry: Record<string, unknown> = {};
  for (const field of fields) {
    if (field.name === 'access_token') {
      if (shared) entry.access_token = context.facebook.pageTokenFor(userAccessToken, user, page.id);
    } else if (field.name === 'instagram_business_account') {
      const ig = page.instagram;
      if (shared && ig && grant.igUserIds.includes(ig.id))
        entry.instagram_business_account = igProfile(context, ig.id, field.sub ?? ['id']);
    } else if (field.name === 'id' || field.name === 'name' || field.name === 'category') {
      entry[field.name] = page[field.name];
    }
  }
  entry.id = page.id;
  return entry;
}

function igProfile(context: SandboxRouteContext, igUserId: string, fields: readonly string[]): Record<string, unknown> {
  const found = context.facebook.findInstagramAccount(igUserId);
  const ig = found?.page.instagram;
  if (!ig) return { id: igUserId };
  const values: Record<string, string | number> = {
    username: ig.username,
    name: ig.name,
    profile_picture_url: `${context.options.publicUrl}${context.options.basePath}/facebook/avatars/${ig.id}.svg`,
    followers_count: ig.followersCount,
    media_count: ig.mediaCount,
  };
  const profile: Record<string, unknown> = {};
  for (const field of fields) if (field !== 'id' && field in values) profile[field] = values[field];
  profile.id = ig.id;
  return profile;
}

/** `/{ig-user-id}`: the Instagram account, for a Page token of its Page (or the person's user token). */
function instagramUser(context: SandboxRouteContext, req: Request, res: Response): void {
  const params = graphRequest(req, res);
  if (!params) return;
  const id = routeParam(req, 'id');
  if (!isDecimalId(id)) {
    return send(res, graphError(803, undefined, `(#803) Some of the aliases you requested do not exist: ${id}`));
  }
  const check = tokenOfRequest(
    context,
    req,
    res,
    params,
    graphError(104, undefined, 'An access token is required to request this resource.'),
  );
  if (!check) return;
  const fields = fieldsOf(params, 'id', res);
  if (!fields) return;
  const unknown = fields.find((field) => field.sub !== undefined || !IG_FIELDS.includes(field.name));
  if (unknown) return send(res, nonexistingField(unknown.name, 'ShadowIGUser'));
  if (!mayReadInstagramAccount(context, check.token, check.person, id)) return send(res, unsupportedRequest('get', id));
  return sendJson(
    res,
    JSON.stringify(
      igProfile(
        context,
        id,
        fields.map((field) => field.name),
      ),
    ),
  );
}

function mayReadInstagramAccount(
  context: SandboxRouteContext,
  token: FacebookTokenRecord,
  person: FacebookPerson,
  igUserId: string,
): boolean {
  const found = context.facebook.findInstagramAccount(igUserId);
  if (!found || found.person.id !== person.id || !token.grant.igUserIds.includes(igUserId)) return false;
  if (!context.facebook.pagesOf(person).some((page) => page.id === found.page.id)) return false;
  if (token.type === 'PAGE') return token.pageId === found.page.id;
  return token.grant.pageIds.includes(found.page.id) && pageVisible(found.page, token.grant);
}

/** The app token of a request (query or Bearer); undefined once a missing or wrong one was answered with 190. */
function appTokenOf(context: SandboxRouteContext, req: Request, res: Response, params: URLSearchParams) {
  const accessToken = accessTokenOf(req, params);
  if (accessToken !== undefined && context.facebook.isAppToken(accessToken)) return accessToken;
  send(
    res,
    accessToken === undefined
      ? graphError(190, undefined, 'An access token is required to request this resource.')
      : graphError(190, undefined, 'Invalid OAuth access token - Cannot parse access token'),
  );
  return undefined;
}

/** `debug_token` with the app token: a token's facts. A token that does not work is described, not refused. */
function debugToken(context: SandboxRouteContext, req: Request, res: Response): void {
  const { facebook } = context;
  const params = graphRequest(req, res);
  if (!params) return;
  const input = parameter(params, 'input_token');
  if (input === undefined) return send(res, graphError(100, undefined, 'The parameter input_token is required'));
  if (!appTokenOf(context, req, res, params)) return;
  const application = context.options.facebook.appName;
  if (facebook.isAppToken(input)) {
    return sendJson(
      res,
      JSON.stringify({ data: { app_id: facebook.clientId, type: 'APP', application, is_valid: true } }),
    );
  }
  const token = facebook.token(input);
  if (!token) {
    return sendJson(
      res,
      JSON.stringify({
        data: {
          error: { code: 190, message: 'Invalid OAuth access token - Cannot parse access token' },
          is_valid: false,
          scopes: [],
        },
      }),
    );
  }
  const problem = facebook.problemWith(token);
  const dataAccess = facebook.dataAccessExpiresAt(token.personId);
  const data: Record<string, unknown> = {
    app_id: facebook.clientId,
    type: token.type,
    application,
    data_access_expires_at: dataAccess === undefined ? 0 : Math.floor(dataAccess / 1000),
    expires_at: token.expiresAt === null ? 0 : Math.floor(token.expiresAt / 1000),
    is_valid: problem === undefined,
    issued_at: Math.floor(token.issuedAt / 1000),
  };
  if (token.pageId !== undefined) data.profile_id = token.pageId;
  data.scopes = [...token.grant.scopes];
  data.granular_scopes = token.grant.scopes.flatMap((scope) => {
    if (PAGE_SCOPES.includes(scope)) return [{ scope, target_ids: [...token.grant.pageIds] }];
    if (INSTAGRAM_SCOPES.includes(scope)) return [{ scope, target_ids: [...token.grant.igUserIds] }];
    return [];
  });
  data.user_id = token.personId;
  if (problem) data.error = { code: 190, message: problem.message, subcode: problem.subcode };
  return sendJson(res, JSON.stringify({ data }));
}

/** `DELETE /{user-id}/permissions` with the person's user token or the app token: the app is removed. */
function deletePermissions(context: SandboxRouteContext, req: Request, res: Response): void {
  const { facebook } = context;
  const params = graphRequest(req, res);
  if (!params) return;
  const userId = routeParam(req, 'userId');
  const accessToken = accessTokenOf(req, params);
  if (accessToken === undefined) {
    return send(res, graphError(104, undefined, 'An access token is required to request this resource.'));
  }
  let person: FacebookPerson | undefined;
  if (facebook.isAppToken(accessToken)) {
    if (userId === 'me') return send(res, ACTIVE_TOKEN_REQUIRED);
    person = facebook.findPerson(userId);
  } else {
    const check = answeredUnlessValid(facebook.checkToken(accessToken), res);
    if (!check) return;
    if (check.token.type !== 'USER') return send(res, unsupportedRequest('delete', userId));
    person = userId === 'me' || userId === check.person.id ? check.person : undefined;
  }
  if (!person) return send(res, unsupportedRequest('delete', userId));
  facebook.invalidatePerson(person.id, 'app_removed');
  return sendJson(res, JSON.stringify({ success: true }));
}

const OEMBED_FIELDS = [
  'version',
  'author_name',
  'provider_name',
  'provider_url',
  'type',
  'width',
  'html',
  'thumbnail_url',
  'thumbnail_width',
  'thumbnail_height',
];

/** `instagram_oembed` with the app token: Meta's oEmbed JSON for the sandbox's public posts and reels. */
function oembed(context: SandboxRouteContext, req: Request, res: Response): void {
  const params = graphRequest(req, res);
  if (!params) return;
  if (!appTokenOf(context, req, res, params)) return;
  const url = parameter(params, 'url');
  if (url === undefined) return send(res, graphError(100, undefined, '(#100) The parameter url is required'));
  const maxwidth = parameter(params, 'maxwidth');
  if (maxwidth !== undefined && (!/^\d{1,5}$/.test(maxwidth) || Number(maxwidth) < OEMBED_MIN_WIDTH)) {
    return send(
      res,
      graphError(100, undefined, `(#100) maxwidth must be a whole number of at least ${OEMBED_MIN_WIDTH}`),
    );
  }
  const fields = parameter(params, 'fields')
    ?.split(',')
    .map((f) => f.trim());
  const unknownField = fields?.find((field) => !OEMBED_FIELDS.includes(field));
  if (unknownField !== undefined) return send(res, nonexistingField(unknownField, 'InstagramOembed'));
  const parsed = parsePostUrl(url);
  if (!parsed) {
    return send(res, graphError(100, undefined, '(#100) The url must be the URL of a public Instagram post or reel'));
  }
  const post = OEMBED_POSTS.find((p) => p.shortcode === parsed.shortcode);
  if (!post) {
    return send(res, graphError(100, undefined, '(#100) No public Instagram media was found at this URL'));
  }
  const body = oembedBody(post, {
    // Wider than 658 is answered at 658, as Instagram's embed never grows past it.
    width: Math.min(Number(maxwidth ?? OEMBED_DEFAULT_WIDTH), OEMBED_DEFAULT_WIDTH),
    hideCaption: params.get('hidecaption') === 'true',
    omitScript: params.get('omitscript') === 'true',
    thumbnailBase: `${context.options.publicUrl}${context.options.basePath}/facebook/thumbnails`,
  }) as Record<string, unknown>;
  const answer = fields ? Object.fromEntries(Object.entries(body).filter(([key]) => fields.includes(key))) : body;
  return sendJson(res, JSON.stringify(answer));
}
