import { z } from 'zod';
import type { EmbedsService } from '../embeds/embeds.service';
import { ProviderError } from '../shared/errors';
import { ApiError } from './api-errors';
import type { ApiPart } from './api.routes';
import { errorSchema } from './schemas';

/**
 * GET /api/v1/oembed: Meta's oEmbed JSON for a public Instagram post, read with the app's token (built
 * server-side from the app id and secret; it never reaches the caller). Meta's refusals come back in the
 * API's error shape.
 */
export function embedsPart(embeds: EmbedsService): ApiPart {
  const query = z
    .object({
      url: z
        .string()
        .max(300)
        // Without an embedder every request is answered 404 `not_configured` below, whatever the URL.
        .refine(
          (url) => !embeds.available || embeds.accepts(url),
          'must be the address of a public post, reel or IGTV video',
        ),
      maxwidth: z.coerce.number().int().min(320).max(1000).optional(),
    })
    .strict();
  return (router, api) => {
    api.route(
      router,
      {
        method: 'get',
        path: '/oembed',
        summary: "Meta's oEmbed for a public Instagram post (no connection needed)",
        query,
        responses: {
          200: { description: "Meta's oEmbed JSON", schema: z.object({ html: z.string() }).loose() },
          400: { description: 'Not a public post URL', schema: errorSchema },
          404: { description: 'No such public post, or embeds are not configured', schema: errorSchema },
        },
      },
      async ({ query: q }, _req, res) => {
        if (!embeds.available) {
          throw new ApiError(404, 'not_configured', 'Embeds need Facebook Login configured (FACEBOOK_APP_ID).');
        }
        try {
          res.json(await embeds.embed({ url: q.url, maxwidth: q.maxwidth }));
        } catch (error) {
          throw apiErrorOf(error);
        }
      },
    );
  };
}

function apiErrorOf(error: unknown): unknown {
  if (!(error instanceof ProviderError)) return error;
  switch (error.failure.kind) {
    case 'throttled':
      return new ApiError(429, 'rate_limited', 'Meta asked us to slow down; try again later.');
    case 'transient':
      return new ApiError(502, 'provider_unavailable', 'Meta did not answer; try again shortly.');
    case 'reconnect':
      return new ApiError(
        502,
        'provider_refused',
        "Meta refused the app's token: check FACEBOOK_APP_ID and FACEBOOK_APP_SECRET.",
      );
    default:
      return new ApiError(404, 'not_found', 'Meta has no public post to embed at this URL.');
  }
}
