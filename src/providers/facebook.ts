import { ProviderError } from '../shared/errors';
import type { HttpClient, HttpResponse } from '../shared/http-client';
import { FACEBOOK_SCOPE_WORDS, type FacebookConfig } from './facebook.config';
import {
  badResponse,
  boundedString,
  exactId,
  graphApi,
  metaContract,
  parseJson,
  readUsage,
  record,
  safeHttpUrl,
  send,
  smallNumber,
  unwrap,
} from './meta-graph';
import type {
  AccountProfile,
  AuthorizedAccount,
  IssuedToken,
  ProviderDefinition,
  SkippedAccount,
} from './provider-definition';

/**
 * Instagram API with Facebook Login for Business (docs/instagram-platform.md):
 * - the dialog at www.facebook.com/<version>/dialog/oauth, with `config_id` (a Login for Business
 *   configuration) or Facebook Login `scope` names; the code is exchanged at graph.facebook.com;
 * - the short-lived user token is traded for a long-lived one (`fb_exchange_token`) BEFORE the Pages are
 *   listed: Page tokens fetched with a long-lived user token never expire, with a short-lived one they
 *   last an hour, and such a token is never stored;
 * - one connection per Instagram professional account behind the person's Pages; the token kept is that
 *   Page's token; a Page left out by granular consent comes without a token and is named, never stored;
 * - tokens cannot be renewed server-side, and data access lapses 90 days after the person last used the
 *   app (`data_access_expires_at` from `debug_token`, read with the app token): the person reconnects;
 * - `debug_token` also proves the token was issued to this app, and to whom.
 */
const SERVICE = 'Facebook';

/** A public Instagram post, reel or IGTV URL, the shapes Meta's instagram_oembed accepts. */
const EMBEDDABLE = /^https:\/\/(www\.)?instagram\.com\/(p|reel|tv)\/[A-Za-z0-9_-]{5,64}\/?$/;

export function isEmbeddableUrl(value: string): boolean {
  return value.length <= 300 && EMBEDDABLE.test(value);
}
const MAX_TOKEN_LENGTH = 4096;
const PAGE_FIELDS = 'id,name,access_token,instagram_business_account{id,username,name,profile_picture_url}';
const PROFILE_FIELDS = 'id,username,name,profile_picture_url,followers_count,media_count';

