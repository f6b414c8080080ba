import express, { type Request, type Response, type Router } from 'express';
import type { SandboxAccount } from './sandbox-accounts';
import { queryOf, routeParam, send, sendJson, type SandboxRouteContext } from './sandbox-http';
import type { TokenCheck } from './sandbox-state';
import { duplicatedParameter, graphError, isDecimalId, parameter, type ScriptedResponse } from './sandbox-wire';

/**
 * A few generic Graph endpoints of graph.instagram.com, for clients that call the API with a stored token
 * (igconnect's proxy): an account's media (`GET /{ig-user-id|me}/media`, paged with cursors and a `next`
 * URL that carries the token in its query, as Graph's do), media containers (`POST /{…}/media`, which
 * needs instagram_business_content_publish), and nodes by id (`GET /{id}`; any other method, or an
 * unknown id, gets Graph's "Unsupported … request" error 100/33). The token comes as a Bearer header or
 * `access_token`, like everywhere in Graph.
 */

const GRAPH_VERSION = /^v\d+\.\d+$/;
const PUBLISH_SCOPE = 'instagram_business_content_publish';
const DEFAULT_PAGE = 25;
const MAX_PAGE = 100;

type Caller = Extract<TokenCheck, { ok: true }>;

type MediaField = (media: { index: number; id: string }, account: SandboxAccount, base: string) => string;

/** The IG Media fields the media edge answers; any other name is refused like Graph does. */
const MEDIA_FIELDS = new Map<string, MediaField>([
  ['id', (m) => m.id],
  ['caption', (m, a) => `Post ${m.index + 1} of @${a.username}`],
  ['media_type', () => 'IMAGE'],
  ['media_url', (m, _a, base) => `${base}/media/${m.id}.jpg`],
  ['permalink', (m) => `https://www.instagram.com/p/sandbox${m.id.slice(-8)}/`],
  ['timestamp', (m) => new Date(Date.UTC(2026, 0, 1) + m.index * 86_400_000).toISOString().replace('.000Z', '+0000')],
  ['username', (_m, a) => a.username],
]);

/** A media id of the account: odd, 17 digits and above 2^53 like every sandbox id, stable per index. */
function mediaId(account: SandboxAccount, index: number): string {
  return String(17900000000000001n + (BigInt(account.igUserId) % 10_000_000_000n) * 2000n + 2n * BigInt(index));
}

export function mountInstagramMediaRoutes(router: Router, context: SandboxRouteContext): void {
  const { state } = context;
  const graphBase = `${context.options.publicUrl}${context.options.basePath}/graph`;
  // Graph takes parameters from the query and from a form or JSON body alike.
  const bodyText = express.text({ type: ['application/x-www-form-urlencoded', 'application/json'], limit: '64kb' });

  router.get('/graph/:version/:node/media', (req, res) => {
    const call = caller(context, req, res);
    if (!call) return;
    const { params, check, version } = call;
    const node = routeParam(req, 'node');
    if (node !== 'me' && node !== check.account.igUserId) return send(res, unsupported('get', node));
    const fields = (parameter(params, 'fields') ?? 'id').split(',').map((f) => f.trim());
    const unknown = fields.find((f) => f !== '' && !MEDIA_FIELDS.has(f));
    if (unknown) return send(res, igApiError(`Tried accessing nonexisting field (${unknown}) on node type (Media)`));
    const limit = Math.min(MAX_PAGE, Math.max(1, Number(parameter(params, 'limit') ?? DEFAULT_PAGE) || DEFAULT_PAGE));
    const after = parameter(params, 'after');
    const start = after === undefined ? 0 : decodeCursor(after);
    if (start === undefined) return send(res, graphError(100, undefined, 'Invalid cursor'));
    const total = check.account.mediaCount;
    const end = Math.min(total, start + limit);
    const data = [];
    for (let index = start; index < end; index++) {
      const media = { index, id: mediaId(check.account, index) };
      const item: Record<string, string> = { id: media.id };
      for (const field of fields) {
        const read = MEDIA_FIELDS.get(field);
        if (read) item[field] = read(media, check.account, graphBase);
      }
      data.push(item);
    }
    const paging: Record<string, unknown> = {
      cursors: { before: encodeCursor(start), after: encodeCursor(Math.max(start, end - 1) + 1) },
    };
    if (end < total) {
      // Graph's `next` names the account by id and carries the token in its query, whichever way it came.
      const next = new URLSearchParams({
        access_token: callerToken(req, params),
        fields: fields.join(','),
        limit: String(limit),
        after: encodeCursor(end),
      });
      paging.next = `${graphBase}/${version}/${check.account.igUserId}/media?${next.toString()}`;
    }
    return sendJson(res, JSON.stringify({ data, paging }));
  });

  router.post('/graph/:version/:node/media', bodyText, (req, res) => {
    const call = caller(context, req, res);
    if (!call) return;
    const { check } = call;
    const node = routeParam(req, 'node');
    if (node !== 'me' && node !== check.account.igUserId) return send(res, unsupported('post', node));
    const body = bodyParameters(req);
    if (!body) return send(res, graphError(100, undefined, 'Invalid JSON in the request body'));
    const value = (name: string) => parameter(body, name) ?? parameter(call.params, name);
    if (!check.token.scopes.includes(PUBLISH_SCOPE)) {
      return send(res, graphError(10, undefined, 'Application does not have permission for this action'));
    }
    const imageUrl = value('image_url');
    if (imageUrl === undefined) return send(res, graphError(100, undefined, 'The parameter image_url is required'));
    const container = state.addContainer({
      igUserId: check.account.igUserId,
      imageUrl,
      caption: value('caption') ?? null,
    });
    return sendJson(res, JSON.stringify({ id: container.id }));
  });

  router.get('/graph/:version/:node', (req, res) => {
    const call = caller(context, req, res);
    if (!call) return;
    const node = routeParam(req, 'node');
    const container = state.container(node);
    if (!container || container.igUserId !== call.check.account.igUserId) return send(res, unsupported('get', node));
    const fields = (parameter(call.params, 'fields') ?? 'id').split(',').map((f) => f.trim());
    const answer: Record<string, string | null> = { id: container.id };
    for (const field of fields) {
      if (field === 'status_code') answer.status_code = 'FINISHED';
      else if (field === 'caption') answer.caption = container.caption;
      else if (field === 'image_url') answer.image_url = container.imageUrl;
      else if (field !== 'id' && field !== '') {
        return send(
          res,
          igApiError(`Tried accessing nonexisting field (${field}) on node type (ShadowIGMediaBuilder)`),
        );
      }
    }
    return sendJson(res, JSON.stringify(answer));
  });

  // Media cannot be deleted through this API, and the sandbox has nothing else that can: Graph's answer.
  router.all('/graph/:version/:node', (req, res) => {
    const call = caller(context, req, res);
    if (!call) return;
    return send(res, unsupported(req.method.toLowerCase(), routeParam(req, 'node')));
  });
}

