import { type Env, EnvReader, httpUrl, oneOf, parseHttpUrl, rangeMessage, wholeNumber } from '../shared/env';

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
  logLevel: string;
}

export const SANDBOX_SERVER_APP_ID = '1000000000000001';
const DEFAULT_SECRET = 'igconnect-sandbox-secret';
const DEFAULT_REDIRECT_URI = 'http://localhost:3000/auth/instagram/callback';
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
  const redirectUris = (reader.raw('SANDBOX_REDIRECT_URIS') ?? DEFAULT_REDIRECT_URI).split(',').map((u) => u.trim());
  for (const uri of redirectUris) {
    reader.read(
      'SANDBOX_REDIRECT_URIS',
      httpUrl(`SANDBOX_REDIRECT_URIS: "${uri}" is not an absolute http(s) URL`),
      uri,
    );
  }
  const logLevel =
    reader.read('LOG_LEVEL', oneOf(LOG_LEVELS, `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)) ?? 'info';
  if (reader.problems.length > 0) throw new SandboxConfigError(reader.problems);
  return {
    port: port as number,
    publicUrl,
    appId,
    appSecret: reader.raw('INSTAGRAM_APP_SECRET') ?? DEFAULT_SECRET,
    redirectUris,
    logLevel,
  };
}