export function createFacebookProvider(config: FacebookConfig): ProviderDefinition {
  const graph = (path: string, query: Record<string, string> = {}) =>
    `${config.graphUrl}/${config.apiVersion}${path}${Object.keys(query).length ? `?${new URLSearchParams(query)}` : ''}`;
  // The app access token: built here from the app id and secret, sent only to Meta, never logged or shown.
  const appToken = `${config.appId}|${config.appSecret}`;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  const debugToken = async (client: HttpClient, token: string) => {
    const response = await send(
      client,
      { method: 'GET', url: graph('/debug_token', { input_token: token, access_token: appToken }) },
      SERVICE,
    );
    return parseDebugToken(response, config.appId);
  };

  return {
    id: 'facebook',
    displayName: 'Facebook',
    scopeWords: FACEBOOK_SCOPE_WORDS,
    authorization: {
      clientId: config.appId,
      clientSecret: config.appSecret,
      authorizeUrl: config.authorizeUrl,
      tokenUrl: graph('/oauth/access_token'),
      redirectUri: config.redirectUri,
      scopes: config.scopes,
      scopeSeparator: ',',
    },
    // Page tokens obtained from a long-lived user token do not expire, and nothing renews them.
    tokens: { renewal: null },
    callbackSecrets: [{ name: 'FACEBOOK_APP_SECRET', secret: config.appSecret }],

    authorizationParams: ({ forceReauth }) => ({
      ...(config.configId ? { config_id: config.configId } : {}),
      ...(forceReauth ? { auth_type: 'reauthenticate' } : {}),
    }),

    async exchangeCode(client, code) {
      const response = await send(
        client,
        {
          method: 'GET',
          url: graph('/oauth/access_token', {
            client_id: config.appId,
            redirect_uri: config.redirectUri,
            client_secret: config.appSecret,
            code,
          }),
        },
        SERVICE,
      );
      const { accessToken } = parseIssuedToken(response, 'token');
      // Who the token belongs to, and that it was issued to this app at all.
      const debug = await debugToken(client, accessToken);
      return { accessToken, subjectId: debug.userId, grantedScopes: debug.scopes };
    },

    async fetchAccounts(client, grant) {
      const exchanged = await send(
        client,
        {
          method: 'GET',
          url: graph('/oauth/access_token', {
            grant_type: 'fb_exchange_token',
            client_id: config.appId,
            client_secret: config.appSecret,
            fb_exchange_token: grant.accessToken,
          }),
        },
        SERVICE,
      );
      const userToken = parseIssuedToken(exchanged, 'long-lived token').accessToken;
      const me = await send(
        client,
        { method: 'GET', url: graph('/me', { fields: 'id,name' }), headers: bearer(userToken) },
        SERVICE,
      );
      const subjectId = exactId(unwrap(parseJson(me))?.id);
      if (!subjectId) throw badResponse(SERVICE, 'profile');
      const debug = await debugToken(client, userToken);
      const pages = await send(
        client,
        {
          method: 'GET',
          url: graph('/me/accounts', { fields: PAGE_FIELDS, limit: '100' }),
          headers: bearer(userToken),
        },
        SERVICE,
      );
      const found = accountsOfPages(pages, {
        subjectId,
        grantedScopes: debug.scopes,
        accessExpiresAt: debug.dataAccessExpiresAt,
      });
      // Facebook lists a business portfolio's Pages only with business_management: say so, or the person
      // would never learn why an account is missing.
      if (!debug.scopes.includes('business_management')) {
        found.skipped.push({ name: 'business_management', reason: 'business_pages_hidden' });
      }
      return found;
    },

    identityMatches: (grant, account) => grant.subjectId !== null && grant.subjectId === account.subjectId,

    async refresh() {
      throw new ProviderError('PROVIDER_REJECTED', 'Facebook Page tokens cannot be renewed server-side', {
        kind: 'refused',
        reason: 'not_renewable',
      });
    },

    async fetchProfile(client, pageToken, accountId) {
      const response = await send(
        client,
        { method: 'GET', url: graph(`/${accountId}`, { fields: PROFILE_FIELDS }), headers: bearer(pageToken) },
        SERVICE,
      );
      const body = unwrap(parseJson(response));
      const profile = body && profileOf(body);
      if (!profile || exactId(body.id) !== accountId) throw badResponse(SERVICE, 'profile');
      return profile;
    },

    oembed: {
      accepts: isEmbeddableUrl,
      async fetch(client, request) {
        const query: Record<string, string> = { url: request.url, access_token: appToken };
        if (request.maxwidth !== undefined) query.maxwidth = String(request.maxwidth);
        const response = await send(client, { method: 'GET', url: graph('/instagram_oembed', query) }, SERVICE);
        const body = record(parseJson(response));
        if (!body || typeof body.html !== 'string') throw badResponse(SERVICE, 'oEmbed');
        return { ...body };
      },
    },

    // The Facebook Graph, at the pinned version, for the deployer's calls through the proxy (Page token).
    api: graphApi(config.graphUrl, config.apiVersion, SERVICE),

    usage: readUsage,
    contract: metaContract({
      apiVersion: config.apiVersion,
      authorizeUrl: config.authorizeUrl,
      authorizeParams: {
        client_id: config.appId,
        redirect_uri: config.redirectUri,
        response_type: 'code',
        ...(config.configId ? { config_id: config.configId } : { scope: config.scopes.join(',') }),
      },
      // No parameters at all: Graph must refuse it with its error envelope.
      tokenProbe: { method: 'GET', url: graph('/oauth/access_token') },
    }),

    async revoke(client, subjectId) {
      await send(
        client,
        { method: 'DELETE', url: graph(`/${subjectId}/permissions`, { access_token: appToken }) },
        SERVICE,
      );
    },
  };
}

