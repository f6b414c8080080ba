import { z } from 'zod';
import type { ConnectSessions } from '../connect-sessions/connect-sessions.service';
import { RETURN_URL_MAX_LENGTH } from '../connect-sessions/return-url';
import { apiKeyOf, type ApiPart } from './api.routes';
import { errorSchema } from './schemas';

/** The provider a link uses when the request names none: Instagram Login, the first igconnect had. */
export const DEFAULT_LINK_PROVIDER = 'instagram';

// NUL cannot be stored in PostgreSQL text, and a lone surrogate would come back changed: refused, so the
// id the deployer sent is exactly the id it gets back.
const storable = (value: string) => !value.includes('\u0000') && !/\p{Cs}/u.test(value);

/**
 * POST /api/v1/connect-sessions: a connect link for one of the deployer's users. The body's schema is
 * also the OpenAPI description; `provider` is one of the configured providers.
 */
export function connectSessionsPart(deps: { connectSessions: ConnectSessions; providers: string[] }): ApiPart {
  const [first, ...rest] = deps.providers;
  if (first === undefined) throw new Error('connect links need at least one configured provider');
  const providerId = z.enum([first, ...rest]);
  const body = z
    .object({
      end_user_id: z
        .string()
        .min(1)
        .max(255)
        .refine(storable, 'must not contain NUL or unpaired surrogates')
        .describe("The deployer's own id for its user (opaque to igconnect)"),
      return_url: z
        .string()
        .max(RETURN_URL_MAX_LENGTH)
        .superRefine((value, ctx) => {
          const problem = deps.connectSessions.returnUrlProblem(value);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        })
        .optional()
        .describe('Where the browser goes afterwards; its origin must be PUBLIC_URL’s or in RETURN_URL_ORIGINS'),
      provider: (deps.providers.includes(DEFAULT_LINK_PROVIDER)
        ? providerId.default(DEFAULT_LINK_PROVIDER)
        : providerId
      ).describe('A configured provider id'),
    })
    .strict();

  return (router, api) => {
    api.route(
      router,
      {
        method: 'post',
        path: '/connect-sessions',
        summary: 'Make a connect link for one of your users',
        description:
          'Send the user’s browser to `url`. It works until a connect through it completes, or until ' +
          '`expires_at`. Afterwards the browser goes to `return_url` with `connection_id` and ' +
          '`status=connected`, `status=cancelled`, or `status=error&error=<code>` appended.',
        body,
        responses: {
          201: {
            description: 'The link',
            schema: z.object({
              id: z.string(),
              url: z.string().describe('Under PUBLIC_URL; carries a secret: hand it only to that user'),
              expires_at: z.string().describe('ISO 8601 UTC'),
            }),
          },
          400: { description: 'Invalid body (the message names the field)', schema: errorSchema },
        },
      },
      async ({ body: input }, _req, res) => {
        const link = await deps.connectSessions.create({
          apiKeyId: apiKeyOf(res),
          endUserId: input.end_user_id,
          provider: input.provider,
          returnUrl: input.return_url,
        });
        res.status(201).json({ id: link.id, url: link.url, expires_at: new Date(link.expiresAt).toISOString() });
      },
    );
  };
}
