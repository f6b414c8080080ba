import { z } from 'zod';
import { INSTAGRAM_LOGIN_SCOPES } from './instagram.config';
import { checkEndpoint, checkRedirectUri, type ProviderConfigContext, scopeList } from './provider-config';

/**
 * The Facebook Login for Business section of the configuration (docs/instagram-platform.md): the Meta
 * app's id and secret, a Login for Business configuration (`config_id`) or Facebook Login scopes — never
 * Instagram Login's — and Meta's endpoints. Without FACEBOOK_APP_ID nothing of this provider is offered.
 * `FACEBOOK_APP_ID=sandbox` (never in production) uses the built-in sandbox's Facebook app.
 */
export const FACEBOOK_CALLBACK_PATH = '/auth/facebook/callback';
export const FACEBOOK_DEFAULT_SCOPES = 'instagram_basic,pages_show_list,business_management';

/** Facebook Login permissions that reach Instagram professional accounts through their Pages. */
export const FACEBOOK_LOGIN_SCOPES = [
  'instagram_basic',
  'pages_show_list',
  'business_management',
  'instagram_content_publish',
  'instagram_manage_comments',
  'instagram_manage_insights',
  'instagram_manage_messages',
  'pages_read_engagement',
] as const;

/** What each permission lets the app do, in words for the status page (every permission above has some). */
export const FACEBOOK_SCOPE_WORDS: Readonly<Record<(typeof FACEBOOK_LOGIN_SCOPES)[number], string>> = {
  instagram_basic: 'See the profile and media',
  pages_show_list: 'See the list of your Pages',
  business_management: 'Reach Pages owned by a business portfolio',
  instagram_content_publish: 'Publish posts',
  instagram_manage_comments: 'Manage comments',
  instagram_manage_insights: 'See insights',
  instagram_manage_messages: 'Manage messages',
  pages_read_engagement: "Read the Pages' posts and engagement",
};

/** What the built-in sandbox accepts as the Facebook app (development and tests only). */
export const SANDBOX_FACEBOOK_APP_ID = '2000000000000002';
export const SANDBOX_FACEBOOK_APP_SECRET = 'igconnect-sandbox-facebook-secret';

export interface FacebookConfig {
  mode: 'sandbox' | 'live';
  appId: string;
  appSecret: string;
  /** A Facebook Login for Business configuration: sent instead of `scope` when set. */
  configId: string | undefined;
  scopes: string[];
  redirectUri: string;
  /** The whole dialog URL, version included. */
  authorizeUrl: string;
  /** Unversioned; igconnect adds `apiVersion`. */
  graphUrl: string;
  apiVersion: string;
}

const NUMERIC_ID = /^\d{5,20}$/;

export function parseFacebookConfig(context: ProviderConfigContext): FacebookConfig | undefined {
  const { reader, production } = context;
  const appId = reader.raw('FACEBOOK_APP_ID');
  if (appId === undefined) {
    const orphans = ['FACEBOOK_APP_SECRET', 'FACEBOOK_CONFIG_ID', 'FACEBOOK_SCOPES'].filter((n) => reader.raw(n));
    if (orphans.length > 0) reader.problem(`${orphans.join(', ')} set without FACEBOOK_APP_ID`);
    return undefined;
  }
  const sandbox = appId === 'sandbox';
  if (sandbox && production) reader.problem('FACEBOOK_APP_ID=sandbox: production never uses the built-in sandbox');
  if (!sandbox && !NUMERIC_ID.test(appId)) {
    reader.problem('FACEBOOK_APP_ID must be the numeric Meta app id shown at the top of the App Dashboard');
  }
  const appSecret = reader.raw('FACEBOOK_APP_SECRET') ?? (sandbox ? SANDBOX_FACEBOOK_APP_SECRET : undefined);
  if (appSecret === undefined) reader.problem('FACEBOOK_APP_SECRET is missing (App Dashboard > App settings > Basic)');

  const configId = reader.read(
    'FACEBOOK_CONFIG_ID',
    z.string().regex(/^\d{1,25}$/, {
      error: 'FACEBOOK_CONFIG_ID must be the numeric id of a Login for Business configuration',
    }),
  );
  const scopes = scopeList(context, 'FACEBOOK_SCOPES', reader.raw('FACEBOOK_SCOPES') ?? FACEBOOK_DEFAULT_SCOPES);
  for (const scope of scopes) {
    if ((INSTAGRAM_LOGIN_SCOPES as readonly string[]).includes(scope)) {
      reader.problem(
        `FACEBOOK_SCOPES: ${scope} belongs to Instagram Login and cannot be mixed with Facebook Login scopes ("Invalid Scopes"); use instagram_basic and the other Facebook Login names`,
      );
    } else if (!(FACEBOOK_LOGIN_SCOPES as readonly string[]).includes(scope)) {
      reader.problem(`FACEBOOK_SCOPES: unknown scope "${scope}"; valid: ${FACEBOOK_LOGIN_SCOPES.join(', ')}`);
    }
  }
  for (const required of ['instagram_basic', 'pages_show_list']) {
    if (configId === undefined && !scopes.includes(required)) {
      reader.problem(`FACEBOOK_SCOPES must include ${required} (needed to find the Instagram accounts behind Pages)`);
    }
  }

  const redirectUri = reader.raw('FACEBOOK_REDIRECT_URI') ?? `${context.publicUrl}${FACEBOOK_CALLBACK_PATH}`;
  checkRedirectUri(context, 'FACEBOOK_REDIRECT_URI', redirectUri, FACEBOOK_CALLBACK_PATH);

  const apiVersion =
    reader.read(
      'FACEBOOK_API_VERSION',
      z.string().regex(/^v\d+\.\d+$/, { error: 'FACEBOOK_API_VERSION must look like v25.0' }),
      'v25.0',
    ) ?? 'v25.0';
  const authorizeUrl =
    reader.raw('FACEBOOK_AUTHORIZE_URL') ??
    (sandbox
      ? `${context.sandboxUrl}/facebook/${apiVersion}/dialog/oauth`
      : `https://www.facebook.com/${apiVersion}/dialog/oauth`);
  const graphUrl =
    reader.raw('FACEBOOK_GRAPH_URL') ??
    (sandbox ? `${context.sandboxUrl}/facebook/graph` : 'https://graph.facebook.com');
  checkEndpoint(context, 'FACEBOOK_AUTHORIZE_URL', authorizeUrl);
  const graph = checkEndpoint(context, 'FACEBOOK_GRAPH_URL', graphUrl);
  if (graph && (graphUrl.endsWith('/') || /\/v\d+\.\d+(\/|$)/.test(graph.pathname))) {
    reader.problem(
      'FACEBOOK_GRAPH_URL must be unversioned and end without a slash (igconnect adds FACEBOOK_API_VERSION)',
    );
  }

  return {
    mode: sandbox ? 'sandbox' : 'live',
    appId: sandbox ? SANDBOX_FACEBOOK_APP_ID : appId,
    appSecret: appSecret ?? '',
    configId,
    scopes: configId === undefined ? scopes : [],
    redirectUri,
    authorizeUrl,
    graphUrl,
    apiVersion,
  };
}
