import { DAY, HOUR } from '../../src/shared/clock';
import {
  BACKOFF_CAP_MS,
  decide as decideWith,
  endOf,
  type LifecycleSettings,
  type LifecycleState,
  nextActionAt as nextActionAtWith,
  planNext as planNextWith,
  spread,
  transientBackoffMs,
} from '../../src/lifecycle/lifecycle-policy';
import { createInstagramProvider } from '../../src/providers/instagram';
import { classifyErrorResponse } from '../../src/providers/meta-graph';
import type { TokenPolicy } from '../../src/providers/provider-definition';

// Instagram's token policy, as its definition states it: renewable from 24 hours of age.
const instagram = createInstagramProvider({
  mode: 'live',
  appId: '1',
  metaAppId: undefined,
  appSecret: 's',
  metaAppSecret: undefined,
  redirectUri: 'https://x/cb',
  scopes: [],
  authorizeUrl: 'https://x/a',
  tokenUrl: 'https://x/t',
  graphUrl: 'https://x',
  apiVersion: 'v25.0',
}).tokens;
const planNext = (state: LifecycleState, settings: LifecycleSettings, policy: TokenPolicy = instagram) =>
  planNextWith(state, policy, settings);
const decide = (state: LifecycleState, now: number, settings: LifecycleSettings, policy: TokenPolicy = instagram) =>
  decideWith(state, now, policy, settings);
const nextActionAt = (state: LifecycleState, settings: LifecycleSettings) =>
  nextActionAtWith(state, instagram, settings);

const settings = { refreshWindowMs: 10 * DAY, validateIntervalMs: 0 };
const T0 = Date.UTC(2026, 0, 1);

function state(overrides: Partial<LifecycleState> = {}): LifecycleState {
  return {
    id: 'c1',
    provider: 'instagram',
    status: 'active',
    tokenIssuedAt: T0,
    tokenExpiresAt: T0 + 60 * DAY,
    accessExpiresAt: null,
    lastValidatedAt: null,
    backoffUntil: null,
    ...overrides,
  };
}

