import {
  type FacebookEndpoint,
  graphError,
  SANDBOX_FACEBOOK_PEOPLE,
  SANDBOX_TEST_ACCOUNTS,
  type SandboxEndpoint,
  type ScriptedResponse,
  tokenError,
} from '../../src/sandbox/sandbox';
import { ALEX, authorizeFacebook, FACEBOOK_ENV, PAGES, SAM } from './facebook';
import { type Agent, authorize, finishCallback, ODD_ACCOUNT, type TestApp } from './harness';

/**
 * The two ways in, as the shared suites see them: what to configure, how to click through each sandbox's
 * consent screen, what a cancel looks like, where the callbacks are, which secret signs Meta's callbacks,
 * and the names each sandbox gives the steps it counts and can script. A suite runs once per entry
 * (`describe.each(PROVIDERS)`); what only one provider does stays in that provider's own tests.
 */

/** An Instagram professional account a test connects, and the person the provider knows behind it. */
export interface TestAccount {
  igUserId: string;
  username: string;
  /** The provider's id for the person who connects it: the connection's subject_id, the user_id Meta's callbacks carry. */
  subjectId: string;
  /** Facebook: the Page the account is reached through (ticked alone on the dialog, so the picker is skipped). */
  pageId?: string;
}

export interface FlowOptions {
  /** Default: the sandbox's preselected choice (Instagram) or `accounts[0]` (Facebook). */
  account?: TestAccount;
  decision?: 'allow' | 'deny';
  /** Optional permissions left ticked on the consent screen; default all requested. */
  scopes?: string[];
  /** The path that starts the flow, e.g. a connect link's; default the provider's start route. */
  startPath?: string;
}

/** A connect that asks for two optional permissions and is granted one of them. */
export interface OptionalScopes {
  env: Record<string, string>;
  /** Optional permissions left ticked. */
  keep: string[];
  /** What the connection then holds, in the provider's order. */
  granted: string[];
  declined: string;
}

/** The steps of a connect each sandbox counts and can script, under that sandbox's own endpoint names. */
export interface FlowSteps<E extends string> {
  /** The authorization code exchanged for the first token. */
  code: E;
  /** The first token traded for a long-lived one. */
  longLived: E;
  /** Who the token belongs to. */
  profile: E;
}

export interface ProviderCase {
  id: 'instagram' | 'facebook';
  /** For test titles. */
  name: string;
  /** Environment on top of the harness's (which always configures Instagram Login against the sandbox). */
  env: Record<string, string>;
  /** The provider's URLs pointed at the sandbox of the app at `url`, for an app whose PUBLIC_URL is elsewhere. */
  endpointsAt(url: string): Record<string, string>;
  startPath: string;
  callbackPath: string;
  resultPath: string;
  webhookPath(kind: 'deauthorize' | 'data-deletion'): string;
  /** The scope parameter the start route sends. */
  defaultScope: string;
  /** A permission the status page shows as granted after a default connect. */
  grantedScope: string;
  /** The main button of the home page. */
  connectLabel: string;
  /** The consent screen's button that refuses. */
  cancelLabel: string;
  /** What the start route adds for `?switch=1` (log in again, as someone else). */
  switchParam: readonly [name: string, value: string];
  /** How the code exchange says the app id is not this provider's (a deployer's mistake). */
  invalidAppAnswer: ScriptedResponse;
  optionalScopes: OptionalScopes;
  /** Three tester accounts, each connectable alone; the first has the ids `JSON.parse` corrupts. */
  accounts: readonly [TestAccount, TestAccount, TestAccount];
  /** Ids Meta's callbacks may carry for the person of `accounts[0]`: the person's id first. */
  callbackUserIds: ReadonlyArray<readonly [label: string, id: string]>;
  /** Milliseconds a kept token lasts from its issue, or null: it never expires. */
  tokenLifetimeMs: number | null;
  /** Clicks through the start route and the consent screen; returns the callback URL, not followed. */
  authorize(agent: Agent, options?: FlowOptions): Promise<string>;
  /** authorize, then finishCallback. */
  connect(agent: Agent, options?: FlowOptions): ReturnType<typeof finishCallback>;
  clientId(app: TestApp): string;
  /** The secret Meta signs this provider's deauthorize and data-deletion callbacks with. */
  callbackSecret(app: TestApp): string;
  steps: FlowSteps<string>;
  /** Requests the sandbox received at a step. */
  calls(app: TestApp, step: keyof FlowSteps<string>): number;
  /** Requests that could renew a token (Facebook renews nothing: its long-lived exchanges, connects included). */
  renewals(app: TestApp): number;
  /** Queues the next answer of a sandbox endpoint, by this provider's endpoint name. */
  script(app: TestApp, endpoint: string, response: ScriptedResponse): void;
  /** Asserts that a stored token is the long-lived one the sandbox issued (the kind this provider keeps). */
  expectKeptToken(app: TestApp, token: string): void;
  /** The Instagram account a token the sandbox issued reaches (Facebook: a Page token's); else undefined. */
  tokenAccount(app: TestApp, token: string): string | undefined;
  /** The account's profile changes at the provider; later answers show it. */
  rename(app: TestApp, account: TestAccount, update: { username?: string; name?: string }): void;
  /** The person revokes the app's access on the provider's side. */
  revoke(app: TestApp, account: TestAccount): void;
  /** The sandbox accounts page's button for the account's person: remove the app, or ask for data deletion. */
  sandboxActionPath(account: TestAccount, action: 'remove' | 'delete-data'): string;
}

