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

export type DatabaseConfig =
  | { kind: 'sqlite'; filename: string }
  | {
      kind: 'postgres';
      url: string;
      /** Most connections this process opens (DATABASE_POOL_MAX); instances × pool must fit max_connections. */
      poolMax: number;
      /** Deadline for getting a connection and for each statement (DATABASE_TIMEOUT_MS): an outage fails fast. */
      timeoutMs: number;
    };

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

/** Keeping tokens alive (src/lifecycle). Any interval of 0 disables that job. */
export interface LifecycleConfig {
  /** Refresh a token this long before it expires (it must also be at least 24 hours old). */
  refreshWindowMs: number;
  /** Validate each connection (GET /me) this often; 0 disables validation. */
  validateIntervalMs: number;
  /** How often a keeper sweeps for due work; 0 disables the keeper in that process. */
  sweepIntervalMs: number;
  /** Run a keeper inside the web process (`npm start` is all a small deployment runs). */
  keeperInWeb: boolean;
  batchSize: number;
  concurrency: number;
  /** A claimed connection is held this long; a keeper that dies loses its claims when they lapse. */
  leaseMs: number;
  /** Signed webhook requests older than this are refused (replay window). */
  webhookMaxAgeMs: number;
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
  lifecycle: LifecycleConfig;
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
  DATABASE_POOL_MAX: optionalString,
  DATABASE_TIMEOUT_MS: optionalString,
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
  REFRESH_WINDOW_DAYS: optionalString,
  VALIDATE_INTERVAL_HOURS: optionalString,
  KEEPER_INTERVAL_SECONDS: optionalString,
  KEEPER_IN_WEB: optionalString,
  KEEPER_BATCH_SIZE: optionalString,
  KEEPER_CONCURRENCY: optionalString,
  KEEPER_LEASE_SECONDS: optionalString,
  WEBHOOK_MAX_AGE_SECONDS: optionalString,
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

  const poolMax = parseInteger(env.DATABASE_POOL_MAX ?? '10', 1, 1000);
  if (poolMax === undefined) problems.push('DATABASE_POOL_MAX must be a whole number from 1 to 1000');
  const databaseTimeoutMs = parseInteger(env.DATABASE_TIMEOUT_MS ?? '5000', 100, 120000);
  if (databaseTimeoutMs === undefined) problems.push('DATABASE_TIMEOUT_MS must be a whole number from 100 to 120000');
  const database = parseDatabaseUrl(
    env.DATABASE_URL ?? 'sqlite:data/igconnect.db',
    poolMax ?? 10,
    databaseTimeoutMs ?? 5000,
  );
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

  const lifecycle = parseLifecycle(env, problems);
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
    lifecycle,
    rateLimits,
  };
  return { config, problems };
}

