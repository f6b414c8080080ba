import { z } from 'zod';

/**
 * Configuration is read from the environment exactly once, here. Every problem is collected and
 * reported together, so a deployer fixes them in one pass. Values are validated, never silently
 * repaired: a trailing slash or an http URL is an error with a message, not something we "fix".
 */

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
const FACEBOOK_LOGIN_SCOPES = new Set([
  'instagram_basic',
  'instagram_content_publish',
  'instagram_manage_comments',
  'instagram_manage_insights',
  'instagram_manage_messages',
  'pages_show_list',
  'pages_read_engagement',
  'business_management',
]);

export const CALLBACK_PATH = '/auth/instagram/callback';
export const SANDBOX_BASE_PATH = '/sandbox';
export const SANDBOX_APP_ID = 'igconnect-sandbox-app';
export const SANDBOX_APP_SECRET = 'igconnect-sandbox-secret';

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export type DatabaseConfig = { kind: 'sqlite'; filename: string } | { kind: 'postgres'; url: string };

export interface InstagramConfig {
  /** 'sandbox': the built-in fake Instagram is mounted and used; 'live': talk to the configured URLs. */
  mode: 'sandbox' | 'live';
  appId: string;
  /** The Meta app id, if the deployer recorded it: only used to catch it being used as INSTAGRAM_APP_ID. */
  metaAppId: string | undefined;
  appSecret: string;
  redirectUri: string;
  scopes: string[];
  authorizeUrl: string;
  tokenUrl: string;
  graphUrl: string;
  apiVersion: string;
}

export interface Config {
  env: 'development' | 'test' | 'production';
  port: number;
  publicUrl: string;
  /** Passed to Express's `trust proxy` setting; false unless configured. */
  trustProxy: boolean | number | string;
  database: DatabaseConfig;
  sessionSecret: string;
  /** The first key encrypts new tokens; the others only decrypt. */
  encryptionKeys: EncryptionKey[];
  instagram: InstagramConfig;
  logLevel: string;
  /** Outbound HTTP timeout for calls to Instagram, in milliseconds. */
  httpTimeoutMs: number;
  rateLimits: RateLimitConfig;
}

