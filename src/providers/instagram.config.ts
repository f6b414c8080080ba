import { z } from 'zod';
import { checkEndpoint, checkRedirectUri, type ProviderConfigContext, scopeList } from './provider-config';

/**
 * The Instagram Login section of the configuration (docs/instagram-platform.md): the Instagram app id and
 * secret (not the Meta app id), Instagram Login scopes only, Meta's endpoints by default, and the built-in
 * sandbox when no app id is set outside production.
 */
export const INSTAGRAM_CALLBACK_PATH = '/auth/instagram/callback';

export const INSTAGRAM_LOGIN_SCOPES = [
  'instagram_business_basic',
  'instagram_business_content_publish',
  'instagram_business_manage_comments',
  'instagram_business_manage_messages',
  'instagram_business_manage_insights',
] as const;

/** Scope names a deployer may copy from old tutorials, each with the message that names its replacement. */
const RETIRED_SCOPES: Record<string, string> = {
  user_profile:
    'is a Basic Display API scope; that API was shut off on 2024-12-04. Use instagram_business_basic (Instagram API with Instagram Login)',
  user_media:
    'is a Basic Display API scope; that API was shut off on 2024-12-04. Use instagram_business_basic and the media endpoints of the Instagram API with Instagram Login',
  business_basic: 'was retired on 2025-01-27; use instagram_business_basic',
  business_content_publish: 'was retired on 2025-01-27; use instagram_business_content_publish',
  business_manage_comments: 'was retired on 2025-01-27; use instagram_business_manage_comments',
  business_manage_messages: 'was retired on 2025-01-27; use instagram_business_manage_messages',
  business_manage_insights: 'was retired on 2025-01-27; use instagram_business_manage_insights',
};

/** Facebook Login for Business scope names: never mixed with Instagram Login's ("Invalid Scopes"). */
export const FACEBOOK_LOGIN_SCOPE_NAMES = new Set([
  'instagram_basic',
  'instagram_content_publish',
  'instagram_manage_comments',
  'instagram_manage_insights',
  'instagram_manage_messages',
  'pages_show_list',
  'pages_read_engagement',
  'business_management',
]);

/** What the built-in sandbox accepts as the Instagram app when none is configured (development only). */
export const SANDBOX_APP_ID = 'igconnect-sandbox-app';
export const SANDBOX_APP_SECRET = 'igconnect-sandbox-secret';

export interface InstagramConfig {
  /** 'sandbox': the built-in fake Instagram is mounted and used; 'live': talk to the configured URLs. */
  mode: 'sandbox' | 'live';
  appId: string;
  /** The Meta app id, if the deployer recorded it: only used to catch it being used as INSTAGRAM_APP_ID. */
  metaAppId: string | undefined;
  appSecret: string;
  /** The Meta app secret, if given: a second candidate for verifying Meta's signed callbacks. */
  metaAppSecret: string | undefined;
  redirectUri: string;
  scopes: string[];
  authorizeUrl: string;
  tokenUrl: string;
  graphUrl: string;
  apiVersion: string;
}

const NUMERIC_ID = /^\d{5,20}$/;

/** The authorize dialog's old host (docs/instagram-platform.md, "Use www.instagram.com only"). */
function isRetiredAuthorizeHost(value: string): boolean {
  try {
    const url = new URL(value);
    return url.hostname.toLowerCase() === 'api.instagram.com' && /^\/oauth\/authorize\/?$/i.test(url.pathname);
  } catch {
    return false;
  }
}

/**
 * Undefined only in production without INSTAGRAM_APP_ID when another provider is configured (a
 * deployment that connects through Facebook Login only); outside production the sandbox stands in.
 */