function parseLifecycle(env: z.infer<typeof envSchema>, problems: string[]): LifecycleConfig {
  const number = (name: keyof typeof env, fallback: string, min: number, max: number): number => {
    const value = parseInteger(env[name] ?? fallback, min, max);
    if (value === undefined) problems.push(`${name} must be a whole number from ${min} to ${max}`);
    return value ?? Number(fallback);
  };
  const keeperInWeb = env.KEEPER_IN_WEB ?? 'true';
  if (keeperInWeb !== 'true' && keeperInWeb !== 'false') problems.push('KEEPER_IN_WEB must be true or false');
  // Instagram refreshes only tokens at least 24 hours old, and long-lived tokens live 60 days.
  const refreshWindowDays = number('REFRESH_WINDOW_DAYS', '10', 1, 59);
  return {
    refreshWindowMs: refreshWindowDays * 86_400_000,
    validateIntervalMs: number('VALIDATE_INTERVAL_HOURS', '24', 0, 24 * 30) * 3_600_000,
    sweepIntervalMs: number('KEEPER_INTERVAL_SECONDS', '60', 0, 86_400) * 1000,
    keeperInWeb: keeperInWeb === 'true',
    batchSize: number('KEEPER_BATCH_SIZE', '100', 1, 10_000),
    concurrency: number('KEEPER_CONCURRENCY', '4', 1, 64),
    leaseMs: number('KEEPER_LEASE_SECONDS', '120', 10, 3600) * 1000,
    webhookMaxAgeMs: number('WEBHOOK_MAX_AGE_SECONDS', '3600', 60, 7 * 86_400) * 1000,
  };
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

function parseDatabaseUrl(value: string, poolMax: number, timeoutMs: number): DatabaseConfig | undefined {
  if (value.startsWith('sqlite:')) {
    const filename = value.slice('sqlite:'.length).replace(/^\/\/(?=\.|\/)/, '');
    return filename === '' ? undefined : { kind: 'sqlite', filename };
  }
  if (/^postgres(ql)?:\/\//.test(value)) {
    try {
      const url = new URL(value);
      return url.hostname === '' && !url.searchParams.has('host')
        ? undefined
        : { kind: 'postgres', url: value, poolMax, timeoutMs };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The built-in sandbox run as a process of its own (`npm run sandbox`), shared by several app instances. */
export interface SandboxServerConfig {
  port: number;
  /** Origin the sandbox is reached at (consent page links, avatar URLs). */
  publicUrl: string;
  appId: string;
  appSecret: string;
  /** Every app instance's INSTAGRAM_REDIRECT_URI; behind one balancer they share one. */
  redirectUris: string[];
  logLevel: string;
}

export const SANDBOX_SERVER_APP_ID = '1000000000000001';

export function loadSandboxServerConfig(rawEnv: NodeJS.ProcessEnv): SandboxServerConfig {
  const env = z
    .object({
      NODE_ENV: optionalString,
      SANDBOX_PORT: optionalString,
      SANDBOX_PUBLIC_URL: optionalString,
      SANDBOX_REDIRECT_URIS: optionalString,
      INSTAGRAM_APP_ID: optionalString,
      INSTAGRAM_APP_SECRET: optionalString,
      LOG_LEVEL: optionalString,
    })
    .parse(rawEnv);
  const problems: string[] = [];
  if (env.NODE_ENV === 'production') problems.push('the sandbox never runs with NODE_ENV=production');
  const port = parseInteger(env.SANDBOX_PORT ?? '4000', 0, 65535);
  if (port === undefined) problems.push('SANDBOX_PORT must be a whole number from 0 to 65535');
  const publicUrl = env.SANDBOX_PUBLIC_URL ?? `http://localhost:${port ?? 4000}`;
  const parsedPublicUrl = parseAbsoluteUrl(publicUrl);
  if (!parsedPublicUrl || parsedPublicUrl.pathname !== '/' || publicUrl.endsWith('/')) {
    problems.push(`SANDBOX_PUBLIC_URL must be an http(s) origin without a path or trailing slash (got "${publicUrl}")`);
  }
  const appId = env.INSTAGRAM_APP_ID ?? SANDBOX_SERVER_APP_ID;
  // The app refuses non-numeric Instagram app ids in live mode, so the sandbox's id must be numeric too.
  if (!/^\d{5,20}$/.test(appId)) problems.push('INSTAGRAM_APP_ID must be numeric, as the app requires');
  const redirectUris = (env.SANDBOX_REDIRECT_URIS ?? `http://localhost:3000${CALLBACK_PATH}`)
    .split(',')
    .map((uri) => uri.trim());
  for (const uri of redirectUris) {
    if (!parseAbsoluteUrl(uri)) problems.push(`SANDBOX_REDIRECT_URIS: "${uri}" is not an absolute http(s) URL`);
  }
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push('LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port: port as number,
    publicUrl,
    appId,
    appSecret: env.INSTAGRAM_APP_SECRET ?? SANDBOX_APP_SECRET,
    redirectUris,
    logLevel,
  };
}
