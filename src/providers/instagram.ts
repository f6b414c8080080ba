import { HOUR } from '../shared/clock';
import type { HttpClient, HttpResponse } from '../shared/http-client';
import { INSTAGRAM_SCOPE_WORDS, type InstagramConfig } from './instagram.config';
import {
  badResponse,
  boundedString,
  exactId,
  graphApi,
  metaContract,
  parseJson,
  readUsage,
  safeHttpUrl,
  send,
  smallNumber,
  unwrap,
} from './meta-graph';
import type { AccountProfile, AuthorizationGrant, IssuedToken, ProviderDefinition } from './provider-definition';

/**
 * Instagram API with Instagram Login (docs/instagram-platform.md):
 * - the token endpoint answers flat `{access_token, user_id, permissions}` or wrapped in `data[]`;
 *   `user_id` may be a bare JSON number above 2^53, so every body is parsed losslessly and ids are kept
 *   as exact digit strings; `permissions` is an array or a comma string;
 * - the short-lived token is exchanged for a 60-day one at once, server-side;
 * - a long-lived token can be refreshed only while valid and at least 24 hours old;
 * - `/me` gives the app-scoped id (`id`, equal to the token response's `user_id`) and the professional
 *   account id (`user_id`), the id of the connection.
 */
export const PROFILE_FIELDS = [
  'id',
  'user_id',
  'username',
  'name',
  'account_type',
  'profile_picture_url',
  'followers_count',
  'media_count',
] as const;

const SERVICE = 'Instagram';
const MAX_TOKEN_LENGTH = 4096;
/** Instagram refreshes a long-lived token only once it is at least a day old. */
export const MIN_REFRESH_AGE_MS = 24 * HOUR;

export function createInstagramProvider(config: InstagramConfig): ProviderDefinition {
  const graph = (path: string, query: Record<string, string>) =>
    `${config.graphUrl}${path}?${new URLSearchParams(query).toString()}`;

  const fetchMe = async (client: HttpClient, accessToken: string) => {
    const response = await send(
      client,
      {
        method: 'GET',
        url: graph(`/${config.apiVersion}/me`, { fields: PROFILE_FIELDS.join(',') }),
        // The token travels in a header, not the query string, so it cannot leak through URL logs.
        headers: { authorization: `Bearer ${accessToken}` },
      },
      SERVICE,
    );
    return parseProfile(response);
  };
  return {
    id: 'instagram',
    displayName: 'Instagram',
    scopeWords: INSTAGRAM_SCOPE_WORDS,
    authorization: {
      clientId: config.appId,
      clientSecret: config.appSecret,
      authorizeUrl: config.authorizeUrl,
      tokenUrl: config.tokenUrl,
      redirectUri: config.redirectUri,
      scopes: config.scopes,
      scopeSeparator: ',',
    },
    tokens: { renewal: { minAgeMs: MIN_REFRESH_AGE_MS } },
    // Meta's pages say the app secret signs these callbacks; Instagram Login's are reported signed with
    // the Instagram app secret. Try that first, then the Meta app secret when the deployer gave it.
    callbackSecrets: [
      { name: 'INSTAGRAM_APP_SECRET', secret: config.appSecret },
      ...(config.metaAppSecret ? [{ name: 'META_APP_SECRET', secret: config.metaAppSecret }] : []),
    ],

    authorizationParams: ({ forceReauth }): Record<string, string> => (forceReauth ? { force_reauth: 'true' } : {}),

    async exchangeCode(client, code) {
      const response = await send(
        client,
        {
          method: 'POST',
          url: config.tokenUrl,
          form: {
            client_id: config.appId,
            client_secret: config.appSecret,
            grant_type: 'authorization_code',
            redirect_uri: config.redirectUri,
            code,
          },
        },
        SERVICE,
      );
      return parseTokenGrant(response);
    },

    async fetchAccounts(client, grant) {
      // Trade the short-lived token (one hour) for the 60-day one at once, then read who it belongs to.
      const exchanged = await send(
        client,
        {
          method: 'GET',
          url: graph('/access_token', {
            grant_type: 'ig_exchange_token',
            client_secret: config.appSecret,
            access_token: grant.accessToken,
          }),
        },
        SERVICE,
      );
      const token = parseIssuedToken(exchanged);
      const me = await fetchMe(client, token.accessToken);
      return {
        accounts: [
          {
            accountId: me.accountId,
            subjectId: me.subjectId,
            profile: me.profile,
            token,
            grantedScopes: grant.grantedScopes ?? [],
          },
        ],
        skipped: [],
      };
    },

    // The token response's user_id and /me's id are both the app-scoped id, as exact strings: a mismatch
    // means the token and the profile disagree about who this is.
    identityMatches: (grant, account) => grant.subjectId !== null && grant.subjectId === account.subjectId,

    async refresh(client, accessToken) {
      const response = await send(
        client,
        {
          method: 'GET',
          url: graph('/refresh_access_token', { grant_type: 'ig_refresh_token', access_token: accessToken }),
        },
        SERVICE,
      );
      return parseIssuedToken(response);
    },

    async fetchProfile(client, accessToken) {
      return (await fetchMe(client, accessToken)).profile;
    },

    // graph.instagram.com at the pinned version; it takes the token as a Bearer header as well as in the
    // query, and the header keeps it out of every URL.
    api: graphApi(config.graphUrl, config.apiVersion, SERVICE),

    usage: readUsage,
    contract: metaContract({
      apiVersion: config.apiVersion,
      authorizeUrl: config.authorizeUrl,
      authorizeParams: {
        client_id: config.appId,
        redirect_uri: config.redirectUri,
        response_type: 'code',
        scope: config.scopes.join(','),
      },
      // An empty form: the token endpoint must refuse it in its own error dialect.
      tokenProbe: { method: 'POST', url: config.tokenUrl, form: {} },
    }),
  };
}

