import type { Kysely } from 'kysely';
import { type Config, MIN_SESSION_SECRET_LENGTH } from '../config/config';
import { findUnreadableTokens, keyUsage } from '../connections/key-rotation';
import { TokenVault } from '../connections/token-vault';
import type { Database } from '../db/schema';
import { pingDatabase } from '../db/migrate';
import type { Logger } from '../shared/logger';
import type { TokenCipher } from '../shared/token-cipher';

/**
 * Deployment checks shared by `npm run cli -- doctor` and start-up. Configuration validation
 * (src/config/config.ts) stays the single source of truth for what stops a start: its problems are
 * reported here as errors, and the checks below add what validation cannot refuse outright (a weak
 * secret still works; a proxy in front cannot be seen from the environment). At start-up the findings
 * are only logged; doctor exits non-zero on any error.
 */
export type FindingLevel = 'error' | 'warn' | 'ok';

export interface Finding {
  check: string;
  level: FindingLevel;
  message: string;
  /** What to do; empty for `ok`. */
  fix: string;
}

const ok = (check: string, message: string): Finding => ({ check, level: 'ok', message, fix: '' });

/** Configuration problems as errors, each with the variable to change. */
export function configProblemFindings(problems: string[]): Finding[] {
  return problems.map((problem) => {
    const variable = /^[A-Z][A-Z0-9_]+/.exec(problem)?.[0];
    return {
      check: 'config',
      level: 'error' as const,
      message: problem,
      fix: variable
        ? `Change ${variable} (see .env.example and the configuration table in README.md).`
        : 'See .env.example.',
    };
  });
}

const PLACEHOLDER_SECRETS = /keyboard ?cat|change.?me|replace.?me|example|your.?secret|^secret|^password|^test/i;

/** Shannon estimate of a string's information in bits: length × entropy of its character distribution. */
export function estimatedBits(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * value.length;
}

function isLocalHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host.endsWith('.local') ||
    host === '::1' ||
    host === '0.0.0.0' ||
    /^127\./.test(host)
  );
}

/** One configured way in, as doctor checks it. */
interface ProviderSetup {
  label: string;
  /** The redirect URI's variable and where Meta's dashboard lists redirect URIs for this way in. */
  redirectVariable: string;
  redirectUri: string;
  dashboardList: string;
  live: boolean;
}

function providerSetups(config: Config): ProviderSetup[] {
  const { instagram, facebook } = config.providers;
  return [
    ...(instagram
      ? [
          {
            label: 'Instagram Login',
            redirectVariable: 'INSTAGRAM_REDIRECT_URI',
            redirectUri: instagram.redirectUri,
            dashboardList: 'Instagram > API setup with Instagram login > Business login settings > OAuth redirect URIs',
            live: instagram.mode === 'live',
          },
        ]
      : []),
    ...(facebook
      ? [
          {
            label: 'Facebook Login for Business',
            redirectVariable: 'FACEBOOK_REDIRECT_URI',
            redirectUri: facebook.redirectUri,
            dashboardList: 'Facebook Login for Business > Settings > Valid OAuth Redirect URIs',
            live: facebook.mode === 'live',
          },
        ]
      : []),
  ];
}

function redirectFindings(setup: ProviderSetup, publicUrl: URL): Finding[] {
  const findings: Finding[] = [];
  const redirect = new URL(setup.redirectUri);
  const name = setup.redirectVariable;
  if (redirect.protocol === 'https:') {
    findings.push(ok('redirect-uri-https', `${name} uses https`));
  } else if (setup.live) {
    findings.push({
      check: 'redirect-uri-https',
      level: 'error',
      message: `${name} ${redirect.href} is http: Meta refuses http redirect URIs`,
      fix: 'Serve igconnect over https (in development, through an HTTPS tunnel) and set PUBLIC_URL to that origin.',
    });
  } else {
    findings.push(ok('redirect-uri-https', `${name}: http redirect URI, used only with the built-in sandbox`));
  }
  if (redirect.origin === publicUrl.origin) {
    findings.push(ok('redirect-uri-host', `${name} is on PUBLIC_URL's origin ${publicUrl.origin}`));
  }
  if (redirect.pathname.endsWith('/')) {
    findings.push({
      check: 'redirect-uri-exact',
      level: 'warn',
      message: `${name} ends with a slash (${redirect.href}); Meta compares redirect URIs byte for byte`,
      fix: `Register exactly this value, slash included, under ${setup.dashboardList}, or remove the slash here and there.`,
    });
  } else {
    findings.push(
      ok('redirect-uri-exact', `register exactly ${redirect.href} under ${setup.dashboardList} (no trailing slash)`),
    );
  }
  return findings;
}

