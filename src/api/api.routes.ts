import express, { type RequestHandler, Router } from 'express';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { ApiConfig } from '../config/config';
import type { Connection, ConnectionsService } from '../connections/connections.service';
import type { Database } from '../db/schema';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import { ApiError, apiErrorHandler, apiNotFound } from './api-errors';
import { authenticateKey, looksLikeKey } from './api-keys';
import { connectionResource } from './connection-resource';
import { ApiDefinition } from './openapi';
import { connectionId, connectionSchema, errorSchema } from './schemas';

/**
 * The deployer's API under /api/v1. Mounted before sessions and CSRF: a cookie never authenticates it;
 * every request needs `Authorization: Bearer <API key>` (401 before anything else, rate limiting
 * included), except the OpenAPI document. Answers are JSON with `Cache-Control: no-store`.
 */
export interface ApiDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  publicUrl: string;
  settings: ApiConfig;
  connections: ConnectionsService;
  /** What must follow a deletion (withdrawing the app at the provider after a person's last connection). */
  afterDelete?: (connection: Connection) => Promise<void>;
  /** Counts requests per API key (src/http/rate-limit.ts), handed in by the app. */
  rateLimit: (limit: number, clientOf: (res: express.Response) => string) => RequestHandler;
}

/**
 * Adds the routes of one part of the API; each part declares its operations on `api`. `rawBody` names
 * the paths whose bodies the part reads itself, as sent (the JSON parser leaves them alone).
 */
export type ApiPart = ((router: Router, api: ApiDefinition) => void) & { rawBody?: RegExp[] };

/** The API key that authenticated this request (set by the key check). */
export function apiKeyOf(res: express.Response): string {
  const id: unknown = res.locals.apiKeyId;
  if (typeof id !== 'string') throw new Error('API route reached without an authenticated key');
  return id;
}

export function createApiRouter(deps: ApiDeps, parts: ApiPart[] = []): Router {
  const router = Router();
  const api = new ApiDefinition();
  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  // The document is public: it describes the API, it grants nothing.
  const document = () => api.document({ title: 'igconnect API', version: '1', serverUrl: deps.publicUrl });
  router.get('/openapi.json', (_req, res) => {
    res.json(document());
  });

  router.use(requireKey(deps));
  router.use(deps.rateLimit(deps.settings.rateLimitPerMinute, apiKeyOf));
  const json = express.json({ limit: '256kb', strict: true });
  const raw = parts.flatMap((part) => part.rawBody ?? []);
  router.use((req, res, next) => (raw.some((path) => path.test(req.path)) ? next() : json(req, res, next)));

  connectionsPart(deps)(router, api);
  for (const part of parts) part(router, api);

  router.use(apiNotFound);
  router.use(apiErrorHandler(deps.logger));
  return router;
}

function requireKey(deps: ApiDeps): RequestHandler {
  return async (req, res, next) => {
    const query = req.query as Record<string, unknown>;
    if (['api_key', 'key', 'access_token'].some((name) => name in query)) {
      throw new ApiError(
        401,
        'unauthorized',
        'API keys are accepted only in the Authorization header, never in the URL.',
      );
    }
    const header = req.get('authorization') ?? '';
    const match = /^Bearer ([^\s]+)$/.exec(header);
    const keyId = match?.[1] && looksLikeKey(match[1]) ? await authenticateKey(deps.db, match[1]) : undefined;
    if (!keyId) {
      throw new ApiError(401, 'unauthorized', 'Send a valid API key as `Authorization: Bearer <key>`.');
    }
    res.locals.apiKeyId = keyId;
    next();
  };
}

const listQuery = z
  .object({
    end_user_id: z.string().min(1).max(255).optional(),
    status: z.enum(['active', 'needs_reconnect']).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
    cursor: z
      .string()
      .regex(/^[0-9a-f-]{36}$/, 'not a cursor from this API')
      .optional(),
  })
  .strict();

function connectionsPart(deps: ApiDeps): ApiPart {
  return (router, api) => {
    api.route(
      router,
      {
        method: 'get',
        path: '/connections',
        summary: 'List connections, oldest first',
        query: listQuery,
        responses: {
          200: {
            description: 'A page of connections',
            schema: z.object({ data: z.array(connectionSchema), next_cursor: z.string().nullable() }),
          },
          400: { description: 'Invalid filter', schema: errorSchema },
        },
      },
      async ({ query }, _req, res) => {
        const page = await deps.connections.page({
          endUserId: query.end_user_id,
          status: query.status,
          limit: query.limit,
          after: query.cursor,
        });
        res.json({ data: page.connections.map(connectionResource), next_cursor: page.next });
      },
    );

    api.route(
      router,
      {
        method: 'get',
        path: '/connections/:id',
        summary: 'One connection',
        params: connectionId,
        responses: {
          200: { description: 'The connection', schema: connectionSchema },
          404: { description: 'No such connection', schema: errorSchema },
        },
      },
      async ({ params }, _req, res) => {
        const connection = await deps.connections.get(params.id as string);
        if (!connection) throw new ApiError(404, 'not_found', 'No such connection.');
        res.json(connectionResource(connection));
      },
    );

    api.route(
      router,
      {
        method: 'delete',
        path: '/connections/:id',
        summary: 'Delete a connection and its token (what Disconnect does)',
        params: connectionId,
        responses: {
          204: { description: 'Deleted' },
          404: { description: 'No such connection (or already deleted)', schema: errorSchema },
        },
      },
      async ({ params }, _req, res) => {
        const deleted = await deps.connections.deleteById(params.id as string);
        if (!deleted) throw new ApiError(404, 'not_found', 'No such connection.');
        await deps.afterDelete?.(deleted);
        res.status(204).end();
      },
    );
  };
}