function parseIssuedToken(response: HttpResponse, what: string): IssuedToken {
  const body = unwrap(parseJson(response));
  const accessToken = boundedString(body?.access_token, MAX_TOKEN_LENGTH);
  if (!accessToken) throw badResponse(SERVICE, what);
  const expiresIn = smallNumber(body?.expires_in);
  return { accessToken, expiresInSeconds: expiresIn === undefined || expiresIn === 0 ? null : expiresIn };
}

interface DebugToken {
  userId: string;
  scopes: string[];
  dataAccessExpiresAt: number | null;
}

/** `debug_token`'s answer, refusing a token this app did not get (token substitution) or an invalid one. */
export function parseDebugToken(response: HttpResponse, appId: string): DebugToken {
  const data = record(record(parseJson(response))?.data);
  const userId = exactId(data?.user_id);
  if (!data || !userId) throw badResponse(SERVICE, 'debug_token');
  if (exactId(data.app_id) !== appId || data.is_valid !== true) {
    throw new ProviderError(
      'PROVIDER_IDENTITY_MISMATCH',
      'debug_token says the token is invalid or belongs to another app',
      {
        kind: 'refused',
        reason: 'identity_mismatch',
      },
    );
  }
  const scopes = Array.isArray(data.scopes) ? data.scopes.filter((s): s is string => typeof s === 'string') : [];
  const lapse = smallNumber(data.data_access_expires_at);
  return { userId, scopes, dataAccessExpiresAt: lapse ? lapse * 1000 : null };
}

function profileOf(body: Record<string, unknown>): AccountProfile | undefined {
  const username = boundedString(body.username, 64);
  if (!username) return undefined;
  return {
    username,
    name: boundedString(body.name, 256) ?? null,
    accountType: 'BUSINESS',
    profilePictureUrl: safeHttpUrl(body.profile_picture_url),
    followersCount: smallNumber(body.followers_count) ?? null,
    mediaCount: smallNumber(body.media_count) ?? null,
  };
}

/**
 * One account per Instagram professional account behind a shared Page; a Page without a token (left out
 * on the consent screen) or without a linked account is named as skipped.
 */
export function accountsOfPages(
  response: HttpResponse,
  person: { subjectId: string; grantedScopes: string[]; accessExpiresAt: number | null },
): { accounts: AuthorizedAccount[]; skipped: SkippedAccount[] } {
  const list = record(parseJson(response))?.data;
  if (!Array.isArray(list)) throw badResponse(SERVICE, 'Pages');
  const accounts: AuthorizedAccount[] = [];
  const skipped: SkippedAccount[] = [];
  for (const entry of list) {
    const page = record(entry);
    const pageId = exactId(page?.id);
    const pageName = boundedString(page?.name, 256) ?? `Page ${pageId ?? '?'}`;
    if (!page || !pageId) continue;
    const pageToken = boundedString(page.access_token, MAX_TOKEN_LENGTH);
    const linked = record(page.instagram_business_account);
    if (!pageToken) {
      skipped.push({ name: pageName, reason: 'not_shared' });
      continue;
    }
    const accountId = exactId(linked?.id);
    const profile = linked && profileOf(linked);
    if (!accountId || !profile) {
      skipped.push({ name: pageName, reason: 'no_instagram_account' });
      continue;
    }
    accounts.push({
      accountId,
      subjectId: person.subjectId,
      profile: { ...profile, page: { id: pageId, name: pageName } },
      token: { accessToken: pageToken, expiresInSeconds: null },
      grantedScopes: person.grantedScopes,
      accessExpiresAt: person.accessExpiresAt,
    });
  }
  return { accounts, skipped };
}