/** The request's token and account, once the version and token are checked (else answered). */
function caller(
  context: SandboxRouteContext,
  req: Request,
  res: Response,
): { params: URLSearchParams; check: Caller; version: string } | undefined {
  const version = routeParam(req, 'version');
  if (!GRAPH_VERSION.test(version)) {
    send(res, graphError(2500, undefined, `Unknown path components: /${version}`));
    return undefined;
  }
  const params = queryOf(req);
  const duplicated = duplicatedParameter(params);
  if (duplicated) {
    send(res, graphError(100, undefined, `Duplicated parameter ${duplicated}`));
    return undefined;
  }
  const accessToken = callerToken(req, params);
  if (accessToken === '') {
    send(
      res,
      graphError(190, undefined, 'An active access token must be used to query information about the current user.'),
    );
    return undefined;
  }
  const check = context.state.checkToken(accessToken);
  if (!check.ok) {
    send(res, check.error);
    return undefined;
  }
  return { params, check, version };
}

/** `access_token` in the query wins over the Bearer header, as on /me. */
function callerToken(req: Request, params: URLSearchParams): string {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1];
  return parameter(params, 'access_token') ?? bearer ?? '';
}

/** A form or JSON body's parameters (strings and numbers); undefined for JSON that does not parse. */
function bodyParameters(req: Request): URLSearchParams | undefined {
  const text: unknown = req.body;
  if (typeof text !== 'string' || text === '') return new URLSearchParams();
  if (!req.is('application/json')) return new URLSearchParams(text);
  try {
    const parsed: unknown = JSON.parse(text);
    const params = new URLSearchParams();
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      for (const [key, value] of Object.entries(parsed)) {
        if (typeof value === 'string' || typeof value === 'number') params.set(key, String(value));
      }
    }
    return params;
  } catch {
    return undefined;
  }
}

function unsupported(method: string, id: string): ScriptedResponse {
  const shown = isDecimalId(id) || /^[A-Za-z0-9_]{1,64}$/.test(id) ? id : '(invalid)';
  return graphError(
    100,
    33,
    `Unsupported ${method} request. Object with ID '${shown}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
    'GraphMethodException',
  );
}

function igApiError(message: string): ScriptedResponse {
  return graphError(100, undefined, message, 'IGApiException');
}

function encodeCursor(index: number): string {
  return Buffer.from(`sandbox:${index}`).toString('base64url');
}

function decodeCursor(cursor: string): number | undefined {
  const match = /^sandbox:(\d{1,6})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}
