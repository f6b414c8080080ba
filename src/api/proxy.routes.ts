import express, { type Request } from 'express';
import { z } from 'zod';
import type { ConnectionsService } from '../connections/connections.service';
import type { ProviderWatch, Verdict } from '../incidents/provider-watch';
import type { ProviderRegistry } from '../providers/registry';
import { describeUrl, type HttpClient, type HttpRequest, HttpTransportError } from '../shared/http-client';
import type { Clock } from '../shared/clock';
import type { Logger } from '../shared/logger';
import { ApiError } from './api-errors';
import type { ApiPart } from './api.routes';
import { checkGraphPath, forwardedQuery, graphUrl, rawPathAfter } from './graph-path';
import { connectionId, errorSchema } from './schemas';
import type { TokenAccess } from './token-access';
import { needsReconnect } from './token.routes';

/**
 * GET|POST|DELETE /connections/{id}/proxy/<path>: the provider's API at its pinned version, called with the
 * connection's token, which the caller never sees or sends. What passes, each way, is listed rather than
 * filtered: towards the provider the path (a plain Graph path, graph-path.ts), the query less any
 * `access_token`, and a JSON or form body as sent, with our Authorization header and nothing else of the
 * caller's (no cookie, no hop-by-hop header, not the API key); back to the caller the status, the body, its
 * content type and the provider's usage and trace headers. A token the provider declares dead marks the
 * connection for reconnecting at once.
 */

/** The proxy's paths below /api/v1: their bodies are read here, as sent, never parsed and rebuilt. */
const PROXY_PATH = /^\/connections\/[^/]+\/proxy(?:\/|$)/;
const BODY_TYPES = ['application/json', 'application/x-www-form-urlencoded'];
const readBody = express.raw({ type: BODY_TYPES, limit: '256kb' });

export interface ProxyDeps {
  connections: ConnectionsService;
  providers: ProviderRegistry;
  http: HttpClient;
  access: TokenAccess;
  logger: Logger;
  clock: Clock;
  /** The providers' state (src/incidents): pauses, usage headers, and whose a refused token is. */
  watch?: ProviderWatch;
}