/** Checks of a configuration that passed validation. Pure: no network, no database. */
export function deploymentFindings(config: Config): Finding[] {
  const findings: Finding[] = [];
  const setups = providerSetups(config);
  const live = setups.some((s) => s.live);
  const production = config.env === 'production';
  const publicUrl = new URL(config.publicUrl);
  for (const setup of setups) findings.push(...redirectFindings(setup, publicUrl));

  if (isLocalHost(publicUrl.hostname) && (production || live)) {
    findings.push({
      check: 'localhost',
      level: 'error',
      message: `PUBLIC_URL ${publicUrl.origin} is a local address${production ? ' in production' : ''}: Meta refuses localhost redirect URIs and nobody else can reach it`,
      fix: 'Set PUBLIC_URL to the public https origin people use (in development against the real Instagram, an HTTPS tunnel).',
    });
  } else {
    findings.push(ok('localhost', `PUBLIC_URL ${publicUrl.origin}`));
  }

  const instagram = config.providers.instagram;
  if (instagram?.mode !== 'live') {
    if (instagram) findings.push(ok('app-id', 'no INSTAGRAM_APP_ID: the built-in sandbox is used'));
  } else if (instagram.metaAppId !== undefined) {
    findings.push(ok('app-id', 'INSTAGRAM_APP_ID is numeric and differs from META_APP_ID'));
  } else {
    findings.push({
      check: 'app-id',
      level: 'warn',
      message:
        'INSTAGRAM_APP_ID is numeric, but doctor cannot tell an Instagram app id from a Meta app id by shape (both are long numbers); using the Meta app id gives "Invalid platform app"',
      fix: 'Set META_APP_ID to the id at the top of the App Dashboard: igconnect then refuses the two being equal. INSTAGRAM_APP_ID comes from Instagram > API setup with Instagram login.',
    });
  }
  if (instagram) {
    findings.push(
      ok(
        'scopes',
        `requesting ${instagram.scopes.join(', ')} (Instagram Login scopes only; request the fewest you use)`,
      ),
    );
  }
  const facebook = config.providers.facebook;
  if (facebook) {
    findings.push(
      ok(
        'facebook-scopes',
        facebook.configId
          ? `Facebook Login for Business configuration ${facebook.configId} (its permissions are set in the dashboard)`
          : `requesting ${facebook.scopes.join(', ')} through Facebook Login (never mixed with Instagram Login scopes)`,
      ),
    );
  }

  const secret = config.sessionSecret;
  if (PLACEHOLDER_SECRETS.test(secret) || estimatedBits(secret) < 128) {
    findings.push({
      check: 'session-secret',
      level: 'error',
      message: `SESSION_SECRET looks guessable (a placeholder, or about ${Math.round(estimatedBits(secret))} bits of randomness)`,
      fix: `Generate one: openssl rand -base64 48 (at least ${MIN_SESSION_SECRET_LENGTH} random characters). Changing it signs everyone out.`,
    });
  } else {
    findings.push(ok('session-secret', 'SESSION_SECRET is long and varied'));
  }

  const materials = new Map<string, string>();
  let keysOk = true;
  for (const { id, key } of config.encryptionKeys) {
    if (new Set(key).size < 16) {
      keysOk = false;
      findings.push({
        check: 'encryption-keys',
        level: 'error',
        message: `TOKEN_ENCRYPTION_KEYS key "${id}" is not random (${new Set(key).size} distinct bytes of 32)`,
        fix: 'Generate a new key (echo "k2:$(openssl rand -base64 32)"), put it first in the ring, restart, then run `npm run cli -- keys rotate`.',
      });
    }
    const hex = key.toString('hex');
    const twin = materials.get(hex);
    if (twin !== undefined) {
      keysOk = false;
      findings.push({
        check: 'encryption-keys',
        level: 'warn',
        message: `TOKEN_ENCRYPTION_KEYS keys "${twin}" and "${id}" are the same key under two ids`,
        fix: 'A rotation needs a new key: generate one instead of reusing the old material.',
      });
    }
    materials.set(hex, id);
  }
  if (keysOk) {
    findings.push(
      ok(
        'encryption-keys',
        `${config.encryptionKeys.length} key(s) in the ring; new tokens use "${config.encryptionKeys[0]?.id}"`,
      ),
    );
  }

  if (config.trustProxy === true) {
    findings.push({
      check: 'trust-proxy',
      level: 'warn',
      message: 'TRUST_PROXY=true trusts every hop: a client can forge X-Forwarded-For and X-Forwarded-Proto',
      fix: 'Set TRUST_PROXY to the number of proxies in front (usually 1) or their addresses.',
    });
  } else if (config.trustProxy === false && publicUrl.protocol === 'https:') {
    findings.push({
      check: 'trust-proxy',
      level: 'warn',
      message:
        'TRUST_PROXY is off while PUBLIC_URL is https. Fine if igconnect terminates TLS itself; behind a TLS proxy no secure cookie is ever set and pages redirect in a loop. Doctor cannot see requests: the app logs a warning on the first request carrying X-Forwarded-Proto',
      fix: 'Behind a proxy or load balancer, set TRUST_PROXY=1 (or its addresses).',
    });
  } else {
    findings.push(ok('trust-proxy', `TRUST_PROXY=${String(config.trustProxy)}`));
  }

  const off = Object.entries({
    RATE_LIMIT_START: config.rateLimits.authStart,
    RATE_LIMIT_CALLBACK: config.rateLimits.authCallback,
    RATE_LIMIT_WEBHOOKS: config.rateLimits.webhooks,
  }).filter(([, limit]) => limit === 0);
  if (off.length > 0) {
    findings.push({
      check: 'rate-limits',
      level: 'warn',
      message: `rate limits are off for ${off.map(([name]) => name).join(', ')}`,
      fix: 'Unset these variables for the defaults, or set a number of requests per window.',
    });
  } else {
    findings.push(ok('rate-limits', 'rate limits on for the start route, the callback and webhooks'));
  }
  return findings;
}

