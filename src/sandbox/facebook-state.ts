import type { Clock } from '../shared/clock';
import {
  DATA_ACCESS_LIFETIME_MS,
  FACEBOOK_CODE_LIFETIME_MS,
  FACEBOOK_ENDPOINTS,
  FACEBOOK_PENDING_LIFETIME_MS,
  type FacebookEndpoint,
  LONG_USER_EXPIRES_IN_SECONDS,
  newAppToken,
  newFacebookToken,
  SCOPE_BUSINESS_MANAGEMENT,
  SHORT_PAGE_TOKEN_LIFETIME_MS,
  SHORT_USER_EXPIRES_IN_SECONDS,
} from './facebook-wire';
import {
  type FacebookInstagramAccount,
  type FacebookInstagramAccountUpdate,
  type FacebookPage,
  type FacebookPerson,
  validatePeople,
} from './facebook-people';
import type { InvalidationReason } from './sandbox-state';
import {
  graphError,
  newAuthorizationCode,
  newRequestId,
  type ScriptedResponse,
  TOKEN_SUBCODE_MESSAGES,
} from './sandbox-wire';

/** What the person agreed to: permissions, and (granular consent) which Pages and Instagram accounts. */
export interface FacebookGrant {
  scopes: string[];
  pageIds: string[];
  igUserIds: string[];
}

export interface FacebookPending {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  state: string | undefined;
  expiresAt: number;
}

export interface FacebookCode {
  clientId: string;
  redirectUri: string;
  personId: string;
  grant: FacebookGrant;
  expiresAt: number;
}

export type CodeLookup =
  { found: 'valid'; code: FacebookCode } | { found: 'used' } | { found: 'expired' } | { found: 'unknown' };

export interface FacebookTokenRecord {
  type: 'USER' | 'PAGE';
  /** USER: short-lived (5183 s) or long-lived (5183944 s). PAGE: the lifetime of the user token it came from. */
  lifetime: 'short' | 'long';
  personId: string;
  pageId?: string;
  grant: FacebookGrant;
  issuedAt: number;
  /** Epoch ms; null for a Page token from a long-lived user token (it never expires). */
  expiresAt: number | null;
  invalidated?: InvalidationReason;
}

export type FacebookTokenCheck =
  { ok: true; token: FacebookTokenRecord; person: FacebookPerson } | { ok: false; error: ScriptedResponse };

const SUBCODES: Record<InvalidationReason, number> = {
  app_removed: 458,
  password_changed: 460,
  expired: 463,
  revoked: 467,
};

/** Bounds memory when dialogs are opened and never answered (a crawler, a load test). */
const MAX_PENDING = 1000;

/**
 * Everything the Facebook surface remembers: people, pending dialogs, codes, user, Page and app tokens,
 * each person's last authorization (data access), scripts and counters. Time only from the clock.
 */
export class FacebookState {
  readonly calls = Object.fromEntries(FACEBOOK_ENDPOINTS.map((e) => [e, 0])) as Record<FacebookEndpoint, number>;
  private peopleList: FacebookPerson[];
  private readonly pending = new Map<string, FacebookPending>();
  private readonly codes = new Map<string, FacebookCode>();
  /** Spent codes until they would have expired, so a replay says "used", as Facebook does. */
  private readonly spentCodes = new Map<string, number>();
  private readonly tokens = new Map<string, FacebookTokenRecord>();
  /** Page tokens already handed out for a user token: `/me/accounts` answers the same one again. */
  private readonly pageTokens = new Map<string, Map<string, string>>();
  private readonly appTokens = new Set<string>();
  /** Person id → when they last authorized the app; absent once they removed it (or never did). */
  private readonly authorizedAt = new Map<string, number>();
  /** Person id → Pages they no longer have a role on. */
  private readonly removedRoles = new Map<string, Set<string>>();
  private readonly scripts = new Map<FacebookEndpoint, ScriptedResponse[]>();

  constructor(
    readonly clock: Clock,
    readonly clientId: string,
    readonly clientSecret: string,
    private readonly initialPeople: readonly FacebookPerson[],
  ) {
    this.peopleList = validatePeople(initialPeople);
  }

  // --- people ---------------------------------------------------------------------------------------

  people(): readonly FacebookPerson[] {
    return this.peopleList;
  }

  findPerson(id: string): FacebookPerson | undefined {
    return this.peopleList.find((person) => person.id === id);
  }

  requirePerson(id: string): FacebookPerson {
    const person = this.findPerson(id);
    if (!person) throw new Error(`no sandbox Facebook person with id ${id}`);
    return person;
  }

  /** The person's Pages they still have a role on. */
  pagesOf(person: FacebookPerson): FacebookPage[] {
    const removed = this.removedRoles.get(person.id);
    return person.pages.filter((page) => !removed?.has(page.id));
  }

  /** The Instagram account with this id, and the Page (and person) it is linked through. */
  findInstagramAccount(igUserId: string): { person: FacebookPerson; page: FacebookPage } | undefined {
    for (const person of this.peopleList) {
      const page = person.pages.find((p) => p.instagram?.id === igUserId);
      if (page) return { person, page };
    }
    return undefined;
  }

