import { ConfigError, loadConfig } from '../../src/config/config';

const BASE = { SESSION_SECRET: 's'.repeat(40), TOKEN_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` };
const WHSEC = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...BASE, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration: signed events', () => {
  it('when no receiver is set, then events are off', () => {
    expect(loadConfig(BASE).events).toBeUndefined();
  });

  it('when a receiver and its secret are set, then the defaults apply and the secret is decoded', () => {
    const events = loadConfig({
      ...BASE,
      EVENTS_WEBHOOK_URL: 'https://hooks.example.com/ig',
      EVENTS_WEBHOOK_SECRET: WHSEC,
    }).events;
    expect(events).toEqual({
      url: 'https://hooks.example.com/ig',
      secret: Buffer.alloc(32, 9),
      retryBaseMs: 30_000,
      retryForMs: 3 * 86_400_000,
      pollIntervalMs: 5000,
      timeoutMs: 10_000,
      leaseMs: 25_000,
    });
  });

  it('when the intervals are set, then they are used; 0 turns delivery off in that process', () => {
    const events = loadConfig({
      ...BASE,
      EVENTS_WEBHOOK_URL: 'http://127.0.0.1:9999/ig',
      EVENTS_WEBHOOK_SECRET: WHSEC,
      EVENTS_RETRY_BASE_SECONDS: '5',
      EVENTS_POLL_INTERVAL_SECONDS: '0',
      EVENTS_TIMEOUT_SECONDS: '3',
    }).events;
    expect(events).toMatchObject({ retryBaseMs: 5000, pollIntervalMs: 0, timeoutMs: 3000, leaseMs: 11_000 });
  });

  it.each([
    [{ EVENTS_WEBHOOK_SECRET: WHSEC }, /EVENTS_WEBHOOK_URL is missing/],
    [
      { EVENTS_WEBHOOK_URL: 'https://hooks.example.com/ig' },
      /EVENTS_WEBHOOK_SECRET must be a Standard Webhooks secret/,
    ],
    [{ EVENTS_WEBHOOK_URL: 'https://hooks.example.com/ig', EVENTS_WEBHOOK_SECRET: 'plain-secret' }, /whsec_/],
    [{ EVENTS_WEBHOOK_URL: 'https://hooks.example.com/ig', EVENTS_WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }, /24 to 64/],
    [{ EVENTS_WEBHOOK_URL: 'ftp://hooks.example.com/ig', EVENTS_WEBHOOK_SECRET: WHSEC }, /absolute http\(s\) URL/],
    [
      { EVENTS_WEBHOOK_URL: 'https://user:pw@hooks.example.com/ig', EVENTS_WEBHOOK_SECRET: WHSEC },
      /must not contain a user name or password/,
    ],
    [{ EVENTS_POLL_INTERVAL_SECONDS: '-1' }, /EVENTS_POLL_INTERVAL_SECONDS must be a whole number from 0 to 3600/],
    [{ EVENTS_TIMEOUT_SECONDS: '0' }, /EVENTS_TIMEOUT_SECONDS must be a whole number from 1 to 60/],
    [{ EVENTS_RETRY_BASE_SECONDS: '1.5' }, /EVENTS_RETRY_BASE_SECONDS must be a whole number from 1 to 86400/],
  ])('when the events settings are %p, then start-up refuses and says why', (env, message) => {
    expect(problemsOf(env).join('\n')).toMatch(message);
  });

  it('when production sends events over plain http, then it refuses', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      EVENTS_WEBHOOK_URL: 'http://hooks.example.com/ig',
      EVENTS_WEBHOOK_SECRET: WHSEC,
    });
    expect(problems.join('\n')).toMatch(/EVENTS_WEBHOOK_URL must use https in production/);
  });
});