export function proxyPart(deps: ProxyDeps): ApiPart {
  const part: ApiPart = (router, api) => {
    for (const method of ['get', 'post', 'delete'] as const) {
      api.route(
        router,
        {
          method,
          path: '/connections/:id/proxy{/*path}',
          summary: `${method.toUpperCase()} on the provider's Graph API with the connection's token`,
          description:
            'The path below the pinned Graph version (e.g. me/media), the query (less access_token) and a ' +
            "JSON or form body go to the provider with the connection's token; the answer comes back with " +
            "the provider's status, body, content type and usage headers.",
          params: connectionId,
          query: z.looseObject({}),
          responses: {
            200: { description: "The provider's answer, whatever its status" },
            400: { description: 'Not a plain Graph path, or a malformed body', schema: errorSchema },
            404: { description: 'No such connection', schema: errorSchema },
            409: { description: 'The connection needs reconnecting (code needs_reconnect)', schema: errorSchema },
            415: { description: 'A body that is neither JSON nor a form', schema: errorSchema },
            502: { description: 'The provider could not be reached in time', schema: errorSchema },
            503: {
              description: "The provider's rate budget is nearly used up: retry after Retry-After (provider_throttled)",
              schema: errorSchema,
            },
          },
        },
        async ({ params }, req, res) => {
          const id = params.id as string;
          const checked = checkGraphPath(rawPathAfter(req.url, PROXY_PATH) ?? '');
          if (!checked.ok) throw new ApiError(400, 'invalid_request', `Not a plain Graph path: ${checked.reason}.`);
          const body = method === 'get' ? undefined : bodyOf(req);

          const read = await deps.access.read(id, 0);
          if (read.kind === 'not_found') throw new ApiError(404, 'not_found', 'No such connection.');
          if (read.kind === 'needs_reconnect') throw needsReconnect(read.connection);
          const token = read.accessToken;
          const provider = deps.providers.find(read.connection.provider);
          const providerApi = provider?.api;
          if (!provider || !providerApi) {
            throw new ApiError(400, 'invalid_request', "This connection's provider has no API igconnect can call.");
          }
          // Checked twice: the URL as built must still lie below the pinned base on the provider's host.
          const url = graphUrl(providerApi.baseUrl, checked.path, forwardedQuery(req.url));
          if (!url) throw new ApiError(400, 'invalid_request', 'Not a plain Graph path.');

          const request: HttpRequest = {
            method: method === 'get' ? 'GET' : method === 'post' ? 'POST' : 'DELETE',
            url,
            headers: { authorization: `Bearer ${token}` },
            ...(body ? { body } : {}),
          };
          const { watch } = deps;
          const started = deps.clock.now();
          const waitMs = watch ? await watch.pauseLeftMs(provider.id, started) : 0;
          if (waitMs > 0) {
            // Every instance holds off together, so the keeper's renewals keep what is left of the budget.
            res.set('Retry-After', String(Math.ceil(waitMs / 1000)));
            throw new ApiError(
              503,
              'provider_throttled',
              `${provider.displayName}'s rate budget for this app is nearly used up; igconnect holds off until it frees. Retry after Retry-After seconds.`,
            );
          }
          let response;
          try {
            response = await (watch ? watch.clientFor(provider) : deps.http)(request);
          } catch (error) {
            if (!(error instanceof HttpTransportError)) throw error;
            const what = error.kind === 'timeout' ? 'did not answer in time' : 'could not be reached';
            throw new ApiError(502, 'provider_unavailable', `${provider.displayName} ${what}; try again shortly.`);
          }

          const failure = providerApi.classify(response, describeUrl(url));
          if (!failure && response.status < 400) await watch?.succeeded(provider.id, started);
          let verdict: Verdict = { kind: 'own' };
          if (failure?.failure.kind === 'reconnect' && watch) {
            // Only a refused token is judged here: a caller's own bad requests must never look like an
            // incident of the provider's.
            verdict = await watch
              .judge(provider, { id, accountId: read.connection.accountId }, failure)
              .catch((): Verdict => ({ kind: 'unconfirmed', signature: 'unjudged' }));
            if (verdict.kind !== 'own') {
              deps.logger.info(
                { connectionId: id, verdict: verdict.kind, signature: verdict.signature },
                "the provider refused the token of a proxied call; not marked (the provider app is degraded, or not yet known to be this connection's own)",
              );
            }
          }
          if (failure?.failure.kind === 'reconnect' && verdict.kind === 'own') {
            const marked = await deps.connections.markNeedsReconnect(
              id,
              failure.failure.reason,
              failure.detail ?? null,
            );
            if (marked) {
              deps.logger.warn(
                { connectionId: id, reason: failure.failure.reason },
                'the provider refused the token of a proxied call; the connection needs reconnecting',
              );
            }
          }

          res.status(response.status);
          const type = response.headers.get('content-type');
          if (type !== null) res.set('Content-Type', type);
          for (const name of providerApi.passedHeaders) {
            const value = response.headers.get(name);
            if (value !== null) res.set(name, value);
          }
          // Not res.send(): no ETag or 304 of ours on someone else's answer, and no content type guessed.
          res.end(response.status === 204 || response.status === 304 ? undefined : withoutToken(response.text, token));
        },
        ...(method === 'get' ? [] : [readBody]),
      );
    }
  };
  part.rawBody = [PROXY_PATH];
  return part;
}

/**
 * The answer without the connection's token. Graph writes it into the query of the paging URLs it
 * returns (`paging.next`, `paging.previous`) however the call was authorized: that parameter is taken out
 * of each URL (the caller follows the page through the proxy), and any other occurrence is blanked.
 */
export function withoutToken(text: string, token: string): string {
  if (token === '' || !text.includes(token)) return text;
  const escaped = token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text
    .replace(new RegExp(`([?&])access_token=${escaped}(&?)`, 'g'), (_match, separator: string, next: string) =>
      next ? separator : '',
    )
    .split(token)
    .join('[redacted]');
}

/** The caller's body as sent, when there is one: JSON (checked to parse) or a form. */
function bodyOf(req: Request): HttpRequest['body'] {
  const length = req.get('content-length');
  const sent = req.get('transfer-encoding') !== undefined || (length !== undefined && length !== '0');
  if (!sent) return undefined;
  const contentType = req.get('content-type');
  if (!Buffer.isBuffer(req.body) || contentType === undefined) {
    throw new ApiError(
      415,
      'unsupported_media_type',
      'Send a JSON body (application/json) or a form (application/x-www-form-urlencoded).',
    );
  }
  if (req.is('application/json')) {
    try {
      JSON.parse(req.body.toString('utf8'));
    } catch {
      throw new ApiError(400, 'invalid_request', 'The request body is not valid JSON.');
    }
  }
  return { contentType, data: req.body };
}