export function parseTokenGrant(response: HttpResponse): AuthorizationGrant {
  const body = unwrap(parseJson(response));
  const accessToken = boundedString(body?.access_token, MAX_TOKEN_LENGTH);
  const userId = exactId(body?.user_id);
  if (!body || !accessToken || !userId) throw badResponse(SERVICE, 'token');
  const raw = body.permissions;
  const permissions = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : [];
  return {
    accessToken,
    subjectId: userId,
    grantedScopes: permissions
      .filter((p): p is string => typeof p === 'string')
      .map((p) => p.trim())
      .filter(Boolean),
  };
}

export function parseIssuedToken(response: HttpResponse): IssuedToken {
  const body = unwrap(parseJson(response));
  const accessToken = boundedString(body?.access_token, MAX_TOKEN_LENGTH);
  const expiresInSeconds = smallNumber(body?.expires_in);
  if (!accessToken || expiresInSeconds === undefined || expiresInSeconds === 0) {
    throw badResponse(SERVICE, 'long-lived token');
  }
  return { accessToken, expiresInSeconds };
}

export function parseProfile(response: HttpResponse): {
  subjectId: string;
  accountId: string;
  profile: AccountProfile;
} {
  const body = unwrap(parseJson(response));
  const subjectId = exactId(body?.id);
  const accountId = exactId(body?.user_id);
  const username = boundedString(body?.username, 64);
  if (!body || !subjectId || !accountId || !username) throw badResponse(SERVICE, 'profile');
  const optional = (value: unknown, max: number) => boundedString(value, max) ?? null;
  return {
    subjectId,
    accountId,
    profile: {
      username,
      name: optional(body.name, 256),
      accountType: optional(body.account_type, 32),
      profilePictureUrl: safeHttpUrl(body.profile_picture_url),
      followersCount: smallNumber(body.followers_count) ?? null,
      mediaCount: smallNumber(body.media_count) ?? null,
    },
  };
}
