import type { Request, Response } from 'express';
import OAuth2Strategy from 'passport-oauth2';
import type {
  AuthorizationGrant,
  AuthorizedAccount,
  ProviderDefinition,
  SkippedAccount,
} from '../providers/provider-definition';
import { AppError, ProviderError } from '../shared/errors';
import type { HttpClient } from '../shared/http-client';
import { type CallbackParams, parseCallbackParams } from './callback-params';
import type { FlowBinding, LinkFlowState, TransactionStore } from './transaction-store';

/** What a finished authorization hands the verify function. */
export interface AuthorizationResult {
  provider: ProviderDefinition;
  grant: AuthorizationGrant;
  accounts: AuthorizedAccount[];
  /** Accounts the authorization could not reach, to name for the person (never stored). */
  skipped: SkippedAccount[];
}

/** What the callback tells its route about the connections it stored. */
export interface ConnectInfo {
  usernames: string[];
  connectionIds: string[];
  skipped: SkippedAccount[];
}

/** What the verify function decides: the user to sign in, or a page the flow continues on. */
export type VerifyOutcome = { user: Express.User; info: ConnectInfo } | { redirect: string };

export type ProviderVerify = (req: Request, result: AuthorizationResult, flow: FlowBinding) => Promise<VerifyOutcome>;

export interface AuthenticateOptions {
  phase: 'start' | 'callback';
  forceReauth?: boolean;
  /** Start: bind the flow to this connect link (its state then carries the link). */
  connectSessionId?: string;
}

/**
 * The flow a callback's state belonged to, once the state is consumed: whether it was opened through a
 * connect link decides how the callback ends, also when it ends in an error. Undefined before that.
 */
export function consumedFlow(res: Response): FlowBinding | undefined {
  return res.locals.consumedFlow as FlowBinding | undefined;
}

/** A view of the request that shows passport-oauth2 only the query we decided to show it. */
function withQuery(req: Request, query: Record<string, string>): Request {
  return Object.create(req, { query: { value: query }, body: { value: undefined } }) as Request;
}

/**
 * ONE strategy for every provider, driven by its ProviderDefinition (ADR 0007).
 *
 * The start of the flow is passport-oauth2's own, through its documented extension points: the
 * authorization URL from the definition's settings, extra parameters from `authorizationParams()`, and
 * the state from our `store` (TransactionStore: 256 bits in the database, bound to the session). The
 * start route hides the request's query from it, so nothing a visitor adds reaches the authorize URL.
 *
 * The callback is ours (`authenticate` for the callback phase), because passport-oauth2's callback does
 * what docs/security.md forbids and cannot be changed through a public hook: it looks at `error` before
 * the state, forwards repeated parameters, and exchanges the code through node-oauth, which parses with
 * JSON.parse (17-digit ids lose digits), knows neither `data[]`-wrapped answers nor deadlines, and treats
 * a redirect as success. Ours checks every parameter once, consumes the state first (through the same
 * store's `verify`), then runs the provider's hooks (code → grant → accounts → identity check) and ends
 * with Passport's own `success`/`error`.
 */
export class ProviderStrategy extends OAuth2Strategy {
  constructor(
    private readonly provider: ProviderDefinition,
    private readonly http: HttpClient,
    private readonly transactions: TransactionStore,
    private readonly verifyResult: ProviderVerify,
  ) {
    const settings = provider.authorization;
    super(
      {
        authorizationURL: settings.authorizeUrl,
        tokenURL: settings.tokenUrl,
        clientID: settings.clientId,
        clientSecret: settings.clientSecret,
        // Absolute, from configuration: never derived from the Host header.
        callbackURL: settings.redirectUri,
        // A provider configured without scopes (Facebook's Login for Business `config_id`) sends none.
        scope: settings.scopes.length > 0 ? settings.scopes : undefined,
        scopeSeparator: settings.scopeSeparator,
        store: transactions,
      },
      () => {
        throw new Error('the callback is handled by ProviderStrategy itself');
      },
    );
    this.name = provider.id;
  }

  override authorizationParams(options: AuthenticateOptions): Record<string, string> {
    return this.provider.authorizationParams({ forceReauth: options.forceReauth === true });
  }

  override authenticate(req: Request, options: AuthenticateOptions): void {
    if (options.phase === 'start') {
      // An object `state` is handed to the store (passport-oauth2's documented state object), never sent.
      const state: LinkFlowState | undefined = options.connectSessionId
        ? { connectSessionId: options.connectSessionId }
        : undefined;
      super.authenticate(withQuery(req, {}), { ...options, state });
      return;
    }
    this.callback(req).then(
      (outcome) =>
        'redirect' in outcome ? this.redirect(outcome.redirect, 303) : this.success(outcome.user, outcome.info),
      (error: unknown) => this.error(error as Error),
    );
  }

  private async callback(req: Request) {
    const params = parseCallbackParams(req.query);
    const flow = params.state ? await this.consumeState(req, params.state) : undefined;
    if (!flow) {
      throw new AppError(
        'STATE_INVALID',
        params.state ? 'unknown, foreign, expired or used state' : 'callback without state',
      );
    }
    if (req.res) req.res.locals.consumedFlow = flow;
    return this.verifyResult(req, await this.authorize(params), flow);
  }

  private consumeState(req: Request, state: string): Promise<FlowBinding | undefined> {
    return new Promise((resolve, reject) => {
      this.transactions.verify(req, state, (error, ok, flow: FlowBinding | undefined) =>
        error ? reject(error) : resolve(ok ? flow : undefined),
      );
    });
  }

  /** After the state: the provider's answer, then its hooks. Nothing is stored here. */
  private async authorize(params: CallbackParams): Promise<AuthorizationResult> {
    if (params.error) {
      throw params.error === 'access_denied'
        ? new AppError('CONNECT_CANCELLED')
        : new ProviderError('PROVIDER_REJECTED', `authorization ended with error=${params.error}`, {
            kind: 'refused',
            reason: 'rejected',
          });
    }
    if (!params.code) throw new AppError('BAD_REQUEST', 'callback without code');
    const grant = await this.provider.exchangeCode(this.http, params.code);
    const { accounts, skipped } = await this.provider.fetchAccounts(this.http, grant);
    for (const account of accounts) {
      if (!this.provider.identityMatches(grant, account)) {
        throw new ProviderError(
          'PROVIDER_IDENTITY_MISMATCH',
          `the token was issued to another person than the profile ${this.provider.displayName} returned`,
          { kind: 'refused', reason: 'identity_mismatch' },
        );
      }
    }
    return { provider: this.provider, grant, accounts, skipped };
  }
}
