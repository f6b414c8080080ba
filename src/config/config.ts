import { type ProvidersConfig, parseProvidersConfig } from '../providers/config-sections';
import {
  type Env,
  EnvReader,
  httpUrl,
  oneOf,
  parseHttpUrl,
  rangeMessage,
  trueOrFalse,
  wholeNumber,
} from '../shared/env';
import type { EncryptionKey } from '../shared/token-cipher';
import { type DatabaseConfig, parseDatabaseUrl } from './database-config';
import { type ReliabilityConfig, readReliability } from './reliability-config';
import { readWatch, type WatchConfig } from './watch-config';

/**
 * Configuration is read from the environment exactly once, here: the core settings below, and each
 * provider's own section (src/providers/*.config.ts), which this module hands the same reader. Every
 * problem is collected and reported together, so a deployer fixes them in one pass. Values are validated,
 * never silently repaired: a trailing slash or an http URL is an error with a message, not something we "fix".
 */
export type { DatabaseConfig, EncryptionKey };

/** Where the built-in sandbox is mounted when a provider runs against it (development and tests only). */
export const SANDBOX_BASE_PATH = '/sandbox';
export const MIN_SESSION_SECRET_LENGTH = 32;

/** Keeping tokens alive (src/lifecycle). Any interval of 0 disables that job. */
export interface LifecycleConfig {
  /** Refresh a token this long before it expires (the provider may also require a minimum age). */
  refreshWindowMs: number;
  /** Validate each connection this often; 0 disables validation. */
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

/** Requests allowed per client IP and route group in each window; 0 turns that group's limit off. */
export interface RateLimitConfig {
  windowMs: number;
  authStart: number;
  authCallback: number;
  webhooks: number;
}

/** The deployer's API (src/api). */
export interface ApiConfig {
  /** Requests per minute and API key; 0 turns the limit off. */
  rateLimitPerMinute: number;
  /** How long a connect link works. */
  connectSessionTtlMs: number;
  /** Origins besides PUBLIC_URL's that a connect link may send the browser back to. */
  returnUrlOrigins: string[];
  /** How long an oEmbed answer is kept; 0 keeps none. */
  oembedCacheMs: number;
}

/** Signed events to the deployer's backend (src/events); undefined when not configured. */
export interface EventsConfig {
  url: string;
  /** The Standard Webhooks secret, decoded from `whsec_<base64>`. */
  secret: Buffer;
  retryBaseMs: number;
  /** Retries stop this long after the event was written. */
  retryForMs: number;
  /** How often a relay looks for due events; 0: this process delivers none. */
  pollIntervalMs: number;
  /** The deadline of one delivery. */
  timeoutMs: number;
  /** How long a relay holds a claimed event: the deadline twice over, plus time to record the result. */
  leaseMs: number;
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
  providers: ProvidersConfig;
  logLevel: string;
  /** Outbound HTTP timeout for calls to providers, in milliseconds. */
  httpTimeoutMs: number;
  lifecycle: LifecycleConfig;
  rateLimits: RateLimitConfig;
  api: ApiConfig;
  events: EventsConfig | undefined;
  reliability: ReliabilityConfig;
  /** Watching the providers (incidents, usage, the contract canary) and metrics. */
  watch: WatchConfig;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Parses and validates; throws one ConfigError listing every problem. */
export function loadConfig(env: Env): Config {
  const { config, problems } = inspectConfig(env);
  if (!config) throw new ConfigError(problems);
  return config;
}

/**
 * The same validation without throwing, for `doctor`, which must report every problem of a
 * configuration that cannot start. `config` is set exactly when `problems` is empty.
 */
export function inspectConfig(env: Env): { config: Config | undefined; problems: string[] } {
  const reader = new EnvReader(env);
  const nodeEnv =
    reader.read(
      'NODE_ENV',
      oneOf(['development', 'test', 'production'], `NODE_ENV must be development, test or production`),
    ) ?? 'development';
  const production = nodeEnv === 'production';

  const port = reader.read('PORT', wholeNumber(rangeMessage('PORT', 0, 65535), 0, 65535), '3000');
  const publicUrl = readPublicUrl(reader, port ?? 3000, production);
  const trustProxy = parseTrustProxy(reader.raw('TRUST_PROXY'));
  if (trustProxy === undefined) {
    reader.problem('TRUST_PROXY must be false, true, a hop count, or a comma-separated list of addresses/subnets');
  }

  const poolMax = reader.read(
    'DATABASE_POOL_MAX',
    wholeNumber(rangeMessage('DATABASE_POOL_MAX', 1, 1000), 1, 1000),
    '10',
  );
  const timeoutMs = reader.read(
    'DATABASE_TIMEOUT_MS',
    wholeNumber(rangeMessage('DATABASE_TIMEOUT_MS', 100, 120000), 100, 120000),
    '5000',
  );
  const database = parseDatabaseUrl(
    reader.raw('DATABASE_URL') ?? 'sqlite:data/igconnect.db',
    poolMax ?? 10,
    timeoutMs ?? 5000,
  );
  if (!database) reader.problem('DATABASE_URL must be sqlite:<path> or postgres://user:password@host:port/database');

  const sessionSecret = reader.raw('SESSION_SECRET') ?? '';
  if (sessionSecret.length < MIN_SESSION_SECRET_LENGTH) {
    reader.problem(
      sessionSecret === ''
        ? 'SESSION_SECRET is missing (at least 32 random characters; `openssl rand -base64 48`)'
        : `SESSION_SECRET is too short (${sessionSecret.length} characters; at least ${MIN_SESSION_SECRET_LENGTH})`,
    );
  }
  const keys = parseEncryptionKeys(reader.raw('TOKEN_ENCRYPTION_KEYS'));
  keys.problems.forEach((p) => reader.problem(p));

  const providers = parseProvidersConfig({
    reader,
    publicUrl,
    production,
    sandboxUrl: `${publicUrl}${SANDBOX_BASE_PATH}`,
  });

  const logLevel =
    reader.read('LOG_LEVEL', oneOf(LOG_LEVELS, `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)) ??
    (nodeEnv === 'test' ? 'silent' : 'info');
  const httpTimeoutMs = reader.read(
    'HTTP_TIMEOUT_MS',
    wholeNumber(rangeMessage('HTTP_TIMEOUT_MS', 100, 120000), 100, 120000),
    '10000',
  );
  const lifecycle = readLifecycle(reader);
  const rateLimits = readRateLimits(reader);
  const api = readApi(reader, production);
  const events = readEvents(reader, production);
  const reliability = readReliability(reader);
  const watch = readWatch(reader);

  if (reader.problems.length > 0) return { config: undefined, problems: reader.problems };
  return {
    config: {
      env: nodeEnv,
      port: port as number,
      publicUrl,
      trustProxy: trustProxy as Config['trustProxy'],
      database: database as DatabaseConfig,
      sessionSecret,
      encryptionKeys: keys.keys,
      providers,
      logLevel,
      httpTimeoutMs: httpTimeoutMs as number,
      lifecycle,
      rateLimits,
      api,
      events,
      reliability,
      watch,
    },
    problems: [],
  };
}

function readPublicUrl(reader: EnvReader, port: number, production: boolean): string {
  const publicUrl = reader.raw('PUBLIC_URL') ?? `http://localhost:${port}`;
  const valid = reader.read(
    'PUBLIC_URL',
    httpUrl(`PUBLIC_URL must be an absolute http(s) URL such as https://connect.example.com (got "${publicUrl}")`),
    publicUrl,
  );
  const url = valid === undefined ? undefined : parseHttpUrl(valid);
  if (url) {
    if (url.pathname !== '/' || publicUrl.endsWith('/')) {
      reader.problem(`PUBLIC_URL must be an origin without a path or trailing slash, such as ${url.origin}`);
    }
    if (production && url.protocol !== 'https:') {
      reader.problem('PUBLIC_URL must use https in production (Meta refuses http redirect URIs)');
    }
  }
  return publicUrl;
}

function readLifecycle(reader: EnvReader): LifecycleConfig {
  const number = (name: string, fallback: string, min: number, max: number): number =>
    reader.read(name, wholeNumber(rangeMessage(name, min, max), min, max), fallback) ?? Number(fallback);
  const keeperInWeb = reader.read('KEEPER_IN_WEB', trueOrFalse('KEEPER_IN_WEB must be true or false'), 'true');
  return {
    // Long-lived tokens of the providers we know live 60 days: a window above 59 days would refresh at once.
    refreshWindowMs: number('REFRESH_WINDOW_DAYS', '10', 1, 59) * 86_400_000,
    validateIntervalMs: number('VALIDATE_INTERVAL_HOURS', '24', 0, 24 * 30) * 3_600_000,
    sweepIntervalMs: number('KEEPER_INTERVAL_SECONDS', '60', 0, 86_400) * 1000,
    keeperInWeb: keeperInWeb ?? true,
    batchSize: number('KEEPER_BATCH_SIZE', '100', 1, 10_000),
    concurrency: number('KEEPER_CONCURRENCY', '4', 1, 64),
    leaseMs: number('KEEPER_LEASE_SECONDS', '120', 10, 3600) * 1000,
    webhookMaxAgeMs: number('WEBHOOK_MAX_AGE_SECONDS', '3600', 60, 7 * 86_400) * 1000,
  };
}

function readRateLimits(reader: EnvReader): RateLimitConfig {
  const windowSeconds = reader.read(
    'RATE_LIMIT_WINDOW_SEC',
    wholeNumber(rangeMessage('RATE_LIMIT_WINDOW_SEC', 1, 86400), 1, 86400),
    '60',
  );
  const limit = (name: string, fallback: string): number =>
    reader.read(
      name,
      wholeNumber(`${name} must be a whole number (requests per window; 0 turns it off)`, 0, 1_000_000),
      fallback,
    ) ?? 0;
  return {
    windowMs: (windowSeconds ?? 60) * 1000,
    authStart: limit('RATE_LIMIT_START', '30'),
    authCallback: limit('RATE_LIMIT_CALLBACK', '30'),
    webhooks: limit('RATE_LIMIT_WEBHOOKS', '120'),
  };
}

function readApi(reader: EnvReader, production: boolean): ApiConfig {
  const perMinute = reader.read(
    'API_RATE_LIMIT_PER_MINUTE',
    wholeNumber(
      'API_RATE_LIMIT_PER_MINUTE must be a whole number (requests per minute and key; 0 turns it off)',
      0,
      10_000_000,
    ),
    '60000',
  );
  const ttl = reader.read(
    'CONNECT_SESSION_TTL_SECONDS',
    wholeNumber(rangeMessage('CONNECT_SESSION_TTL_SECONDS', 60, 7 * 86_400), 60, 7 * 86_400),
    '1800',
  );
  const origins: string[] = [];
  for (const entry of (reader.raw('RETURN_URL_ORIGINS') ?? '').split(',').map((o) => o.trim())) {
    if (entry === '') continue;
    const url = parseHttpUrl(entry);
    if (!url || url.origin !== entry) {
      reader.problem(
        `RETURN_URL_ORIGINS: "${entry}" must be an origin such as https://app.example.com (no path or slash)`,
      );
    } else if (production && url.protocol !== 'https:') {
      reader.problem(`RETURN_URL_ORIGINS: "${entry}" must use https in production`);
    } else {
      origins.push(url.origin);
    }
  }
  const oembedCache = reader.read(
    'OEMBED_CACHE_SECONDS',
    wholeNumber(rangeMessage('OEMBED_CACHE_SECONDS', 0, 7 * 86_400), 0, 7 * 86_400),
    '3600',
  );
  return {
    oembedCacheMs: (oembedCache ?? 3600) * 1000,
    rateLimitPerMinute: perMinute ?? 60_000,
    connectSessionTtlMs: (ttl ?? 1800) * 1000,
    returnUrlOrigins: origins,
  };
}

function readEvents(reader: EnvReader, production: boolean): EventsConfig | undefined {
  const url = reader.read('EVENTS_WEBHOOK_URL', httpUrl('EVENTS_WEBHOOK_URL must be an absolute http(s) URL'));
  const secretText = reader.raw('EVENTS_WEBHOOK_SECRET');
  const number = (name: string, fallback: string, min: number, max: number): number =>
    reader.read(name, wholeNumber(rangeMessage(name, min, max), min, max), fallback) ?? Number(fallback);
  const retryBase = number('EVENTS_RETRY_BASE_SECONDS', '30', 1, 86_400);
  const pollInterval = number('EVENTS_POLL_INTERVAL_SECONDS', '5', 0, 3600);
  const timeout = number('EVENTS_TIMEOUT_SECONDS', '10', 1, 60);
  if (url === undefined && secretText === undefined) return undefined;
  if (url === undefined) {
    reader.problem('EVENTS_WEBHOOK_SECRET is set but EVENTS_WEBHOOK_URL is missing');
    return undefined;
  }
  if (production && !url.startsWith('https:')) reader.problem('EVENTS_WEBHOOK_URL must use https in production');
  const parsed = parseHttpUrl(url);
  if (parsed && (parsed.username !== '' || parsed.password !== '')) {
    // fetch refuses such URLs, and a password in a URL ends up in places a secret should not be.
    reader.problem('EVENTS_WEBHOOK_URL must not contain a user name or password; events are signed instead');
  }
  const secret = parseWebhookSecret(secretText);
  if (!secret) {
    reader.problem(
      'EVENTS_WEBHOOK_SECRET must be a Standard Webhooks secret: whsec_ followed by base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))',
    );
    return undefined;
  }
  return {
    url,
    secret,
    retryBaseMs: retryBase * 1000,
    retryForMs: 3 * 86_400_000,
    pollIntervalMs: pollInterval * 1000,
    timeoutMs: timeout * 1000,
    leaseMs: 2 * timeout * 1000 + 5000,
  };
}

/** `whsec_<base64>`, the Standard Webhooks secret format; the signing key is the decoded bytes. */
export function parseWebhookSecret(value: string | undefined): Buffer | undefined {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(value ?? '');
  if (!match?.[1]) return undefined;
  const secret = Buffer.from(match[1], 'base64');
  return secret.length >= 24 && secret.length <= 64 ? secret : undefined;
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

function parseTrustProxy(value: string | undefined): boolean | number | string | undefined {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return /^[A-Za-z0-9.:/_, -]+$/.test(value) ? value : undefined;
}
