import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Connection } from '../connections/connections.service';
import type { Database } from '../db/schema';
import type { Clock } from '../shared/clock';
import { ApiError } from './api-errors';
import { type ApiPart, apiKeyOf } from './api.routes';
import { connectionId, errorSchema } from './schemas';
import type { TokenAccess } from './token-access';
import { recordTokenRead } from './token-reads';

/**
 * GET /connections/{id}/access-token: the connection's token for the deployer's backend, valid for at
 * least `min_ttl_seconds` when the provider allows a renewal now (token-access.ts). Every token handed
 * out is recorded first (key, connection, time, whether it was renewed; never the token).
 */

/** 59 days: a renewed Instagram token lives 60, so any wish up to this can be met by one renewal. */
export const MAX_MIN_TTL_SECONDS = 5_097_600;
export const DEFAULT_MIN_TTL_SECONDS = 3600;

const tokenQuery = z
  .object({
    min_ttl_seconds: z
      .string()
      .regex(/^\d+$/, 'a whole number of seconds')
      .transform(Number)
      .pipe(
        z
          .number()
          .max(MAX_MIN_TTL_SECONDS, `at most ${MAX_MIN_TTL_SECONDS} (59 days)`)
          .describe('Seconds the token must stay valid at least; 0 to 5097600 (59 days), default 3600'),
      )
      .default(DEFAULT_MIN_TTL_SECONDS),
  })
  .strict();

const tokenSchema = z.object({
  access_token: z.string(),
  expires_at: z.string().nullable().describe('ISO 8601 UTC; null for a token that does not expire'),
  scopes: z.array(z.string()),
  instagram_user_id: z.string().describe('The Instagram professional account id, an exact string'),
});

export function needsReconnect(connection?: Connection): ApiError {
  const reason = connection?.statusReason ? ` (${connection.statusReason})` : '';
  return new ApiError(409, 'needs_reconnect', `The connection needs its owner to connect again${reason}.`);
}

export function tokenPart(deps: { db: Kysely<Database>; clock: Clock; access: TokenAccess }): ApiPart {
  return (router, api) => {
    api.route(
      router,
      {
        method: 'get',
        path: '/connections/:id/access-token',
        summary: "The connection's access token, renewed first when it would expire too soon",
        description:
          'Renews the token first (once, however many callers ask at once) when it would expire within ' +
          'min_ttl_seconds and the provider allows a renewal now; when the provider refuses for a passing ' +
          'reason, the still-valid token is answered (see expires_at). Each read is recorded.',
        params: connectionId,
        query: tokenQuery,
        responses: {
          200: { description: 'The token (Cache-Control: no-store)', schema: tokenSchema },
          400: { description: 'min_ttl_seconds out of range', schema: errorSchema },
          404: { description: 'No such connection', schema: errorSchema },
          409: { description: 'The connection needs reconnecting (code needs_reconnect)', schema: errorSchema },
        },
      },
      async ({ params, query }, _req, res) => {
        const id = params.id as string;
        const read = await deps.access.read(id, query.min_ttl_seconds * 1000);
        if (read.kind === 'not_found') throw new ApiError(404, 'not_found', 'No such connection.');
        if (read.kind === 'needs_reconnect') throw needsReconnect(read.connection);
        // Recorded before it is answered: a token the record cannot take is not handed out.
        await recordTokenRead(deps.db, {
          apiKeyId: apiKeyOf(res),
          connectionId: id,
          at: deps.clock.now(),
          renewed: read.renewed,
        });
        const { connection } = read;
        res.set('Cache-Control', 'no-store').json({
          access_token: read.accessToken,
          expires_at: connection.tokenExpiresAt === null ? null : new Date(connection.tokenExpiresAt).toISOString(),
          scopes: connection.grantedScopes,
          instagram_user_id: connection.accountId,
        });
      },
    );
  };
}