  // --- dialog, codes --------------------------------------------------------------------------------

  addPending(pending: Omit<FacebookPending, 'expiresAt'>): string {
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
    this.pending.set(id, { ...pending, expiresAt: now + FACEBOOK_PENDING_LIFETIME_MS });
    return id;
  }

  /** Single use: gone once taken, whatever the decision. */
  takePending(id: string): FacebookPending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    return entry.expiresAt > this.clock.now() ? entry : undefined;
  }

  /** The person said Allow: their data access starts (again) now, and a code is issued. */
  authorize(record: Omit<FacebookCode, 'expiresAt'>): string {
    const now = this.clock.now();
    this.authorizedAt.set(record.personId, now);
    for (const [code, entry] of this.codes) {
      if (entry.expiresAt <= now) this.codes.delete(code);
    }
    const code = newAuthorizationCode();
    this.codes.set(code, { ...record, expiresAt: now + FACEBOOK_CODE_LIFETIME_MS });
    return code;
  }

  /** Burns the code on its first presentation, whatever happens next. */
  consumeCode(code: string): CodeLookup {
    const now = this.clock.now();
    for (const [spent, until] of this.spentCodes) {
      if (until <= now) this.spentCodes.delete(spent);
    }
    if (this.spentCodes.has(code)) return { found: 'used' };
    const entry = this.codes.get(code);
    if (!entry) return { found: 'unknown' };
    this.codes.delete(code);
    if (entry.expiresAt <= now) return { found: 'expired' };
    this.spentCodes.set(code, entry.expiresAt);
    return { found: 'valid', code: entry };
  }

  // --- tokens ---------------------------------------------------------------------------------------

  issueUserToken(
    person: FacebookPerson,
    lifetime: 'short' | 'long',
    grant: FacebookGrant,
    issuedAt = this.clock.now(),
  ): string {
    const token = newFacebookToken();
    const seconds = lifetime === 'short' ? SHORT_USER_EXPIRES_IN_SECONDS : LONG_USER_EXPIRES_IN_SECONDS;
    this.tokens.set(token, {
      type: 'USER',
      lifetime,
      personId: person.id,
      grant: copyGrant(grant),
      issuedAt,
      expiresAt: issuedAt + seconds * 1000,
    });
    return token;
  }

  /**
   * The Page's token for this user token: the one handed out before while it still works, else a new
   * one. From a long-lived user token it never expires; from a short-lived one it lasts an hour.
   */
  pageTokenFor(userAccessToken: string, user: FacebookTokenRecord, pageId: string): string {
    const issued = this.pageTokens.get(userAccessToken) ?? new Map<string, string>();
    this.pageTokens.set(userAccessToken, issued);
    const previous = issued.get(pageId);
    const now = this.clock.now();
    const record = previous === undefined ? undefined : this.tokens.get(previous);
    if (previous !== undefined && record && !record.invalidated && (record.expiresAt ?? Infinity) > now) {
      return previous;
    }
    const token = newFacebookToken();
    this.tokens.set(token, {
      type: 'PAGE',
      lifetime: user.lifetime,
      personId: user.personId,
      pageId,
      grant: copyGrant(user.grant),
      issuedAt: now,
      expiresAt: user.lifetime === 'long' ? null : now + SHORT_PAGE_TOKEN_LIFETIME_MS,
    });
    issued.set(pageId, token);
    return token;
  }

  token(accessToken: string): FacebookTokenRecord | undefined {
    return this.tokens.get(accessToken);
  }

  issueAppToken(): string {
    const token = newAppToken(this.clientId);
    this.appTokens.add(token);
    return token;
  }

  /** `APP_ID|APP_SECRET`, or a token from `grant_type=client_credentials`. */
  isAppToken(accessToken: string): boolean {
    return accessToken === `${this.clientId}|${this.clientSecret}` || this.appTokens.has(accessToken);
  }

  /** Epoch ms when the person's data access lapses; undefined when the app is not authorized. */
  dataAccessExpiresAt(personId: string): number | undefined {
    const at = this.authorizedAt.get(personId);
    return at === undefined ? undefined : at + DATA_ACCESS_LIFETIME_MS;
  }

  /** A token seeded without the dialog counts as an authorization at its issue time. */
  recordAuthorization(personId: string, at: number): void {
    const previous = this.authorizedAt.get(personId);
    this.authorizedAt.set(personId, previous === undefined ? at : Math.max(previous, at));
  }

  /** Marks every current token of the person (user and Page); tokens issued later are not affected. */
  invalidatePerson(personId: string, reason: InvalidationReason): FacebookPerson {
    const person = this.requirePerson(personId);
    for (const token of this.tokens.values()) {
      if (token.personId === person.id && !token.invalidated) token.invalidated = reason;
    }
    if (reason === 'app_removed') this.authorizedAt.delete(person.id);
    return person;
  }

  /** Later answers (`/me/accounts`, `/{ig-user-id}`, the dialog) show the change; ids never change. */
  updateInstagramAccount(igUserId: string, update: FacebookInstagramAccountUpdate): FacebookInstagramAccount {
    const found = this.findInstagramAccount(igUserId);
    if (!found?.page.instagram) throw new Error(`no sandbox Instagram account ${igUserId} behind a Facebook Page`);
    const { username, name, followersCount, mediaCount } = update;
    found.page.instagram = {
      ...found.page.instagram,
      ...(username === undefined ? {} : { username }),
      ...(name === undefined ? {} : { name }),
      ...(followersCount === undefined ? {} : { followersCount }),
      ...(mediaCount === undefined ? {} : { mediaCount }),
    };
    return { ...found.page.instagram };
  }

  /** The person loses their role on the Page: its tokens die (467) and it leaves their Page lists. */
  removePageRole(personId: string, pageId: string): FacebookPage {
    const person = this.requirePerson(personId);
    const page = person.pages.find((p) => p.id === pageId);
    if (!page) throw new Error(`sandbox Facebook person ${personId} has no Page ${pageId}`);
    for (const token of this.tokens.values()) {
      if (token.personId === person.id && token.pageId === pageId && !token.invalidated) token.invalidated = 'revoked';
    }
    const removed = this.removedRoles.get(person.id) ?? new Set<string>();
    removed.add(pageId);
    this.removedRoles.set(person.id, removed);
    return page;
  }

  activeTokenCount(personId: string, pageId?: string): number {
    let count = 0;
    for (const token of this.tokens.values()) {
      if (token.personId !== personId || (pageId !== undefined && token.pageId !== pageId)) continue;
      if (this.problemWith(token) === undefined) count += 1;
    }
    return count;
  }

  /** The Graph error graph.facebook.com would answer for this user or Page token, or the token and person. */
  checkToken(accessToken: string): FacebookTokenCheck {
    const token = this.tokens.get(accessToken);
    const person = token ? this.findPerson(token.personId) : undefined;
    if (!token || !person) return { ok: false, error: graphError(190) };
    const problem = this.problemWith(token);
    return problem
      ? { ok: false, error: graphError(190, problem.subcode, problem.message) }
      : { ok: true, token, person };
  }

  /** Why a known token does not work (debug_token shows it in its answer rather than failing). */
  problemWith(token: FacebookTokenRecord): { subcode: number; message: string } | undefined {
    if (token.invalidated) {
      const subcode = SUBCODES[token.invalidated];
      const message =
        token.invalidated === 'app_removed'
          ? `Error validating access token: The user has not authorized application ${this.clientId}.`
          : (TOKEN_SUBCODE_MESSAGES[subcode] ?? 'Error validating access token.');
      return { subcode, message };
    }
    const now = this.clock.now();
    if (token.expiresAt !== null && token.expiresAt <= now) {
      return {
        subcode: SUBCODES.expired,
        message: `Error validating access token: Session has expired on ${new Date(token.expiresAt).toUTCString()}. The current time is ${new Date(now).toUTCString()}.`,
      };
    }
    const dataAccessUntil = this.dataAccessExpiresAt(token.personId);
    if (dataAccessUntil === undefined) {
      return {
        subcode: SUBCODES.app_removed,
        message: `Error validating access token: The user has not authorized application ${this.clientId}.`,
      };
    }
    if (dataAccessUntil <= now) {
      return {
        subcode: SUBCODES.expired,
        message: `Error validating access token: Data access has expired on ${new Date(dataAccessUntil).toUTCString()}. The person must log in to the app again.`,
      };
    }
    return undefined;
  }

  // --- scripts, counters ----------------------------------------------------------------------------

  script(endpoint: FacebookEndpoint, response: ScriptedResponse): void {
    if (!FACEBOOK_ENDPOINTS.includes(endpoint)) throw new Error(`unknown sandbox endpoint ${String(endpoint)}`);
    const queue = this.scripts.get(endpoint) ?? [];
    queue.push(response);
    this.scripts.set(endpoint, queue);
  }

  takeScript(endpoint: FacebookEndpoint): ScriptedResponse | undefined {
    return this.scripts.get(endpoint)?.shift();
  }

  count(endpoint: FacebookEndpoint): void {
    this.calls[endpoint] += 1;
  }

  resetCalls(): void {
    // In place: callers may hold a reference to `calls`.
    for (const endpoint of FACEBOOK_ENDPOINTS) this.calls[endpoint] = 0;
  }

  reset(): void {
    this.scripts.clear();
    this.pending.clear();
    this.codes.clear();
    this.spentCodes.clear();
    this.tokens.clear();
    this.pageTokens.clear();
    this.appTokens.clear();
    this.authorizedAt.clear();
    this.removedRoles.clear();
    this.resetCalls();
    this.peopleList = validatePeople(this.initialPeople);
  }
}

export function copyGrant(grant: FacebookGrant): FacebookGrant {
  return { scopes: [...grant.scopes], pageIds: [...grant.pageIds], igUserIds: [...grant.igUserIds] };
}

/** Whether `/me/accounts` lists the Page at all for this grant (business-owned Pages need business_management). */
export function pageVisible(page: FacebookPage, grant: FacebookGrant): boolean {
  return !page.businessOwned || grant.scopes.includes(SCOPE_BUSINESS_MANAGEMENT);
}
