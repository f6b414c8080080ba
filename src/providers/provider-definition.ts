import type { HttpClient } from '../shared/http-client';

/** What the code exchange yields. `userId` is exact (a string), whatever JSON type the provider used. */
export interface TokenGrant {
  accessToken: string;
  userId: string;
  permissions: string[];
}

export interface IssuedToken {
  accessToken: string;
  expiresInSeconds: number;
}

export interface ProviderProfile {
  appScopedId: string;
  igUserId: string;
  username: string;
  name: string | null;
  accountType: string | null;
  profilePictureUrl: string | null;
  followersCount: number | null;
  mediaCount: number | null;
}

/**
 * A login provider as data plus a few named hooks. The generic strategy and the connection service
 * never ask which provider they are talking to; every quirk lives in the definition.
 */
export interface ProviderDefinition {
  id: string;
  displayName: string;
  clientId: string;
  clientSecret: string;
  authorizeUrl: string;
  tokenUrl: string;
  redirectUri: string;
  scopes: string[];
  scopeSeparator: string;
  /** Extra query parameters for the authorize URL. */
  authorizationParams(options: { forceReauth: boolean }): Record<string, string>;
  /** Authorization code → the provider's first token. */
  exchangeCode(http: HttpClient, code: string): Promise<TokenGrant>;
  /** First token → the token we keep (for Instagram, the 60-day long-lived token). */
  exchangeForLongLived(http: HttpClient, accessToken: string): Promise<IssuedToken>;
  refresh(http: HttpClient, accessToken: string): Promise<IssuedToken>;
  fetchProfile(http: HttpClient, accessToken: string): Promise<ProviderProfile>;
}
