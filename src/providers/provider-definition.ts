import type { ProviderError } from '../shared/errors';
import type { HttpClient, HttpRequest, HttpResponse } from '../shared/http-client';

/**
 * A login provider as data plus a few named hooks (ADR 0006). The strategy, the connections service and
 * the keeper never ask which provider they talk to: they take the definition named by a connection's
 * `provider` from the registry, and every quirk of the provider lives in its definition and its sandbox.
 */

/** What a connected account looks like to people and to the API; stored as one value. */
export interface AccountProfile {
  username: string;
  name: string | null;
  accountType: string | null;
  profilePictureUrl: string | null;
  followersCount: number | null;
  mediaCount: number | null;
  /** The Facebook Page the account is reached through, for providers that go through Pages. */
  page?: { id: string; name: string };
}

/** A token the provider issued. `expiresInSeconds` is null for a token that does not expire. */
export interface IssuedToken {
  accessToken: string;
  expiresInSeconds: number | null;
}

/** The code exchange's answer: the provider's first token and what it says about who authorized. */
export interface AuthorizationGrant {
  accessToken: string;
  /** The person's app-scoped id when the token response names it (exact digits), else null. */
  subjectId: string | null;
  /** Scopes the token response says were granted, or null when it does not say. */
  grantedScopes: string[] | null;
}

/** One account an authorization reaches, with the token igconnect keeps for it. */
export interface AuthorizedAccount {
  /** The account's id at the provider, exact. */
  accountId: string;
  /** The person who authorized, as the provider identifies them to this app. */
  subjectId: string;
  profile: AccountProfile;
  token: IssuedToken;
  grantedScopes: string[];
  /**
   * When the person's grant of data access lapses whatever the token's own expiry (Facebook's 90 days),
   * epoch ms; null or absent when the provider has no such limit.
   */
  accessExpiresAt?: number | null;
}

/** An account the authorization could have reached but did not, named for the person (never stored). */
export interface SkippedAccount {
  /** What the person knows it by (a Page's name). */
  name: string;
  /**
   * `not_shared`: left out on the consent screen; `no_instagram_account`: no professional account linked;
   * `business_pages_hidden`: Pages owned by a business are not listed without that permission (`name` is
   * the permission's name).
   */
  reason: 'not_shared' | 'no_instagram_account' | 'business_pages_hidden';
}

export interface AccountsFound {
  accounts: AuthorizedAccount[];
  skipped: SkippedAccount[];
}

/** How a provider's tokens live: whether igconnect can renew one server-side, and from what age. */
export interface TokenPolicy {
  /** null: a token cannot be renewed; the person must connect again before it expires. */
  renewal: { minAgeMs: number } | null;
}

/** Failures are classified where they are parsed, by the provider that answered (see ProviderFailure). */
export type { FailureKind, ProviderFailure } from '../shared/errors';

export interface AuthorizationSettings {
  clientId: string;
  clientSecret: string;
  authorizeUrl: string;
  tokenUrl: string;
  /** Absolute and byte-identical in the authorize and token requests. */
  redirectUri: string;
  scopes: string[];
  scopeSeparator: string;
}

/**
 * The provider's own API, as igconnect's proxy calls it on a connection's behalf (src/api): where it
 * lives at the pinned version, how the token is sent, what of its answers is passed back, and how a failed
 * answer is classified (a dead token marks the connection for reconnecting at once).
 */
export interface ProviderApi {
  /** Absolute URL of the API at the pinned version, without a trailing slash; proxied paths go below it. */
  baseUrl: string;
  /** Response headers the caller gets as the provider sent them (lower case): usage and trace headers. */
  passedHeaders: readonly string[];
  /** A failed answer as the provider classifies it; undefined when the answer is not a failure. */
  classify(response: HttpResponse, target: string): ProviderError | undefined;
}

/**
 * How much of the provider's rate budget the app has used, read from one answer's headers (percent,
 * 0–100 and beyond once throttled), and how long until access comes back when the provider says.
 */
export interface UsageReading {
  appPercent: number | undefined;
  businessPercent: number | undefined;
  regainAfterMs: number | undefined;
}

/**
 * What igconnect relies on the provider keeping (src/incidents/canary.ts): the pinned API version and its
 * announced end of life (a dated table in the definition, with where the date comes from), and two cheap
 * requests whose answers show that the authorize and token endpoints still behave as expected.
 */
export interface ProviderContract {
  apiVersion: {
    version: string;
    /** ISO date of the last day the version is available; null: not announced; undefined: not in the table. */
    endOfLife: string | null | undefined;
    source: string;
    /** When the table was last compared with the source. */
    checkedOn: string;
  };
  /** The authorize URL as a browser would open it: a page or a redirect is expected, never a 404 or 5xx. */
  authorizeProbe: HttpRequest;
  authorizeAnswerOk(response: HttpResponse): boolean;
  /** A request the token endpoint must refuse in its own error shape (no code, no secret sent). */
  tokenProbe: HttpRequest;
  tokenAnswerOk(response: HttpResponse): boolean;
}

export interface ProviderDefinition {
  /** Route segment and stored `provider` value: /auth/<id>, /auth/<id>/callback. */
  id: string;
  displayName: string;
  authorization: AuthorizationSettings;
  tokens: TokenPolicy;
  /**
   * Secrets that may sign Meta's deauthorize and data-deletion callbacks for this provider, in the order
   * to try, each named for the log (never its value); empty for a provider that sends none.
   */
  callbackSecrets: { name: string; secret: string }[];
  /** Extra query parameters for the authorize URL. */
  authorizationParams(options: { forceReauth: boolean }): Record<string, string>;
  /** Authorization code → the provider's first token. */
  exchangeCode(http: HttpClient, code: string): Promise<AuthorizationGrant>;
  /**
   * The accounts this grant reaches, each with the token to keep (one for Instagram Login, one per
   * Instagram account behind the person's Pages for Facebook Login), and the ones it could not reach.
   */
  fetchAccounts(http: HttpClient, grant: AuthorizationGrant): Promise<AccountsFound>;
  /** Whether an account really belongs to the person the grant was issued to. */
  identityMatches(grant: AuthorizationGrant, account: AuthorizedAccount): boolean;
  /** A stored token → a renewed one (only called when `tokens.renewal` allows it). */
  refresh(http: HttpClient, accessToken: string): Promise<IssuedToken>;
  /** Checks a stored token by reading the account's profile with it. */
  fetchProfile(http: HttpClient, accessToken: string, accountId: string): Promise<AccountProfile>;
  /** Rate-budget usage from an answer's headers, on every call (slows the keeper and the proxy early). */
  usage?(headers: Headers): UsageReading | undefined;
  /** The contract the daily self-check and doctor watch; absent: nothing to watch. */
  contract?: ProviderContract;
  /** The API igconnect proxies for deployers (token sent as `Authorization: Bearer`); absent: none. */
  api?: ProviderApi;
  /**
   * Withdraws the app's authorization from the person at the provider, when the provider has a way to
   * (called after the person's last connection through it is deleted).
   */
  revoke?(http: HttpClient, subjectId: string): Promise<void>;
  /** Embeds of public posts with the app's own token (no user), for a provider that has one. */
  oembed?: {
    /** Whether `url` is a public post URL the provider can embed. */
    accepts(url: string): boolean;
    fetch(http: HttpClient, request: { url: string; maxwidth?: number }): Promise<Record<string, unknown>>;
  };
}
