import { ConfigError, loadConfig } from '../../src/config/config';

const KEY = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
const SECRET = 's'.repeat(40);

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('when nothing is set outside production, then the built-in sandbox and SQLite are the defaults', () => {
    const config = loadConfig({ SESSION_SECRET: SECRET, TOKEN_ENCRYPTION_KEYS: KEY });
    expect(config.env).toBe('development');
    expect(config.providers.instagram!.mode).toBe('sandbox');
    expect(config.providers.instagram!.redirectUri).toBe('http://localhost:3000/auth/instagram/callback');
    expect(config.providers.instagram!.authorizeUrl).toBe('http://localhost:3000/sandbox/oauth/authorize');
    expect(config.providers.instagram!.scopes).toEqual(['instagram_business_basic']);
    expect(config.providers.instagram!.apiVersion).toBe('v25.0');
    expect(config.database).toEqual({ kind: 'sqlite', filename: 'data/igconnect.db', timeoutMs: 5000 });
    expect(config.trustProxy).toBe(false);
  });

  it('when no retention is set, then audit records stay 90 days, events 30, expired connect links 1, run daily', () => {
    const { retention } = loadConfig({ SESSION_SECRET: SECRET, TOKEN_ENCRYPTION_KEYS: KEY });
    expect(retention).toEqual({
      intervalMs: 24 * 3_600_000,
      batchSize: 200,
      auditMs: 90 * 86_400_000,
      eventsMs: 30 * 86_400_000,
      connectLinksMs: 86_400_000,
    });
  });

  it('when a retention setting is not a whole number in range, then start-up names each one', () => {
    const problems = problemsOf({
      SESSION_SECRET: SECRET,
      TOKEN_ENCRYPTION_KEYS: KEY,
      AUDIT_RETENTION_DAYS: '-1',
      EVENTS_RETENTION_DAYS: '30d',
      CONNECT_LINK_RETENTION_DAYS: '1.5',
      RETENTION_BATCH_SIZE: '0',
      RETENTION_INTERVAL_HOURS: '721',
    });
    expect(problems).toEqual([
      'RETENTION_INTERVAL_HOURS must be a whole number from 0 to 720',
      'RETENTION_BATCH_SIZE must be a whole number from 1 to 10000',
      'AUDIT_RETENTION_DAYS must be a whole number from 0 to 3650',
      'EVENTS_RETENTION_DAYS must be a whole number from 0 to 3650',
      'CONNECT_LINK_RETENTION_DAYS must be a whole number from 0 to 3650',
    ]);
  });

  it("when an Instagram app id is set, then Meta's production endpoints are the defaults", () => {
    const config = loadConfig({
      SESSION_SECRET: SECRET,
      TOKEN_ENCRYPTION_KEYS: KEY,
      INSTAGRAM_APP_ID: '1234567890',
      INSTAGRAM_APP_SECRET: 'app-secret',
    });
    expect(config.providers.instagram!.mode).toBe('live');
    expect(config.providers.instagram!.authorizeUrl).toBe('https://www.instagram.com/oauth/authorize');
    expect(config.providers.instagram!.tokenUrl).toBe('https://api.instagram.com/oauth/access_token');
    expect(config.providers.instagram!.graphUrl).toBe('https://graph.instagram.com');
  });

  it('when production starts with nothing configured, then it refuses and names every problem at once', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    const text = problems.join('\n');
    expect(text).toMatch(/INSTAGRAM_APP_ID is missing: production never uses the built-in sandbox/);
    expect(text).toMatch(/SESSION_SECRET is missing/);
    expect(text).toMatch(/TOKEN_ENCRYPTION_KEYS is missing/);
    expect(text).toMatch(/PUBLIC_URL must use https in production/);
    expect(text).toMatch(/INSTAGRAM_REDIRECT_URI must use https in production/);
  });

  it('when production has a short session secret, then it refuses', () => {
    expect(problemsOf({ NODE_ENV: 'production', SESSION_SECRET: 'short' }).join('\n')).toMatch(
      /SESSION_SECRET is too short/,
    );
  });

  it('when production is configured properly, then it starts', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://connect.example.com',
      SESSION_SECRET: SECRET,
      TOKEN_ENCRYPTION_KEYS: KEY,
      INSTAGRAM_APP_ID: '1234567890',
      INSTAGRAM_APP_SECRET: 'app-secret',
    });
    expect(config.providers.instagram!.redirectUri).toBe('https://connect.example.com/auth/instagram/callback');
  });

  it.each([
    ['user_profile', /Basic Display API scope; that API was shut off on 2024-12-04. Use instagram_business_basic/],
    ['user_media', /Basic Display API/],
    ['business_basic', /retired on 2025-01-27; use instagram_business_basic/],
    ['instagram_basic', /belongs to Facebook Login for Business/],
    ['pages_show_list', /belongs to Facebook Login for Business/],
    ['made_up_scope', /unknown scope/],
  ])(
    'when INSTAGRAM_SCOPES includes %s, then start-up refuses with a message naming the replacement',
    (scope, message) => {
      const problems = problemsOf({
        SESSION_SECRET: SECRET,
        TOKEN_ENCRYPTION_KEYS: KEY,
        INSTAGRAM_SCOPES: `instagram_business_basic,${scope}`,
      });
      expect(problems.join('\n')).toMatch(message);
    },
  );

  it('when instagram_business_basic is missing from the scopes, then start-up refuses', () => {
    const problems = problemsOf({
      SESSION_SECRET: SECRET,
      TOKEN_ENCRYPTION_KEYS: KEY,
      INSTAGRAM_SCOPES: 'instagram_business_manage_comments',
    });
    expect(problems.join('\n')).toMatch(/must include instagram_business_basic/);
  });

  it('when a Basic Display v1 endpoint is configured, then start-up refuses', () => {
    const problems = problemsOf({
      SESSION_SECRET: SECRET,
      TOKEN_ENCRYPTION_KEYS: KEY,
      INSTAGRAM_GRAPH_URL: 'https://api.instagram.com/v1',
    });
    expect(problems.join('\n')).toMatch(/Basic Display API \(\/v1\)/);
  });

  it.each([
    ['k1', /must be id:base64key/],
    ['k1:short', /must decode to 32 bytes/],
    [`${KEY},${KEY}`, /twice/],
    ['k 1:abc', /must be id:base64key/],
  ])('when TOKEN_ENCRYPTION_KEYS is %s, then it is refused', (keys, message) => {
    expect(problemsOf({ SESSION_SECRET: SECRET, TOKEN_ENCRYPTION_KEYS: keys }).join('\n')).toMatch(message);
  });

  it('when several keys are given, then the first one encrypts', () => {
    const second = `k2:${Buffer.alloc(32, 9).toString('base64')}`;
    const config = loadConfig({ SESSION_SECRET: SECRET, TOKEN_ENCRYPTION_KEYS: `${second},${KEY}` });
    expect(config.encryptionKeys.map((k) => k.id)).toEqual(['k2', 'k1']);
  });

  it.each([
    ['https://connect.example.com/', /without a path or trailing slash/],
    ['connect.example.com', /absolute http\(s\) URL/],
  ])('when PUBLIC_URL is %s, then it is refused', (url, message) => {
    expect(problemsOf({ SESSION_SECRET: SECRET, TOKEN_ENCRYPTION_KEYS: KEY, PUBLIC_URL: url }).join('\n')).toMatch(
      message,
    );
  });

  it('when the redirect URI is on another host than PUBLIC_URL, then it is refused', () => {
    const problems = problemsOf({
      SESSION_SECRET: SECRET,
      TOKEN_ENCRYPTION_KEYS: KEY,
      PUBLIC_URL: 'https://a.example.com',
      INSTAGRAM_REDIRECT_URI: 'https://b.example.com/auth/instagram/callback',
    });
    expect(problems.join('\n')).toMatch(/must be on PUBLIC_URL's origin/);
  });

  it('when the redirect URI has a trailing slash, then it is accepted as given (Meta compares byte for byte)', () => {
    const config = loadConfig({
      SESSION_SECRET: SECRET,
      TOKEN_ENCRYPTION_KEYS: KEY,
      INSTAGRAM_REDIRECT_URI: 'http://localhost:3000/auth/instagram/callback/',
    });
    expect(config.providers.instagram!.redirectUri).toBe('http://localhost:3000/auth/instagram/callback/');
  });

  it('when the Instagram app id is not numeric, then it is refused', () => {
    const problems = problemsOf({
      SESSION_SECRET: SECRET,
      TOKEN_ENCRYPTION_KEYS: KEY,
      INSTAGRAM_APP_ID: 'my-app',
      INSTAGRAM_APP_SECRET: 'x',
    });
    expect(problems.join('\n')).toMatch(/numeric Instagram app id/);
  });
  it('when DATABASE_URL is postgres://, then PostgreSQL is selected with the pool size and timeout given', () => {
    const config = loadConfig({
      SESSION_SECRET: SECRET,
      TOKEN_ENCRYPTION_KEYS: KEY,
      DATABASE_URL: 'postgres://igconnect:pw@db.internal:5432/igconnect',
      DATABASE_POOL_MAX: '25',
      DATABASE_TIMEOUT_MS: '2000',
    });
    expect(config.database).toEqual({
      kind: 'postgres',
      url: 'postgres://igconnect:pw@db.internal:5432/igconnect',
      poolMax: 25,
      timeoutMs: 2000,
    });
    const defaults = loadConfig({
      SESSION_SECRET: SECRET,
      TOKEN_ENCRYPTION_KEYS: KEY,
      DATABASE_URL: 'postgresql://h/db',
    });
    expect(defaults.database).toMatchObject({ kind: 'postgres', poolMax: 10, timeoutMs: 5000 });
  });

  it.each([
    [{ DATABASE_POOL_MAX: '0' }, 'DATABASE_POOL_MAX must be a whole number from 1 to 1000'],
    [{ DATABASE_POOL_MAX: 'ten' }, 'DATABASE_POOL_MAX must be a whole number from 1 to 1000'],
    [{ DATABASE_TIMEOUT_MS: '5' }, 'DATABASE_TIMEOUT_MS must be a whole number from 100 to 120000'],
    [{ DATABASE_URL: 'postgres://' }, 'DATABASE_URL must be sqlite:<path> or postgres://'],
  ])('when the database settings are %j, then start-up refuses', (env, message) => {
    const problems = problemsOf({ SESSION_SECRET: SECRET, TOKEN_ENCRYPTION_KEYS: KEY, ...env });
    expect(problems.join('\n')).toContain(message);
  });
});
