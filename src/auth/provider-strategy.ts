import type { Request } from 'express';
import OAuth2Strategy, { type VerifyCallback } from 'passport-oauth2';
import type { ProviderDefinition, ProviderProfile, TokenGrant } from '../providers/provider-definition';
import { AppError, ProviderError } from '../shared/errors';
import type { HttpClient } from '../shared/http-client';
import { parseCallbackParams } from './callback-params';
import type { TransactionStore } from './transaction-store';

/** What the strategy hands to the verify function besides the long-lived token. */
export interface AuthorizationResult {
  grant: TokenGrant;
  expiresInSeconds: number;
  profile: ProviderProfile;
}

export type ProviderVerify = (
  req: Request,
  accessToken: string,
  result: AuthorizationResult,
  done: (error: unknown, user?: Express.User | false, info?: { username: string }) => void,
) => void;

export interface AuthenticateOptions {
  phase: 'start' | 'callback';
  forceReauth?: boolean;
}

type TokenCallback = (err: unknown, accessToken?: string, refreshToken?: string, params?: unknown) => void;

/** A copy of the request that shows passport-oauth2 only the query we decided to show it. */
function withQuery(req: Request, query: Record<string, string>): Request {
  return Object.create(req, { query: { value: query }, body: { value: undefined } }) as Request;
}

/**
 * ONE passport-oauth2 strategy for every provider, driven by a ProviderDefinition. What it changes
 * from passport-oauth2's defaults, and why (../shared/docs/security.md):
 * - state always on, kept in the database by TransactionStore and consumed atomically;
 * - on the callback, state is checked before anything else, including `error` (passport-oauth2
 *   looks at `error` first and turns error_description into a message);
 * - every callback parameter must appear once; the start route ignores all user parameters;
 * - the code exchange goes through the provider's hook (POST form, deadline, no redirects, lossless
 *   JSON) instead of node-oauth's JSON.parse, which corrupts 17-digit Instagram ids;
 * - the redirect URI is the configured absolute URL, never derived from the Host header.
 */
export class ProviderStrategy extends OAuth2Strategy {
  /** Requests whose state this strategy consumed itself, just before handing them to passport-oauth2. */
  private readonly verifiedRequests: WeakSet<object>;

  constructor(
    private readonly provider: ProviderDefinition,
    private readonly http: HttpClient,
    private readonly transactions: TransactionStore,
    verify: ProviderVerify,
  ) {
    const verifiedRequests = new WeakSet<object>();
    super(
      {
        authorizationURL: provider.authorizeUrl,
        tokenURL: provider.tokenUrl,
        clientID: provider.clientId,
        clientSecret: provider.clientSecret,
        callbackURL: provider.redirectUri,
        scope: provider.scopes,
        scopeSeparator: provider.scopeSeparator,
        passReqToCallback: true,
        store: {
          // passport-oauth2 picks the call form by arity: (req, state, meta, callback).
          store: (
            req: Request,
            _state: unknown,
            _meta: unknown,
            callback: (err: Error | null, state?: string) => void,
          ) => {
            transactions.begin(req).then((state) => callback(null, state), callback);
          },
          verify: (
            req: Request,
            _state: unknown,
            _meta: unknown,
            callback: (err: Error | null, ok: boolean) => void,
          ) => {
            callback(null, verifiedRequests.has(req));
          },
        } as unknown as OAuth2Strategy.StateStore,
      },
      (
        req: Request,
        accessToken: string,
        _refreshToken: string,
        params: AuthorizationResult,
        _profile: unknown,
        done: VerifyCallback,
      ) => verify(req, accessToken, params, done),
    );
    this.name = provider.id;
    this.verifiedRequests = verifiedRequests;

    // Replace node-oauth's token request with the provider's own exchange, then trade the short-lived
    // token for the long-lived one at once, server-side. passport-oauth2 receives the long-lived token.
    const exchange: (code: string, params: unknown, callback: TokenCallback) => void = (code, _params, callback) => {
      this.exchange(code).then(
        ({ accessToken, result }) => callback(null, accessToken, undefined, result),
        (error: unknown) => callback(error),
      );
    };
    this._oauth2.getOAuthAccessToken = exchange as typeof this._oauth2.getOAuthAccessToken;
    // passport-oauth2 wraps token errors in InternalOAuthError; ours already say what happened.
    Object.assign(this, { _createOAuthError: (_message: string, error: unknown) => error });
  }

  override authorizationParams(options: AuthenticateOptions): Record<string, string> {
    return this.provider.authorizationParams({ forceReauth: options.forceReauth === true });
  }

  override authenticate(req: Request, options: AuthenticateOptions): void {
    if (options.phase === 'start') {
      super.authenticate(withQuery(req, {}), options);
      return;
    }
    this.handleCallback(req, options).catch((error: unknown) => this.error(error as Error));
  }

  private async handleCallback(req: Request, options: AuthenticateOptions): Promise<void> {
    const params = parseCallbackParams(req.query);
    if (!params.state || !(await this.transactions.consume(req, params.state))) {
      throw new AppError(
        'STATE_INVALID',
        params.state ? 'unknown, foreign, expired or used state' : 'callback without state',
      );
    }
    if (params.error) {
      throw params.error === 'access_denied'
        ? new AppError('CONNECT_CANCELLED')
        : new ProviderError('PROVIDER_REJECTED', `authorization ended with error=${params.error}`);
    }
    if (!params.code) throw new AppError('BAD_REQUEST', 'callback without code');
    const clean = withQuery(req, { code: params.code, state: params.state });
    this.verifiedRequests.add(clean);
    super.authenticate(clean, options);
  }

  override userProfile(_accessToken: string, done: (err?: unknown, profile?: unknown) => void): void {
    // The profile was fetched during the exchange (it also checks the token); nothing to do here.
    done(null, {});
  }

  private async exchange(code: string): Promise<{ accessToken: string; result: AuthorizationResult }> {
    const grant = await this.provider.exchangeCode(this.http, code);
    const longLived = await this.provider.exchangeForLongLived(this.http, grant.accessToken);
    const profile = await this.provider.fetchProfile(this.http, longLived.accessToken);
    if (profile.appScopedId !== grant.userId) {
      // Both ids are exact strings; a mismatch means the token and the profile disagree about who this is.
      throw new ProviderError('PROVIDER_IDENTITY_MISMATCH', 'the token response user_id does not match /me id');
    }
    return {
      accessToken: longLived.accessToken,
      result: { grant, expiresInSeconds: longLived.expiresInSeconds, profile },
    };
  }
}