describe('lifecycle policy', () => {
  it('when a 60-day token is fresh, then its refresh is planned 10 days before expiry', () => {
    expect(planNext(state(), settings)).toEqual({ kind: 'refresh', at: T0 + 50 * DAY });
    expect(decide(state(), T0 + 49 * DAY, settings)).toBe('wait');
    expect(decide(state(), T0 + 50 * DAY, settings)).toBe('refresh');
  });

  it('when a token is younger than 24 hours, then it is never refreshed, even inside the window', () => {
    const young = state({ tokenIssuedAt: T0, tokenExpiresAt: T0 + 5 * DAY });
    expect(decide(young, T0 + 23 * HOUR, settings)).toBe('wait');
    expect(decide(young, T0 + 24 * HOUR, settings)).toBe('refresh');
  });

  it('when a token has expired, then the decision is to mark it, not to call Instagram', () => {
    expect(decide(state(), T0 + 60 * DAY, settings)).toBe('expire');
    expect(decide(state({ backoffUntil: T0 + 90 * DAY }), T0 + 61 * DAY, settings)).toBe('expire');
  });

  it('when a connection needs reconnecting, then nothing is planned', () => {
    expect(planNext(state({ status: 'needs_reconnect' }), settings)).toEqual({ kind: 'none' });
    expect(nextActionAt(state({ status: 'needs_reconnect' }), settings)).toBeNull();
    expect(decide(state({ status: 'needs_reconnect' }), T0 + 70 * DAY, settings)).toBe('wait');
  });

  it('when a backoff is set, then refresh waits for it but expiry does not', () => {
    const backingOff = state({ backoffUntil: T0 + 52 * DAY });
    expect(planNext(backingOff, settings)).toEqual({ kind: 'refresh', at: T0 + 52 * DAY });
    expect(decide(backingOff, T0 + 51 * DAY, settings)).toBe('wait');
  });

  it('when validation is enabled, then it is planned an interval after the last one, spread by id', () => {
    const daily = { refreshWindowMs: 10 * DAY, validateIntervalMs: DAY };
    const validated = state({ lastValidatedAt: T0 + 3 * DAY });
    const next = planNext(validated, daily);
    expect(next.kind).toBe('validate');
    if (next.kind === 'none') throw new Error('unreachable');
    expect(next.at).toBeGreaterThanOrEqual(T0 + 4 * DAY);
    expect(next.at).toBeLessThan(T0 + 4 * DAY + 6 * HOUR);
  });

  it('when both a check and a refresh are overdue, then the refresh goes first', () => {
    const daily = { refreshWindowMs: 10 * DAY, validateIntervalMs: DAY };
    const overdue = state({ lastValidatedAt: T0 });
    expect(planNext(overdue, daily).kind).toBe('validate');
    expect(decide(overdue, T0 + 55 * DAY, daily)).toBe('refresh');
    expect(decide(overdue, T0 + 3 * DAY, daily)).toBe('validate');
  });

  it('when ids differ, then validation times spread out; the same id always lands at the same offset', () => {
    const offsets = new Set(Array.from({ length: 50 }, (_, i) => spread(`id-${i}`, DAY)));
    expect(offsets.size).toBeGreaterThan(45);
    expect(spread('same', DAY)).toBe(spread('same', DAY));
    for (const offset of offsets) expect(offset).toBeLessThan(6 * HOUR);
  });

  it('when failures repeat, then the backoff grows exponentially with jitter up to a cap', () => {
    expect(transientBackoffMs(1, () => 0)).toBe(30_000);
    expect(transientBackoffMs(1, () => 1)).toBe(60_000);
    expect(transientBackoffMs(3, () => 1)).toBe(240_000);
    expect(transientBackoffMs(30, () => 1)).toBe(BACKOFF_CAP_MS);
    expect(transientBackoffMs(30, () => 0)).toBe(BACKOFF_CAP_MS / 2);
  });

  it.each([
    [458, 'app_removed'],
    [460, 'password_changed'],
    [463, 'expired'],
    [467, 'revoked'],
    [undefined, 'invalid'],
  ])('when Graph answers 190/%s, then the reason is %s', (subcode, reason) => {
    const body = JSON.stringify({ error: { message: 'x', type: 'OAuthException', code: 190, error_subcode: subcode } });
    const error = classifyErrorResponse({ status: 400, headers: new Headers(), text: body }, 'graph', 'Instagram');
    expect(error.failure).toEqual({ kind: 'reconnect', reason });
  });

  it('when a provider cannot renew its tokens, then only expiry and checks are planned, never a refresh', () => {
    const fixed: TokenPolicy = { renewal: null };
    expect(planNext(state(), settings, fixed)).toEqual({ kind: 'expire', at: T0 + 60 * DAY });
    expect(decide(state(), T0 + 55 * DAY, settings, fixed)).toBe('wait');
  });

  it('when data access lapses before the token expires, then the connection ends then, for that reason', () => {
    const lapsing = state({ tokenExpiresAt: null, accessExpiresAt: T0 + 90 * DAY });
    expect(planNext(lapsing, settings, { renewal: null })).toEqual({ kind: 'expire', at: T0 + 90 * DAY });
    expect(decide(lapsing, T0 + 89 * DAY, settings, { renewal: null })).toBe('wait');
    expect(decide(lapsing, T0 + 90 * DAY, settings, { renewal: null })).toBe('expire');
    expect(endOf(lapsing)).toEqual({ at: T0 + 90 * DAY, reason: 'data_access_expired' });
    expect(endOf(state({ accessExpiresAt: T0 + 90 * DAY }))).toEqual({ at: T0 + 60 * DAY, reason: 'expired' });
  });

  it('when a token never expires, then it is only validated, and with checks off nothing is planned', () => {
    const forever = state({ tokenExpiresAt: null });
    expect(planNext(forever, settings)).toEqual({ kind: 'none' });
    expect(decide(forever, T0 + 400 * DAY, settings)).toBe('wait');
    const daily = { refreshWindowMs: 10 * DAY, validateIntervalMs: DAY };
    expect(planNext(forever, daily).kind).toBe('validate');
  });
});