export function parseInstagramConfig(
  context: ProviderConfigContext,
  options: { otherProviderConfigured: boolean },
): InstagramConfig | undefined {
  const { reader, production } = context;
  const appId = reader.raw('INSTAGRAM_APP_ID');
  const metaAppId = reader.raw('META_APP_ID');
  const appSecret = reader.raw('INSTAGRAM_APP_SECRET');
  const sandbox = appId === undefined;
  if (sandbox && production && options.otherProviderConfigured) return undefined;
  if (sandbox && production) {
    reader.problem(
      'INSTAGRAM_APP_ID is missing: production never uses the built-in sandbox. Set INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET from App Dashboard > Instagram > API setup with Instagram login',
    );
  }
  if (!sandbox && appSecret === undefined) {
    reader.problem('INSTAGRAM_APP_SECRET is missing (the Instagram app secret, next to the Instagram app id)');
  }
  if (appId !== undefined && !NUMERIC_ID.test(appId)) {
    reader.problem('INSTAGRAM_APP_ID must be the numeric Instagram app id from App Dashboard > Instagram > API setup');
  }
  // Both ids are numeric and of similar length, so their shape cannot tell them apart; only a deployer
  // who also records the Meta app id lets us catch the mix-up Meta reports as "Invalid platform app".
  if (metaAppId !== undefined && !NUMERIC_ID.test(metaAppId)) {
    reader.problem('META_APP_ID must be the numeric app id shown at the top of the Meta App Dashboard');
  }
  if (metaAppId !== undefined && metaAppId === appId) {
    reader.problem(
      'INSTAGRAM_APP_ID equals META_APP_ID: that is the Meta app id ("Invalid platform app"). Use the Instagram app id from App Dashboard > Instagram > API setup with Instagram login',
    );
  }

  const redirectUri = reader.raw('INSTAGRAM_REDIRECT_URI') ?? `${context.publicUrl}${INSTAGRAM_CALLBACK_PATH}`;
  checkRedirectUri(context, 'INSTAGRAM_REDIRECT_URI', redirectUri, INSTAGRAM_CALLBACK_PATH);

  const scopes = scopeList(context, 'INSTAGRAM_SCOPES', reader.raw('INSTAGRAM_SCOPES') ?? 'instagram_business_basic');
  for (const scope of scopes) {
    if (RETIRED_SCOPES[scope]) {
      reader.problem(`INSTAGRAM_SCOPES: ${scope} ${RETIRED_SCOPES[scope]}`);
    } else if (FACEBOOK_LOGIN_SCOPE_NAMES.has(scope)) {
      reader.problem(
        `INSTAGRAM_SCOPES: ${scope} belongs to Facebook Login for Business and cannot be mixed with Instagram Login scopes ("Invalid Scopes"); use the instagram_business_* names`,
      );
    } else if (!(INSTAGRAM_LOGIN_SCOPES as readonly string[]).includes(scope)) {
      reader.problem(`INSTAGRAM_SCOPES: unknown scope "${scope}"; valid: ${INSTAGRAM_LOGIN_SCOPES.join(', ')}`);
    }
  }
  if (!scopes.includes('instagram_business_basic')) {
    reader.problem('INSTAGRAM_SCOPES must include instagram_business_basic (required for every call and for refresh)');
  }

  const defaults = sandbox
    ? {
        authorize: `${context.sandboxUrl}/oauth/authorize`,
        token: `${context.sandboxUrl}/oauth/access_token`,
        graph: `${context.sandboxUrl}/graph`,
      }
    : {
        authorize: 'https://www.instagram.com/oauth/authorize',
        token: 'https://api.instagram.com/oauth/access_token',
        graph: 'https://graph.instagram.com',
      };
  const authorizeUrl = reader.raw('INSTAGRAM_AUTHORIZE_URL') ?? defaults.authorize;
  const tokenUrl = reader.raw('INSTAGRAM_TOKEN_URL') ?? defaults.token;
  const graphUrl = reader.raw('INSTAGRAM_GRAPH_URL') ?? defaults.graph;
  for (const [name, value] of [
    ['INSTAGRAM_AUTHORIZE_URL', authorizeUrl],
    ['INSTAGRAM_TOKEN_URL', tokenUrl],
    ['INSTAGRAM_GRAPH_URL', graphUrl],
  ] as const) {
    const url = checkEndpoint(context, name, value);
    if (url && /\/v1(\/|$)/.test(url.pathname)) {
      reader.problem(
        `${name} points at the Basic Display API (/v1), shut off on 2024-12-04; use the Instagram API with Instagram Login endpoints`,
      );
    }
  }
  if (graphUrl.endsWith('/')) reader.problem('INSTAGRAM_GRAPH_URL must not end with a slash');
  if (isRetiredAuthorizeHost(authorizeUrl)) {
    reader.problem(
      'INSTAGRAM_AUTHORIZE_URL points at api.instagram.com/oauth/authorize, which Instagram retired (it answers "Sorry, this page isn\'t available" since August 2026); use https://www.instagram.com/oauth/authorize (the token endpoint stays on api.instagram.com)',
    );
  }

  const apiVersion = reader.read(
    'INSTAGRAM_API_VERSION',
    z.string().regex(/^v\d+\.\d+$/, { error: 'INSTAGRAM_API_VERSION must look like v25.0' }),
    'v25.0',
  );

  return {
    mode: sandbox ? 'sandbox' : 'live',
    appId: appId ?? SANDBOX_APP_ID,
    metaAppId,
    appSecret: appSecret ?? SANDBOX_APP_SECRET,
    metaAppSecret: reader.raw('META_APP_SECRET'),
    redirectUri,
    scopes,
    authorizeUrl,
    tokenUrl,
    graphUrl,
    apiVersion: apiVersion ?? 'v25.0',
  };
}
