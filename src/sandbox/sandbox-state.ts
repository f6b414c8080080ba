import type { Clock } from '../shared/clock';
import { type SandboxAccount, validateAccounts } from './sandbox-accounts';
import {
  CODE_LIFETIME_MS,
  graphError,
  PENDING_LIFETIME_MS,
  LONG_LIVED_LIFETIME_MS,
  newAccessToken,
  newAuthorizationCode,
  newRequestId,
  type ResponseShape,
  SANDBOX_ENDPOINTS,
  type SandboxEndpoint,
  type ScriptedResponse,
  SHORT_LIVED_LIFETIME_MS,
  TOKEN_SUBCODE_MESSAGES,
} from './sandbox-wire';

/** A consent screen shown but not yet answered. Kept server-side so the POST cannot change its terms. */
export interface PendingAuthorization {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  state: string | undefined;
  forceReauth: boolean;
  expiresAt: number;
}

export interface CodeRecord {
  clientId: string;
  redirectUri: string;
  igUserId: string;
  scopes: string[];
  expiresAt: number;
}

/** Why a token stopped working before its expiry; each maps to a Graph 190 subcode. */
export type InvalidationReason = 'revoked' | 'expired' | 'password_changed' | 'app_removed';

const SUBCODES: Record<InvalidationReason, number> = {
  app_removed: 458,
  password_changed: 460,
  expired: 463,
  revoked: 467,
};

export interface TokenRecord {
  kind: 'short' | 'long';
  appScopedId: string;
  igUserId: string;
  issuedAt: number;
  expiresAt: number;
  scopes: string[];
  invalidated?: InvalidationReason;
}

/** A media container made through the API (`POST /{ig-user-id}/media`), not yet published. */
export interface MediaContainer {
  id: string;
  igUserId: string;
  imageUrl: string;
  caption: string | null;
}

export type TokenCheck =
  { ok: true; token: TokenRecord; account: SandboxAccount } | { ok: false; error: ScriptedResponse };

/** The endpoints of graph.instagram.com: the ones a platform incident answers for. */
const GRAPH_CALLS: ReadonlySet<SandboxEndpoint> = new Set(['exchange', 'refresh', 'me']);

/** Bounds memory when consent pages are opened and never answered (a crawler, a load test). */
const MAX_PENDING = 1000;
/** The same for media containers created and never published. */
const MAX_CONTAINERS = 1000;

/**
 * Everything the sandbox remembers: accounts, pending consents, codes, tokens, scripts and counters.
 * Times come from the injected clock only.
 */
export class SandboxState {
  readonly calls: Record<SandboxEndpoint, number> = { authorize: 0, token: 0, exchange: 0, refresh: 0, me: 0 };
  responseShape: ResponseShape;
  private accountList: SandboxAccount[];
  private readonly pending = new Map<string, PendingAuthorization>();
  private readonly codes = new Map<string, CodeRecord>();
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly scripts = new Map<SandboxEndpoint, ScriptedResponse[]>();
  private readonly containers = new Map<string, MediaContainer>();
  private containerCount = 0;

  constructor(
    readonly clock: Clock,
    readonly clientId: string,
    private readonly initialAccounts: readonly SandboxAccount[],
    private readonly initialShape: ResponseShape,
  ) {
    this.accountList = validateAccounts(initialAccounts);
    this.responseShape = initialShape;
  }

  // --- accounts -------------------------------------------------------------------------------------

  accounts(): readonly SandboxAccount[] {
    return this.accountList;
  }

  /** By Instagram user id or app-scoped id: callers (and Meta's callbacks) may hold either. */
  findAccount(id: string): SandboxAccount | undefined {
    return this.accountList.find((a) => a.igUserId === id || a.appScopedId === id);
  }

  requireAccount(id: string): SandboxAccount {
    const account = this.findAccount(id);
    if (!account) throw new Error(`no sandbox account with id ${id}`);
    return account;
  }

  // --- consent, codes -------------------------------------------------------------------------------

  addPending(pending: Omit<PendingAuthorization, 'expiresAt'>): string {
    const now = this.clock.now();
    for (const [id, entry] of this.pending) {
      if (entry.expiresAt <= now) this.pending.delete(id);
    }
    while (this.pending.size >= MAX_PENDING) {
      const oldest = this.pending.keys().next();
      if (oldest.done) break;
      this.pending.delete(oldest.value);
    }
    const id = newRequestId();
    this.pending.set(id, { ...pending, expiresAt: now + PENDING_LIFETIME_MS });
    return id;
  }

