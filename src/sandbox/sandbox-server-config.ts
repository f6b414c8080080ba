import { type Env, EnvReader, httpUrl, oneOf, parseHttpUrl, rangeMessage, wholeNumber } from '../shared/env';
import { SANDBOX_FACEBOOK_APP_ID, SANDBOX_FACEBOOK_APP_SECRET } from './facebook-wire';

/**
 * The built-in sandbox run as a process of its own (`npm run sandbox`), shared by several app instances.
 * Its few settings are its own, read from the environment the entry point hands it.
 */
export interface SandboxServerConfig {
  port: number;
  /** Origin the sandbox is reached at (consent page links, avatar URLs). */
  publicUrl: string;
  appId: string;
  appSecret: string;
  /** Every app instance's INSTAGRAM_REDIRECT_URI; behind one balancer they share one. */
  redirectUris: string[];
  /** The Facebook app of the Facebook Login for Business surface, and its registered redirect URIs. */
  facebook: { appId: string; appSecret: string; redirectUris: string[] };
  logLevel: string;
}

export const SANDBOX_SERVER_APP_ID = '1000000000000001';
const DEFAULT_SECRET = 'igconnect-sandbox-secret';
const DEFAULT_REDIRECT_URI = 'http://localhost:3000/auth/instagram/callback';
const DEFAULT_FACEBOOK_REDIRECT_URI = 'http://localhost:3000/auth/facebook/callback';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export class SandboxConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadSandboxServerConfig(env: Env): SandboxServerConfig {
  const reader = new EnvReader(env);
  if (reader.raw('NODE_ENV') === 'production') reader.problem('the sandbox never runs with NODE_ENV=production');
  const port = reader.read('SANDBOX_PORT', wholeNumber(rangeMessage('SANDBOX_PORT', 0, 65535), 0, 65535), '4000');
  const publicUrl = reader.raw('SANDBOX_PUBLIC_URL') ?? `http://localhost:${port ?? 4000}`;
  const parsed = parseHttpUrl(publicUrl);
  if (!parsed || parsed.pathname !== '/' || publicUrl.endsWith('/')) {
    reader.problem(
      `SANDBOX_PUBLIC_URL must be an http(s) origin without a path or trailing slash (got "${publicUrl}")`,
    );
  }
  const appId = reader.raw('INSTAGRAM_APP_ID') ?? SANDBOX_SERVER_APP_ID;
  // The app refuses non-numeric Instagram app ids in live mode, so the sandbox's id must be numeric too.
  if (!/^\d{5,20}$/.test(appId)) reader.problem('INSTAGRAM_APP_ID must be numeric, as the app requires');
  const redirectUris = readRedirectUris(reader, 'SANDBOX_REDIRECT_URIS', DEFAULT_REDIRECT_URI);
  const facebookAppId = reader.raw('FACEBOOK_APP_ID') ?? SANDBOX_FACEBOOK_APP_ID;
  // Facebook app ids are numeric; an app instance in live mode would send exactly this value.
  if (!/^\d{5,20}$/.test(facebookAppId)) reader.problem('FACEBOOK_APP_ID must be numeric, like a Facebook app id');
  const facebookRedirectUris = readRedirectUris(
    reader,
    'SANDBOX_FACEBOOK_REDIRECT_URIS',
    DEFAULT_FACEBOOK_REDIRECT_URI,
  );
  const logLevel =
    reader.read('LOG_LEVEL', oneOf(LOG_LEVELS, `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)) ?? 'info';
  if (reader.problems.length > 0) throw new SandboxConfigError(reader.problems);
  return {
    port: port as number,
    publicUrl,
    appId,
    appSecret: reader.raw('INSTAGRAM_APP_SECRET') ?? DEFAULT_SECRET,
    redirectUris,
    facebook: {
      appId: facebookAppId,
      appSecret: reader.raw('FACEBOOK_APP_SECRET') ?? SANDBOX_FACEBOOK_APP_SECRET,
      redirectUris: facebookRedirectUris,
    },
    logLevel,
  };
}

/** A comma-separated list of absolute http(s) URLs, each matched byte for byte by the sandbox. */
function readRedirectUris(reader: EnvReader, name: string, fallback: string): string[] {
  const uris = (reader.raw(name) ?? fallback).split(',').map((u) => u.trim());
  for (const uri of uris) reader.read(name, httpUrl(`${name}: "${uri}" is not an absolute http(s) URL`), uri);
  return uris;
}
