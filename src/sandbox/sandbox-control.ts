import type { FacebookSandboxControl } from './facebook-control';
import type { SandboxAccount, SandboxProfileUpdate } from './sandbox-accounts';
import { type CallbackAnswer, type CallbackUrls, sendCallback } from './sandbox-callbacks';
import type { InvalidationReason, SandboxState } from './sandbox-state';
import {
  graphError,
  type ResponseShape,
  SCOPE_BASIC,
  type SandboxEndpoint,
  type ScriptedResponse,
  tokenError,
} from './sandbox-wire';

export interface SandboxTokenInfo {
  kind: 'short' | 'long';
  appScopedId: string;
  igUserId: string;
  issuedAt: number;
  expiresAt: number;
  scopes: string[];
  /** Set once the token was revoked, marked expired, or killed by a password change or app removal. */
  invalidated?: InvalidationReason;
}

/** The handle tests (and the accounts page) use to steer the sandbox. */
export interface SandboxControl {
  /** Queues the next answer of an endpoint (FIFO, one per request). See ScriptedResponse. */
  script(endpoint: SandboxEndpoint, response: ScriptedResponse): void;
  /** HTTP 400 `{"error_type":"OAuthException","code":400,"error_message":…}` (the token endpoint's errors). */
  tokenError(message: string): ScriptedResponse;
  /** HTTP 400 Graph envelope `{"error":{message,type,code,error_subcode,fbtrace_id}}`. */
  graphError(code: number, subcode?: number, message?: string, type?: string): ScriptedResponse;
  /**
   * A platform incident: every Graph call (exchange, refresh, /me) answers `response` until called again
   * without one. Queued scripts still come first.
   */
  setIncident(response: ScriptedResponse | undefined): void;
  /** Instagram Login requests received per endpoint, failed and scripted ones included (Facebook's: `facebook.calls`). */
  readonly calls: Readonly<Record<SandboxEndpoint, number>>;
  resetCalls(): void;
  readonly responseShape: ResponseShape;
  setResponseShape(shape: ResponseShape): void;
  /** Copies of the current accounts. */
  accounts(): SandboxAccount[];
  /** Every current token of the account answers Graph 190/467 from now on; refresh fails the same way. */
  revokeTokens(igUserIdOrAppScopedId: string): void;
  /** 190/463. */
  expireTokens(igUserIdOrAppScopedId: string): void;
  /** 190/460. */
  changePassword(igUserIdOrAppScopedId: string): void;
  /**
   * 190/458, then (like Meta) POSTs a signed deauthorize callback to the app when callback URLs are
   * configured, then awaits `onRemoveApp` if set. Tokens are invalid before the returned promise settles.
   */
  removeApp(igUserIdOrAppScopedId: string): Promise<void>;
  /** Sends Meta's signed data-deletion request for the account to the app and returns its answer. */
  requestDataDeletion(igUserIdOrAppScopedId: string): Promise<CallbackAnswer>;
  /** Later /me answers show the change. Returns the updated account. */
  updateProfile(igUserIdOrAppScopedId: string, update: SandboxProfileUpdate): SandboxAccount;
  tokenInfo(accessToken: string): SandboxTokenInfo | undefined;
  /** Mints a valid long-lived token without the browser dance (seeding tests and benchmarks). */
  issueLongLivedToken(igUserIdOrAppScopedId: string, options?: { issuedAt?: number; scopes?: string[] }): string;
  /**
   * Clears scripts, counters, pending consents, codes and tokens of both surfaces (Instagram Login and
   * Facebook Login for Business); restores the initial shape and accounts.
   */
  reset(): void;
  /** The Facebook Login for Business surface. Both surfaces share the sandbox's one clock. */
  readonly facebook: FacebookSandboxControl;
  /** Called by removeApp (and the accounts page's "Remove app"); reserved for Meta-style deauthorize callbacks. */
  onRemoveApp?: (account: SandboxAccount) => Promise<void> | void;
}

export class SandboxControlImpl implements SandboxControl {
  onRemoveApp?: (account: SandboxAccount) => Promise<void> | void;

  constructor(
    private readonly state: SandboxState,
    readonly facebook: FacebookSandboxControl,
    private readonly callbacks?: CallbackUrls & { secret: string },
  ) {}

  script(endpoint: SandboxEndpoint, response: ScriptedResponse): void {
    this.state.script(endpoint, response);
  }

  setIncident(response: ScriptedResponse | undefined): void {
    this.state.incident = response;
  }

  tokenError(message: string): ScriptedResponse {
    return tokenError(message);
  }

  graphError(code: number, subcode?: number, message?: string, type?: string): ScriptedResponse {
    return graphError(code, subcode, message, type);
  }

  get calls(): Readonly<Record<SandboxEndpoint, number>> {
    return this.state.calls;
  }

  resetCalls(): void {
    this.state.resetCalls();
  }

  get responseShape(): ResponseShape {
    return this.state.responseShape;
  }

  setResponseShape(shape: ResponseShape): void {
    if (shape !== 'flat' && shape !== 'wrapped') throw new Error(`unknown response shape ${String(shape)}`);
    this.state.responseShape = shape;
  }

  accounts(): SandboxAccount[] {
    return this.state.accounts().map((account) => ({ ...account }));
  }

  revokeTokens(id: string): void {
    this.state.invalidateTokens(id, 'revoked');
  }

  expireTokens(id: string): void {
    this.state.invalidateTokens(id, 'expired');
  }

  changePassword(id: string): void {
    this.state.invalidateTokens(id, 'password_changed');
  }

  async removeApp(id: string): Promise<void> {
    const account = this.state.invalidateTokens(id, 'app_removed');
    if (this.callbacks) {
      await sendCallback(this.callbacks.deauthorizeUrl, account.appScopedId, {
        secret: this.callbacks.secret,
        clock: this.state.clock,
      });
    }
    if (this.onRemoveApp) await this.onRemoveApp({ ...account });
  }

  async requestDataDeletion(id: string): Promise<CallbackAnswer> {
    const account = this.state.requireAccount(id);
    if (!this.callbacks) throw new Error('the sandbox has no callback URLs configured');
    return sendCallback(this.callbacks.dataDeletionUrl, account.appScopedId, {
      secret: this.callbacks.secret,
      clock: this.state.clock,
    });
  }

  updateProfile(id: string, update: SandboxProfileUpdate): SandboxAccount {
    const account = this.state.requireAccount(id);
    // Ids are the identity of the account: never let a loosely typed caller change them here.
    const {
      appScopedId: _a,
      igUserId: _i,
      ...profile
    } = update as SandboxProfileUpdate & Partial<Pick<SandboxAccount, 'appScopedId' | 'igUserId'>>;
    Object.assign(account, profile);
    return { ...account };
  }

  tokenInfo(accessToken: string): SandboxTokenInfo | undefined {
    const token = this.state.token(accessToken);
    if (!token) return undefined;
    const info: SandboxTokenInfo = {
      kind: token.kind,
      appScopedId: token.appScopedId,
      igUserId: token.igUserId,
      issuedAt: token.issuedAt,
      expiresAt: token.expiresAt,
      scopes: [...token.scopes],
    };
    if (token.invalidated) info.invalidated = token.invalidated;
    return info;
  }

  issueLongLivedToken(id: string, options: { issuedAt?: number; scopes?: string[] } = {}): string {
    const account = this.state.requireAccount(id);
    const scopes = options.scopes ?? [SCOPE_BASIC];
    return this.state.issueToken(account, 'long', scopes, options.issuedAt ?? this.state.clock.now());
  }

  reset(): void {
    this.state.reset();
    this.facebook.reset();
  }
}