  /** Single use: the entry is gone once taken, whatever the decision. */
  takePending(id: string): PendingAuthorization | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    return entry.expiresAt > this.clock.now() ? entry : undefined;
  }

  issueCode(record: Omit<CodeRecord, 'expiresAt'>): string {
    const now = this.clock.now();
    for (const [code, entry] of this.codes) {
      if (entry.expiresAt <= now) this.codes.delete(code);
    }
    const code = newAuthorizationCode();
    this.codes.set(code, { ...record, expiresAt: now + CODE_LIFETIME_MS });
    return code;
  }

  /** Burns the code on its first presentation; answers undefined for unknown, used or expired codes. */
  consumeCode(code: string): CodeRecord | undefined {
    const entry = this.codes.get(code);
    if (!entry) return undefined;
    this.codes.delete(code);
    return entry.expiresAt > this.clock.now() ? entry : undefined;
  }

  // --- tokens ---------------------------------------------------------------------------------------

  issueToken(
    account: SandboxAccount,
    kind: 'short' | 'long',
    scopes: readonly string[],
    issuedAt = this.clock.now(),
  ): string {
    const token = newAccessToken();
    const lifetime = kind === 'short' ? SHORT_LIVED_LIFETIME_MS : LONG_LIVED_LIFETIME_MS;
    this.tokens.set(token, {
      kind,
      appScopedId: account.appScopedId,
      igUserId: account.igUserId,
      issuedAt,
      expiresAt: issuedAt + lifetime,
      scopes: [...scopes],
    });
    return token;
  }

  token(accessToken: string): TokenRecord | undefined {
    return this.tokens.get(accessToken);
  }

  /** Marks every current token of the account; tokens issued later (a reconnect) are not affected. */
  invalidateTokens(id: string, reason: InvalidationReason): SandboxAccount {
    const account = this.requireAccount(id);
    for (const token of this.tokens.values()) {
      if (token.igUserId === account.igUserId) token.invalidated = reason;
    }
    return account;
  }

  activeTokenCount(account: SandboxAccount): number {
    const now = this.clock.now();
    let count = 0;
    for (const token of this.tokens.values()) {
      if (token.igUserId === account.igUserId && !token.invalidated && token.expiresAt > now) count += 1;
    }
    return count;
  }

  /** The Graph error Instagram would answer for this token, or the token and its account. */
  checkToken(accessToken: string): TokenCheck {
    const token = this.tokens.get(accessToken);
    const account = token ? this.findAccount(token.igUserId) : undefined;
    if (!token || !account) return { ok: false, error: graphError(190) };
    if (token.invalidated) {
      const subcode = SUBCODES[token.invalidated];
      const message =
        token.invalidated === 'app_removed'
          ? `Error validating access token: The user has not authorized application ${this.clientId}.`
          : TOKEN_SUBCODE_MESSAGES[subcode];
      return { ok: false, error: graphError(190, subcode, message) };
    }
    const now = this.clock.now();
    if (token.expiresAt <= now) {
      const message = `Error validating access token: Session has expired on ${new Date(token.expiresAt).toUTCString()}. The current time is ${new Date(now).toUTCString()}.`;
      return { ok: false, error: graphError(190, SUBCODES.expired, message) };
    }
    return { ok: true, token, account };
  }

  // --- media containers ------------------------------------------------------------------------------

  addContainer(container: Omit<MediaContainer, 'id'>): MediaContainer {
    this.containerCount += 1;
    // Odd, 17 digits, above 2^53, like every sandbox id.
    const id = String(17800000000000001n + 2n * BigInt(this.containerCount));
    if (this.containers.size >= MAX_CONTAINERS) {
      const oldest = this.containers.keys().next();
      if (!oldest.done) this.containers.delete(oldest.value);
    }
    const created = { ...container, id };
    this.containers.set(id, created);
    return created;
  }

  container(id: string): MediaContainer | undefined {
    return this.containers.get(id);
  }

  // --- scripts, counters ----------------------------------------------------------------------------

  script(endpoint: SandboxEndpoint, response: ScriptedResponse): void {
    if (!SANDBOX_ENDPOINTS.includes(endpoint)) throw new Error(`unknown sandbox endpoint ${String(endpoint)}`);
    const queue = this.scripts.get(endpoint) ?? [];
    queue.push(response);
    this.scripts.set(endpoint, queue);
  }

  takeScript(endpoint: SandboxEndpoint): ScriptedResponse | undefined {
    return this.scripts.get(endpoint)?.shift() ?? (GRAPH_CALLS.has(endpoint) ? this.incident : undefined);
  }

  /** While set, every Graph call (exchange, refresh, /me) answers this, as in a platform incident. */
  incident: ScriptedResponse | undefined;

  resetCalls(): void {
    // Reset in place: callers may hold a reference to `calls`.
    for (const endpoint of SANDBOX_ENDPOINTS) this.calls[endpoint] = 0;
  }

  reset(): void {
    this.scripts.clear();
    this.incident = undefined;
    this.pending.clear();
    this.codes.clear();
    this.tokens.clear();
    this.containers.clear();
    this.containerCount = 0;
    this.resetCalls();
    this.responseShape = this.initialShape;
    this.accountList = validateAccounts(this.initialAccounts);
  }
}
