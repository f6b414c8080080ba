import {
  copyPerson,
  type FacebookInstagramAccount,
  type FacebookInstagramAccountUpdate,
  type FacebookPerson,
} from './facebook-people';
import { type FacebookGrant, type FacebookState, pageVisible } from './facebook-state';
import { CONFIG_ID_SCOPES, type FacebookEndpoint } from './facebook-wire';
import { type CallbackAnswer, type CallbackUrls, sendCallback } from './sandbox-callbacks';
import type { InvalidationReason } from './sandbox-state';
import { graphError, type ScriptedResponse } from './sandbox-wire';

export interface FacebookTokenInfo {
  type: 'USER' | 'PAGE';
  /** USER: short- or long-lived. PAGE: the lifetime of the user token it was obtained with. */
  lifetime: 'short' | 'long';
  personId: string;
  pageId?: string;
  scopes: string[];
  pageIds: string[];
  igUserIds: string[];
  issuedAt: number;
  /** Epoch ms; null: never expires (a Page token obtained with a long-lived user token). */
  expiresAt: number | null;
  invalidated?: InvalidationReason;
}

/** Tokens minted without the dialog: a long-lived user token and the Page tokens it gives. */
export interface FacebookSeededTokens {
  userAccessToken: string;
  /** Epoch ms. */
  userTokenExpiresAt: number;
  /** Every Page the grant shares (and `/me/accounts` would list with a token). */
  pages: Array<{ id: string; name: string; accessToken: string; instagramBusinessAccountId?: string }>;
}

export interface FacebookSeedOptions {
  /** Default: now. Also counts as the person's authorization time (data access runs 90 days from it). */
  issuedAt?: number;
  /** Default: instagram_basic, pages_show_list, business_management (what a config_id stands for). */
  scopes?: string[];
  /** Default: every Page of the person (granular consent left nothing out). */
  pageIds?: string[];
  /** Default: every Instagram account linked to those Pages. */
  igUserIds?: string[];
  /** Default 'long': Page tokens that never expire. 'short' gives one-hour Page tokens. */
  lifetime?: 'short' | 'long';
}

/** The steering handle for the Facebook surface (`SandboxControl.facebook`). Person ids are app-scoped ids. */
export interface FacebookSandboxControl {
  /** Queues the next answer of an endpoint (FIFO, one per request). */
  script(endpoint: FacebookEndpoint, response: ScriptedResponse): void;
  /** HTTP 400 Graph envelope `{"error":{message,type,code,error_subcode,fbtrace_id}}`. */
  graphError(code: number, subcode?: number, message?: string, type?: string): ScriptedResponse;
  /** Requests received per endpoint, failed and scripted ones included. */
  readonly calls: Readonly<Record<FacebookEndpoint, number>>;
  resetCalls(): void;
  /** Deep copies of the test people and their Pages (roles removed since are still listed here). */
  people(): FacebookPerson[];
  /** The Instagram account behind a Page gets a new username, name or counts; later answers show it. */
  updateInstagramAccount(igUserId: string, update: FacebookInstagramAccountUpdate): FacebookInstagramAccount;
  /** The Facebook app id the sandbox accepts. */
  readonly appId: string;
  /** `APP_ID|APP_SECRET`: an app access token the Graph accepts wherever one is needed. */
  appAccessToken(): string;
  /** Every current user and Page token of the person answers 190/467. */
  revokeTokens(personId: string): void;
  /** 190/460 for every current token of the person. */
  changePassword(personId: string): void;
  /** The person loses their role on the Page: its tokens answer 190/467 and it leaves /me/accounts and the dialog. */
  removePageRole(personId: string, pageId: string): void;
  /**
   * 190/458 for every token of the person and their authorization is gone; then, when callback URLs are
   * configured, POSTs Meta's signed deauthorize callback (Facebook app secret, `user_id` = the person's id)
   * and returns the app's answer. Tokens are invalid before the returned promise settles.
   */
  removeApp(personId: string): Promise<CallbackAnswer | undefined>;
  /** Sends Meta's signed data-deletion request for the person to the app and returns its answer. */
  requestDataDeletion(personId: string): Promise<CallbackAnswer>;
  /** Mints a long-lived user token and its Page tokens without the dialog (seeding tests and benchmarks). */
  issueTokens(personId: string, options?: FacebookSeedOptions): FacebookSeededTokens;
  tokenInfo(accessToken: string): FacebookTokenInfo | undefined;
  /** Epoch ms when the person's data access lapses (90 days after their last authorization); undefined if none. */
  dataAccessExpiresAt(personId: string): number | undefined;
  /** Clears scripts, counters, pending dialogs, codes, tokens, authorizations and removed roles. */
  reset(): void;
}