/**
 * The database answers, and every stored token is on a configured key. With `verifyTokens`, every
 * token is also decrypted (doctor does; start-up skips it to stay fast).
 */
export async function databaseFindings(
  db: Kysely<Database>,
  cipher: TokenCipher,
  options: { verifyTokens: boolean },
): Promise<Finding[]> {
  const vault = new TokenVault(cipher);
  try {
    await pingDatabase(db);
  } catch (error) {
    return [
      {
        check: 'database',
        level: 'error',
        message: `the database did not answer: ${error instanceof Error ? error.message : String(error)}`,
        fix: 'Check DATABASE_URL, that the database is running and reachable, and its credentials or file permissions.',
      },
    ];
  }
  const findings: Finding[] = [ok('database', 'the database answers')];
  let usage;
  try {
    usage = await keyUsage({ db, vault });
  } catch {
    findings.push({
      check: 'stored-tokens',
      level: 'warn',
      message: 'the schema is not created yet',
      fix: 'Start igconnect once or run `npm run cli -- migrate`.',
    });
    return findings;
  }
  const missing = usage.filter((u) => !u.configured && u.rows > 0);
  for (const u of missing) {
    findings.push({
      check: 'stored-tokens',
      level: 'error',
      message: `${u.rows} stored token(s) use key "${u.keyId}", which is not in TOKEN_ENCRYPTION_KEYS: they cannot be decrypted`,
      fix: `Put key "${u.keyId}" back in the ring (after the current one) and run \`npm run cli -- keys rotate\`; otherwise those accounts must connect again.`,
    });
  }
  const old = usage.filter((u) => u.configured && !u.current && u.rows > 0);
  for (const u of old) {
    findings.push({
      check: 'stored-tokens',
      level: 'warn',
      message: `${u.rows} stored token(s) still use the old key "${u.keyId}"`,
      fix: 'Run `npm run cli -- keys rotate`, then remove the old key from TOKEN_ENCRYPTION_KEYS.',
    });
  }
  if (options.verifyTokens) {
    const unreadable = (await findUnreadableTokens({ db, vault })).filter(
      (u) => !missing.some((m) => m.keyId === u.keyId),
    );
    if (unreadable.length > 0) {
      findings.push({
        check: 'stored-tokens',
        level: 'error',
        message: `${unreadable.length} stored token(s) fail to decrypt (tampered or corrupted): connection ${unreadable.map((u) => u.connectionId).join(', ')}`,
        fix: 'Those accounts must connect again; restore the rows from a backup if tampering is suspected.',
      });
    }
  }
  if (missing.length === 0 && old.length === 0) {
    findings.push(ok('stored-tokens', `every stored token uses the current key "${cipher.currentKeyId}"`));
  }
  return findings;
}

/**
 * Start-up: every finding that is not ok becomes one warning line (errors in production never get here).
 * The finding's own level goes out as `severity`: a field named `level` would sit beside pino's numeric
 * one in the same JSON line, and log shippers keep the last of two equal keys.
 */
export function logFindings(logger: Logger, findings: Finding[]): void {
  for (const f of findings) {
    if (f.level === 'ok') continue;
    logger.warn({ check: f.check, severity: f.level, fix: f.fix }, `doctor: ${f.message}`);
  }
}

export function formatFindings(findings: Finding[]): string {
  const tag: Record<FindingLevel, string> = { error: 'ERROR', warn: 'WARN ', ok: 'ok   ' };
  const lines = findings.map((f) => `${tag[f.level]}  ${f.message}${f.fix ? `\n       fix: ${f.fix}` : ''}`);
  const errors = findings.filter((f) => f.level === 'error').length;
  const warnings = findings.filter((f) => f.level === 'warn').length;
  return `${lines.join('\n')}\n\n${errors} error(s), ${warnings} warning(s)\n`;
}