/** Requests allowed per client IP and route group in each window; 0 turns that group's limit off. */
export interface RateLimitConfig {
  windowMs: number;
  authStart: number;
  authCallback: number;
  webhooks: number;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const envSchema = z.object({
  NODE_ENV: optionalString,
  PORT: optionalString,
  PUBLIC_URL: optionalString,
  TRUST_PROXY: optionalString,
  DATABASE_URL: optionalString,
  SESSION_SECRET: optionalString,
  TOKEN_ENCRYPTION_KEYS: optionalString,
  INSTAGRAM_APP_ID: optionalString,
  META_APP_ID: optionalString,
  INSTAGRAM_APP_SECRET: optionalString,
  INSTAGRAM_REDIRECT_URI: optionalString,
  INSTAGRAM_SCOPES: optionalString,
  INSTAGRAM_AUTHORIZE_URL: optionalString,
  INSTAGRAM_TOKEN_URL: optionalString,
  INSTAGRAM_GRAPH_URL: optionalString,
  INSTAGRAM_API_VERSION: optionalString,
  LOG_LEVEL: optionalString,
  HTTP_TIMEOUT_MS: optionalString,
  RATE_LIMIT_WINDOW_SEC: optionalString,
  RATE_LIMIT_START: optionalString,
  RATE_LIMIT_CALLBACK: optionalString,
  RATE_LIMIT_WEBHOOKS: optionalString,
});

export const MIN_SESSION_SECRET_LENGTH = 32;

/** Parses and validates; throws one ConfigError listing every problem. */
export function loadConfig(rawEnv: NodeJS.ProcessEnv): Config {
  const { config, problems } = inspectConfig(rawEnv);
  if (!config) throw new ConfigError(problems);
  return config;
}

/**
 * The same validation without throwing, for `doctor`, which must report every problem of a
 * configuration that cannot start. `config` is set exactly when `problems` is empty.
 */
export function inspectConfig(rawEnv: NodeJS.ProcessEnv): { config: Config | undefined; problems: string[] } {
  const env = envSchema.parse(rawEnv);
  const problems: string[] = [];

  const nodeEnv = env.NODE_ENV ?? 'development';
  if (nodeEnv !== 'development' && nodeEnv !== 'test' && nodeEnv !== 'production') {
    problems.push(`NODE_ENV must be development, test or production (got "${nodeEnv}")`);
  }
  const production = nodeEnv === 'production';

  const port = parseInteger(env.PORT ?? '3000', 0, 65535);
  if (port === undefined) problems.push('PORT must be a whole number from 0 to 65535');

  const publicUrl = env.PUBLIC_URL ?? `http://localhost:${port ?? 3000}`;
  const parsedPublicUrl = parseAbsoluteUrl(publicUrl);
  if (!parsedPublicUrl) {
    problems.push(
      `PUBLIC_URL must be an absolute http(s) URL such as https://connect.example.com (got "${publicUrl}")`,
    );
  } else {
    if (parsedPublicUrl.pathname !== '/' || publicUrl.endsWith('/')) {
      problems.push(`PUBLIC_URL must be an origin without a path or trailing slash, such as ${parsedPublicUrl.origin}`);
    }
    if (production && parsedPublicUrl.protocol !== 'https:') {
      problems.push('PUBLIC_URL must use https in production (Meta refuses http redirect URIs)');
    }
  }

  const redirectUri = env.INSTAGRAM_REDIRECT_URI ?? `${publicUrl}${CALLBACK_PATH}`;
  const parsedRedirect = parseAbsoluteUrl(redirectUri);
  if (!parsedRedirect) {
    problems.push(`INSTAGRAM_REDIRECT_URI must be an absolute URL (got "${redirectUri}")`);
  } else {
    if (production && parsedRedirect.protocol !== 'https:') {
      problems.push('INSTAGRAM_REDIRECT_URI must use https in production');
    }
    if (parsedPublicUrl && parsedRedirect.origin !== parsedPublicUrl.origin) {
      problems.push(
        `INSTAGRAM_REDIRECT_URI must be on PUBLIC_URL's origin ${parsedPublicUrl.origin}: the session cookie that guards the callback lives there`,
      );
    }
    if (parsedRedirect.pathname !== CALLBACK_PATH && parsedRedirect.pathname !== `${CALLBACK_PATH}/`) {
      problems.push(`INSTAGRAM_REDIRECT_URI must end in ${CALLBACK_PATH} (got path "${parsedRedirect.pathname}")`);
    }
    if (parsedRedirect.search !== '' || parsedRedirect.hash !== '') {
      problems.push('INSTAGRAM_REDIRECT_URI must have no query string or fragment');
    }
  }

  const trustProxy = parseTrustProxy(env.TRUST_PROXY);
  if (trustProxy === undefined) {
    problems.push('TRUST_PROXY must be false, true, a hop count, or a comma-separated list of addresses/subnets');
  }

  const database = parseDatabaseUrl(env.DATABASE_URL ?? 'sqlite:data/igconnect.db');
  if (!database) {
    problems.push('DATABASE_URL must be sqlite:<path> or postgres://user:password@host:port/database');
  }

  const sessionSecret = env.SESSION_SECRET ?? '';
  if (sessionSecret.length < MIN_SESSION_SECRET_LENGTH) {
    problems.push(
      sessionSecret === ''
        ? 'SESSION_SECRET is missing (at least 32 random characters; `openssl rand -base64 48`)'
        : `SESSION_SECRET is too short (${sessionSecret.length} characters; at least ${MIN_SESSION_SECRET_LENGTH})`,
    );
  }

  const keyResult = parseEncryptionKeys(env.TOKEN_ENCRYPTION_KEYS);
  problems.push(...keyResult.problems);

  const instagram = parseInstagram(env, publicUrl, redirectUri, production, problems);

  const logLevel = env.LOG_LEVEL ?? (nodeEnv === 'test' ? 'silent' : 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push('LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent');
  }
  const httpTimeoutMs = parseInteger(env.HTTP_TIMEOUT_MS ?? '10000', 100, 120000);
  if (httpTimeoutMs === undefined) problems.push('HTTP_TIMEOUT_MS must be a whole number from 100 to 120000');

  const rateLimits = parseRateLimits(env, problems);

  if (problems.length > 0) return { config: undefined, problems };

  const config: Config = {
    env: nodeEnv as Config['env'],
    port: port as number,
    publicUrl,
    trustProxy: trustProxy as Config['trustProxy'],
    database: database as DatabaseConfig,
    sessionSecret,
    encryptionKeys: keyResult.keys,
    instagram,
    logLevel,
    httpTimeoutMs: httpTimeoutMs as number,
    rateLimits,
  };
  return { config, problems };
}

function parseRateLimits(env: z.infer<typeof envSchema>, problems: string[]): RateLimitConfig {
  const windowSeconds = parseInteger(env.RATE_LIMIT_WINDOW_SEC ?? '60', 1, 86400);
  if (windowSeconds === undefined) problems.push('RATE_LIMIT_WINDOW_SEC must be a whole number from 1 to 86400');
  const limit = (name: keyof z.infer<typeof envSchema>, fallback: string): number => {
    const value = parseInteger(env[name] ?? fallback, 0, 1_000_000);
    if (value === undefined) problems.push(`${name} must be a whole number (requests per window; 0 turns it off)`);
    return value ?? 0;
  };
  return {
    windowMs: (windowSeconds ?? 60) * 1000,
    authStart: limit('RATE_LIMIT_START', '30'),
    authCallback: limit('RATE_LIMIT_CALLBACK', '30'),
    webhooks: limit('RATE_LIMIT_WEBHOOKS', '120'),
  };
}

function parseInstagram(
  env: z.infer<typeof envSchema>,
  publicUrl: string,
  redirectUri: string,
  production: boolean,
  problems: string[],
): InstagramConfig {
  const sandbox = env.INSTAGRAM_APP_ID === undefined;
  if (sandbox && production) {
    problems.push(
      'INSTAGRAM_APP_ID is missing: production never uses the built-in sandbox. Set INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET from App Dashboard > Instagram > API setup with Instagram login',
    );
  }
  if (!sandbox && env.INSTAGRAM_APP_SECRET === undefined) {
    problems.push('INSTAGRAM_APP_SECRET is missing (the Instagram app secret, next to the Instagram app id)');
  }
  if (env.INSTAGRAM_APP_ID !== undefined && !/^\d{5,20}$/.test(env.INSTAGRAM_APP_ID)) {
    problems.push('INSTAGRAM_APP_ID must be the numeric Instagram app id from App Dashboard > Instagram > API setup');
  }
  // Both ids are numeric and of similar length, so their shape cannot tell them apart; only a deployer
  // who also records the Meta app id lets us catch the mix-up Meta reports as "Invalid platform app".
  if (env.META_APP_ID !== undefined && !/^\d{5,20}$/.test(env.META_APP_ID)) {
    problems.push('META_APP_ID must be the numeric app id shown at the top of the Meta App Dashboard');
  }
  if (env.META_APP_ID !== undefined && env.META_APP_ID === env.INSTAGRAM_APP_ID) {
    problems.push(
      'INSTAGRAM_APP_ID equals META_APP_ID: that is the Meta app id ("Invalid platform app"). Use the Instagram app id from App Dashboard > Instagram > API setup with Instagram login',
    );
  }

  const scopes = (env.INSTAGRAM_SCOPES ?? 'instagram_business_basic').split(',').map((s) => s.trim());
  for (const scope of scopes) {
    if (scope === '') {
      problems.push('INSTAGRAM_SCOPES has an empty entry; separate scopes with commas');
    } else if (RETIRED_SCOPES[scope]) {
      problems.push(`INSTAGRAM_SCOPES: ${scope} ${RETIRED_SCOPES[scope]}`);
    } else if (FACEBOOK_LOGIN_SCOPES.has(scope)) {
      problems.push(
        `INSTAGRAM_SCOPES: ${scope} belongs to Facebook Login for Business and cannot be mixed with Instagram Login scopes ("Invalid Scopes"); use the instagram_business_* names`,
      );
    } else if (!(INSTAGRAM_LOGIN_SCOPES as readonly string[]).includes(scope)) {
      problems.push(`INSTAGRAM_SCOPES: unknown scope "${scope}"; valid: ${INSTAGRAM_LOGIN_SCOPES.join(', ')}`);
    }
  }
  if (!scopes.includes('instagram_business_basic')) {
    problems.push('INSTAGRAM_SCOPES must include instagram_business_basic (required for every call and for refresh)');
  }
  if (new Set(scopes).size !== scopes.length) problems.push('INSTAGRAM_SCOPES lists a scope twice');

  const sandboxBase = `${publicUrl}${SANDBOX_BASE_PATH}`;
  const authorizeUrl =
    env.INSTAGRAM_AUTHORIZE_URL ??
    (sandbox ? `${sandboxBase}/oauth/authorize` : 'https://www.instagram.com/oauth/authorize');
  const tokenUrl =
    env.INSTAGRAM_TOKEN_URL ??
    (sandbox ? `${sandboxBase}/oauth/access_token` : 'https://api.instagram.com/oauth/access_token');
  const graphUrl = env.INSTAGRAM_GRAPH_URL ?? (sandbox ? `${sandboxBase}/graph` : 'https://graph.instagram.com');
  for (const [name, value] of [
    ['INSTAGRAM_AUTHORIZE_URL', authorizeUrl],
    ['INSTAGRAM_TOKEN_URL', tokenUrl],
    ['INSTAGRAM_GRAPH_URL', graphUrl],
  ] as const) {
    const url = parseAbsoluteUrl(value);
    if (!url) {
      problems.push(`${name} must be an absolute http(s) URL (got "${value}")`);
      continue;
    }
    if (/\/v1(\/|$)/.test(url.pathname)) {
      problems.push(
        `${name} points at the Basic Display API (/v1), shut off on 2024-12-04; use the Instagram API with Instagram Login endpoints`,
      );
    }
    if (production && url.protocol !== 'https:') problems.push(`${name} must use https in production`);
  }
  if (graphUrl.endsWith('/')) problems.push('INSTAGRAM_GRAPH_URL must not end with a slash');

  const apiVersion = env.INSTAGRAM_API_VERSION ?? 'v25.0';
  if (!/^v\d+\.\d+$/.test(apiVersion))
    problems.push(`INSTAGRAM_API_VERSION must look like v25.0 (got "${apiVersion}")`);

  return {
    mode: sandbox ? 'sandbox' : 'live',
    appId: env.INSTAGRAM_APP_ID ?? SANDBOX_APP_ID,
    metaAppId: env.META_APP_ID,
    appSecret: env.INSTAGRAM_APP_SECRET ?? SANDBOX_APP_SECRET,
    redirectUri,
    scopes,
    authorizeUrl,
    tokenUrl,
    graphUrl,
    apiVersion,
  };
}

/** `id:base64key[,id:base64key…]`; each key exactly 32 bytes (AES-256). The first one encrypts. */
export function parseEncryptionKeys(value: string | undefined): { keys: EncryptionKey[]; problems: string[] } {
  if (value === undefined) {
    return {
      keys: [],
      problems: ['TOKEN_ENCRYPTION_KEYS is missing (id:base64key, e.g. k1:$(openssl rand -base64 32))'],
    };
  }
  const keys: EncryptionKey[] = [];
  const problems: string[] = [];
  for (const [index, entry] of value.split(',').entries()) {
    const separator = entry.indexOf(':');
    const id = entry.slice(0, separator).trim();
    const material = entry.slice(separator + 1).trim();
    if (separator < 1 || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
      problems.push(
        `TOKEN_ENCRYPTION_KEYS entry ${index + 1} must be id:base64key with an id of letters, digits, - or _`,
      );
      continue;
    }
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(material)) {
      problems.push(`TOKEN_ENCRYPTION_KEYS key "${id}" is not base64`);
      continue;
    }
    const key = Buffer.from(material, 'base64');
    if (key.length !== 32) {
      problems.push(`TOKEN_ENCRYPTION_KEYS key "${id}" must decode to 32 bytes (got ${key.length})`);
      continue;
    }
    if (keys.some((k) => k.id === id)) {
      problems.push(`TOKEN_ENCRYPTION_KEYS lists key id "${id}" twice`);
      continue;
    }
    keys.push({ id, key });
  }
  return { keys, problems };
}

function parseAbsoluteUrl(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function parseInteger(value: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

function parseTrustProxy(value: string | undefined): boolean | number | string | undefined {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return /^[A-Za-z0-9.:/_, -]+$/.test(value) ? value : undefined;
}

function parseDatabaseUrl(value: string): DatabaseConfig | undefined {
  if (value.startsWith('sqlite:')) {
    const filename = value.slice('sqlite:'.length).replace(/^\/\/(?=\.|\/)/, '');
    return filename === '' ? undefined : { kind: 'sqlite', filename };
  }
  if (/^postgres(ql)?:\/\//.test(value)) return { kind: 'postgres', url: value };
  return undefined;
}