const INSTAGRAM_ACCOUNTS = SANDBOX_TEST_ACCOUNTS.filter((a) => a.tester).map((a): TestAccount => ({
  igUserId: a.igUserId,
  username: a.username,
  subjectId: a.appScopedId,
}));

const INSTAGRAM_STEPS: FlowSteps<SandboxEndpoint> = { code: 'token', longLived: 'exchange', profile: 'me' };

export const INSTAGRAM: ProviderCase = {
  id: 'instagram',
  name: 'Instagram Login',
  env: {},
  endpointsAt: (url) => ({
    INSTAGRAM_AUTHORIZE_URL: `${url}/sandbox/oauth/authorize`,
    INSTAGRAM_TOKEN_URL: `${url}/sandbox/oauth/access_token`,
    INSTAGRAM_GRAPH_URL: `${url}/sandbox/graph`,
  }),
  startPath: '/auth/instagram',
  callbackPath: '/auth/instagram/callback',
  resultPath: '/auth/instagram/result',
  webhookPath: (kind) => `/webhooks/instagram/${kind}`,
  defaultScope: 'instagram_business_basic',
  grantedScope: 'instagram_business_basic',
  connectLabel: 'Connect to Instagram',
  cancelLabel: 'Deny',
  switchParam: ['force_reauth', 'true'],
  invalidAppAnswer: tokenError('Invalid platform app'),
  optionalScopes: {
    env: {
      INSTAGRAM_SCOPES:
        'instagram_business_basic,instagram_business_manage_comments,instagram_business_manage_insights',
    },
    keep: ['instagram_business_manage_comments'],
    granted: ['instagram_business_basic', 'instagram_business_manage_comments'],
    declined: 'instagram_business_manage_insights',
  },
  accounts: INSTAGRAM_ACCOUNTS as unknown as ProviderCase['accounts'],
  callbackUserIds: [
    ['app-scoped id', ODD_ACCOUNT.appScopedId],
    ['Instagram professional account id', ODD_ACCOUNT.igUserId],
  ],
  tokenLifetimeMs: 5183944 * 1000,
  authorize: (agent, options = {}) =>
    authorize(agent, {
      account: options.account?.igUserId,
      decision: options.decision,
      scopes: options.scopes,
      startPath: options.startPath,
    }),
  connect: async (agent, options) => finishCallback(agent, await INSTAGRAM.authorize(agent, options)),
  clientId: (app) => app.container.config.providers.instagram!.appId,
  callbackSecret: (app) => app.container.config.providers.instagram!.appSecret,
  steps: INSTAGRAM_STEPS,
  calls: (app, step) => app.sandbox.calls[INSTAGRAM_STEPS[step]],
  renewals: (app) => app.sandbox.calls.refresh,
  script: (app, endpoint, response) => app.sandbox.script(endpoint as SandboxEndpoint, response),
  expectKeptToken: (app, token) => expect(app.sandbox.tokenInfo(token)?.kind).toBe('long'),
  tokenAccount: (app, token) => app.sandbox.tokenInfo(token)?.igUserId,
  rename: (app, account, update) => void app.sandbox.updateProfile(account.igUserId, update),
  revoke: (app, account) => app.sandbox.revokeTokens(account.igUserId),
  sandboxActionPath: (account, action) => `/sandbox/accounts/${account.igUserId}/${action}`,
};