export class FacebookSandboxControlImpl implements FacebookSandboxControl {
  constructor(
    private readonly state: FacebookState,
    private readonly callbacks?: CallbackUrls,
  ) {}

  script(endpoint: FacebookEndpoint, response: ScriptedResponse): void {
    this.state.script(endpoint, response);
  }

  graphError(code: number, subcode?: number, message?: string, type?: string): ScriptedResponse {
    return graphError(code, subcode, message, type);
  }

  get calls(): Readonly<Record<FacebookEndpoint, number>> {
    return this.state.calls;
  }

  resetCalls(): void {
    this.state.resetCalls();
  }

  people(): FacebookPerson[] {
    return this.state.people().map(copyPerson);
  }

  updateInstagramAccount(igUserId: string, update: FacebookInstagramAccountUpdate): FacebookInstagramAccount {
    return this.state.updateInstagramAccount(igUserId, update);
  }

  get appId(): string {
    return this.state.clientId;
  }

  appAccessToken(): string {
    return `${this.state.clientId}|${this.state.clientSecret}`;
  }

  revokeTokens(personId: string): void {
    this.state.invalidatePerson(personId, 'revoked');
  }

  changePassword(personId: string): void {
    this.state.invalidatePerson(personId, 'password_changed');
  }

  removePageRole(personId: string, pageId: string): void {
    this.state.removePageRole(personId, pageId);
  }

  async removeApp(personId: string): Promise<CallbackAnswer | undefined> {
    const person = this.state.invalidatePerson(personId, 'app_removed');
    if (!this.callbacks) return undefined;
    return sendCallback(this.callbacks.deauthorizeUrl, person.id, {
      secret: this.state.clientSecret,
      clock: this.state.clock,
    });
  }

  async requestDataDeletion(personId: string): Promise<CallbackAnswer> {
    const person = this.state.requirePerson(personId);
    if (!this.callbacks) throw new Error('the Facebook sandbox has no callback URLs configured');
    return sendCallback(this.callbacks.dataDeletionUrl, person.id, {
      secret: this.state.clientSecret,
      clock: this.state.clock,
    });
  }

  issueTokens(personId: string, options: FacebookSeedOptions = {}): FacebookSeededTokens {
    const person = this.state.requirePerson(personId);
    const pages = this.state.pagesOf(person);
    const pageIds = options.pageIds ?? pages.map((page) => page.id);
    for (const id of pageIds) {
      if (!pages.some((page) => page.id === id))
        throw new Error(`sandbox Facebook person ${personId} has no Page ${id}`);
    }
    const linked = pages
      .filter((page) => pageIds.includes(page.id))
      .flatMap((p) => (p.instagram ? [p.instagram.id] : []));
    const grant: FacebookGrant = {
      scopes: [...(options.scopes ?? CONFIG_ID_SCOPES)],
      pageIds: [...pageIds],
      igUserIds: [...(options.igUserIds ?? linked)],
    };
    const issuedAt = options.issuedAt ?? this.state.clock.now();
    this.state.recordAuthorization(person.id, issuedAt);
    const userAccessToken = this.state.issueUserToken(person, options.lifetime ?? 'long', grant, issuedAt);
    const user = this.state.token(userAccessToken);
    if (!user) throw new Error('the minted token was not stored');
    return {
      userAccessToken,
      userTokenExpiresAt: user.expiresAt ?? 0,
      pages: pages
        .filter((page) => grant.pageIds.includes(page.id) && pageVisible(page, grant))
        .map((page) => ({
          id: page.id,
          name: page.name,
          accessToken: this.state.pageTokenFor(userAccessToken, user, page.id),
          ...(page.instagram && grant.igUserIds.includes(page.instagram.id)
            ? { instagramBusinessAccountId: page.instagram.id }
            : {}),
        })),
    };
  }

  tokenInfo(accessToken: string): FacebookTokenInfo | undefined {
    const token = this.state.token(accessToken);
    if (!token) return undefined;
    const info: FacebookTokenInfo = {
      type: token.type,
      lifetime: token.lifetime,
      personId: token.personId,
      scopes: [...token.grant.scopes],
      pageIds: [...token.grant.pageIds],
      igUserIds: [...token.grant.igUserIds],
      issuedAt: token.issuedAt,
      expiresAt: token.expiresAt,
    };
    if (token.pageId !== undefined) info.pageId = token.pageId;
    if (token.invalidated) info.invalidated = token.invalidated;
    return info;
  }

  dataAccessExpiresAt(personId: string): number | undefined {
    this.state.requirePerson(personId);
    return this.state.dataAccessExpiresAt(personId);
  }

  reset(): void {
    this.state.reset();
  }
}
