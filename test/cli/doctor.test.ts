import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli';

/** `npm run cli -- doctor`: each pitfall is reported with its fix; errors exit 1. */
describe('cli: doctor', () => {
  let dir: string;
  let production: Record<string, string>;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'igconnect-doctor-'));
    production = {
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://connect.example.com',
      TRUST_PROXY: '1',
      DATABASE_URL: `sqlite:${join(dir, 'igconnect.db')}`,
      SESSION_SECRET: randomBytes(48).toString('base64'),
      TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      INSTAGRAM_APP_ID: '1234567890123456',
      INSTAGRAM_APP_SECRET: 'f'.repeat(32),
      META_APP_ID: '9876543210987654',
    };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('when the production configuration is sound, then every check is ok and it exits 0', async () => {
    expect((await runCli(['migrate'], production)).status).toBe(0);
    const result = await runCli(['doctor'], production);
    expect(result.stdout).toContain('0 error(s), 0 warning(s)');
    expect(result.stdout).toContain('ok     the database answers');
    expect(result.status).toBe(0);
  });

  it('when production has no configuration, then every validation problem is an error with a fix', async () => {
    const result = await runCli(['doctor'], { NODE_ENV: 'production' });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('ERROR  SESSION_SECRET is missing');
    expect(result.stdout).toContain('ERROR  TOKEN_ENCRYPTION_KEYS is missing');
    expect(result.stdout).toContain('ERROR  INSTAGRAM_APP_ID is missing');
    expect(result.stdout).toContain('fix: Change SESSION_SECRET');
  });

  it.each([
    ['an http redirect URI', { PUBLIC_URL: 'http://connect.example.com' }, 'PUBLIC_URL must use https'],
    [
      'a redirect URI on another host',
      { INSTAGRAM_REDIRECT_URI: 'https://www.connect.example.com/auth/instagram/callback' },
      "must be on PUBLIC_URL's origin",
    ],
    ['localhost in production', { PUBLIC_URL: 'https://localhost:8443' }, 'is a local address in production'],
    ['the Meta app id as Instagram app id', { META_APP_ID: '1234567890123456' }, 'Invalid platform app'],
    ['a Basic Display scope', { INSTAGRAM_SCOPES: 'instagram_business_basic,user_profile' }, 'Basic Display API'],
    ['a Facebook Login scope', { INSTAGRAM_SCOPES: 'instagram_business_basic,pages_show_list' }, 'Facebook Login'],
    ['a short session secret', { SESSION_SECRET: 'short' }, 'SESSION_SECRET is too short'],
    ['a placeholder session secret', { SESSION_SECRET: 'keyboard cat keyboard cat keyboard cat' }, 'looks guessable'],
    ['a low-entropy session secret', { SESSION_SECRET: 'a'.repeat(64) }, 'looks guessable'],
    [
      'an all-zero encryption key',
      { TOKEN_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32).toString('base64')}` },
      'is not random',
    ],
    ['a malformed rate limit', { RATE_LIMIT_START: 'lots' }, 'RATE_LIMIT_START must be a whole number'],
    ['an unreachable database', { DATABASE_URL: 'postgres://doctor:x@127.0.0.1:1/none' }, 'database'],
  ])('when the deployment has %s, then doctor reports an error and exits 1', async (_name, change, message) => {
    const result = await runCli(['doctor'], { ...production, ...change });
    expect(result.status).toBe(1);
    const errors = result.stdout.split('\n').filter((line) => line.startsWith('ERROR'));
    expect(errors.join('\n')).toContain(message);
    expect(result.stdout).toContain('fix: ');
  });

  it.each([
    [
      'a trailing slash on the redirect URI',
      { INSTAGRAM_REDIRECT_URI: 'https://connect.example.com/auth/instagram/callback/' },
      'ends with a slash',
    ],
    ['TRUST_PROXY unset behind https', { TRUST_PROXY: 'false' }, 'TRUST_PROXY is off'],
    ['TRUST_PROXY=true', { TRUST_PROXY: 'true' }, 'trusts every hop'],
    ['no META_APP_ID to compare with', { META_APP_ID: '' }, 'cannot tell an Instagram app id from a Meta app id'],
    ['a rate limit turned off', { RATE_LIMIT_CALLBACK: '0' }, 'RATE_LIMIT_CALLBACK'],
  ])('when the deployment has %s, then doctor warns with a fix and exits 0', async (_name, change, message) => {
    const result = await runCli(['doctor'], { ...production, ...change });
    const warnings = result.stdout.split('\n').filter((line) => line.startsWith('WARN'));
    expect(warnings.join('\n')).toContain(message);
    expect(result.status).toBe(0);
  });

  it('when doctor prints, then no secret from the configuration appears in its output', async () => {
    const result = await runCli(['doctor'], { ...production, SESSION_SECRET: 'a'.repeat(64) });
    for (const secret of [production.TOKEN_ENCRYPTION_KEYS ?? '', production.INSTAGRAM_APP_SECRET ?? '']) {
      expect(result.stdout + result.stderr).not.toContain(secret.slice(3));
    }
    expect(result.stdout).not.toContain('a'.repeat(64));
  });
});