/** Sunny and Jo through Alex's Pages, Harbor Coffee through Sam's. */
const FACEBOOK_ACCOUNTS: ProviderCase['accounts'] = [
  { igUserId: PAGES.sunny.ig, username: PAGES.sunny.username, subjectId: ALEX, pageId: PAGES.sunny.id },
  { igUserId: PAGES.trail.ig, username: PAGES.trail.username, subjectId: ALEX, pageId: PAGES.trail.id },
  { igUserId: '17841409876543213', username: 'harbor.coffee', subjectId: SAM, pageId: '112233445566779' },
];

const FACEBOOK_STEPS: FlowSteps<FacebookEndpoint> = { code: 'fb_token', longLived: 'fb_exchange', profile: 'fb_me' };

export const FACEBOOK: ProviderCase = {
  id: 'facebook',
  name: 'Facebook Login for Business',
  env: FACEBOOK_ENV,
  endpointsAt: (url) => ({
    ...INSTAGRAM.endpointsAt(url),
    ...FACEBOOK_ENV,
    FACEBOOK_AUTHORIZE_URL: `${url}/sandbox/facebook/v25.0/dialog/oauth`,
    FACEBOOK_GRAPH_URL: `${url}/sandbox/facebook/graph`,
  }),
  startPath: '/auth/facebook',
  callbackPath: '/auth/facebook/callback',
  resultPath: '/auth/facebook/result',
  webhookPath: (kind) => `/webhooks/facebook/${kind}`,
  defaultScope: 'instagram_basic,pages_show_list,business_management',
  grantedScope: 'instagram_basic',
  connectLabel: 'Connect through Facebook',
  cancelLabel: 'Cancel',
  switchParam: ['auth_type', 'reauthenticate'],
  invalidAppAnswer: graphError(101, undefined, 'Error validating application. Invalid application ID.'),
  optionalScopes: {
    env: {
      ...FACEBOOK_ENV,
      FACEBOOK_SCOPES: 'instagram_basic,pages_show_list,instagram_manage_comments,instagram_manage_insights',
    },
    keep: ['instagram_manage_comments'],
    granted: ['instagram_basic', 'pages_show_list', 'instagram_manage_comments'],
    declined: 'instagram_manage_insights',
  },
  accounts: FACEBOOK_ACCOUNTS,
  callbackUserIds: [['app-scoped Facebook user id', ALEX]],
  tokenLifetimeMs: null,
  authorize: (agent, options = {}) => {
    const account = options.account ?? FACEBOOK_ACCOUNTS[0];
    return authorizeFacebook(agent, {
      decision: options.decision === 'deny' ? 'cancel' : 'allow',
      person: account.subjectId,
      scopes: options.scopes,
      pages: [account.pageId ?? ''],
      instagramAccounts: [account.igUserId],
      startPath: options.startPath,
    });
  },
  connect: async (agent, options) => finishCallback(agent, await FACEBOOK.authorize(agent, options)),
  clientId: (app) => app.container.config.providers.facebook!.appId,
  callbackSecret: (app) => app.container.config.providers.facebook!.appSecret,
  steps: FACEBOOK_STEPS,
  calls: (app, step) => app.sandbox.facebook.calls[FACEBOOK_STEPS[step]],
  renewals: (app) => app.sandbox.facebook.calls.fb_exchange,
  script: (app, endpoint, response) => app.sandbox.facebook.script(endpoint as FacebookEndpoint, response),
  expectKeptToken: (app, token) =>
    expect(app.sandbox.facebook.tokenInfo(token)).toMatchObject({ type: 'PAGE', lifetime: 'long', expiresAt: null }),
  tokenAccount: (app, token) => {
    const info = app.sandbox.facebook.tokenInfo(token);
    if (info?.type !== 'PAGE') return undefined;
    const page = SANDBOX_FACEBOOK_PEOPLE.flatMap((person) => person.pages).find((p) => p.id === info.pageId);
    return page?.instagram?.id;
  },
  rename: (app, account, update) => void app.sandbox.facebook.updateInstagramAccount(account.igUserId, update),
  revoke: (app, account) => app.sandbox.facebook.revokeTokens(account.subjectId),
  sandboxActionPath: (account, action) => `/sandbox/accounts/facebook/${account.subjectId}/${action}`,
};

/** For `describe.each`: each entry's name comes first, for `%s` in the title. */
export const PROVIDERS: ReadonlyArray<[string, ProviderCase]> = [
  [INSTAGRAM.name, INSTAGRAM],
  [FACEBOOK.name, FACEBOOK],
];
