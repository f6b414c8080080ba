import { createHash } from 'node:crypto';
import type { LifecycleConfig } from '../config/config';
import type { PlannedAction, Schedule, ScheduleInput } from '../connections/connections.service';
import type { TokenPolicy } from '../providers/provider-definition';
import type { ProviderRegistry } from '../providers/registry';
import { HOUR, MINUTE } from '../shared/clock';

/**
 * What to do with a connection, and when: pure functions of (connection, its provider's token policy,
 * now). The keeper, the status page and the CLI all ask these, so they never disagree about the schedule.
 *
 * A token is refreshed inside a window before it expires (default 10 days, which leaves many chances to
 * retry), never before the provider's minimum age, never after expiry (an expired token cannot be
 * renewed: the person must connect again), and never at all when the provider cannot renew its tokens.
 * A token without an expiry is only validated.
 */
export type LifecycleSettings = Pick<LifecycleConfig, 'refreshWindowMs' | 'validateIntervalMs'>;

export type LifecycleState = ScheduleInput;

const PRIORITY = { expire: 0, refresh: 1, validate: 2 } as const;
type Kind = keyof typeof PRIORITY;

/** Everything planned for this connection, each at its time (backoff applied). */
function plannedActions(
  state: LifecycleState,
  policy: TokenPolicy,
  settings: LifecycleSettings,
): { kind: Kind; at: number }[] {
  if (state.status !== 'active') return [];
  const candidates: { kind: Kind; at: number }[] = [];
  const end = endOf(state);
  if (end !== null) candidates.push({ kind: 'expire', at: end.at });
  if (state.tokenExpiresAt !== null) {
    if (policy.renewal) {
      const refreshAt = Math.max(
        state.tokenIssuedAt + policy.renewal.minAgeMs,
        state.tokenExpiresAt - settings.refreshWindowMs,
      );
      if (refreshAt < state.tokenExpiresAt) candidates.push({ kind: 'refresh', at: refreshAt });
    }
  }
  if (settings.validateIntervalMs > 0) {
    const base = state.lastValidatedAt ?? state.tokenIssuedAt;
    candidates.push({
      kind: 'validate',
      at: base + settings.validateIntervalMs + spread(state.id, settings.validateIntervalMs),
    });
  }
  // Backoff postpones refresh and validation, never expiry: an expired token is marked at once.
  return candidates.map((c) =>
    c.kind !== 'expire' && state.backoffUntil !== null && state.backoffUntil > c.at
      ? { ...c, at: state.backoffUntil }
      : c,
  );
}

/** The earliest thing planned for this connection, ignoring the current time. */
export function planNext(state: LifecycleState, policy: TokenPolicy, settings: LifecycleSettings): PlannedAction {
  const [first] = plannedActions(state, policy, settings).sort(
    (a, b) => a.at - b.at || PRIORITY[a.kind] - PRIORITY[b.kind],
  );
  return first ?? { kind: 'none' };
}

/** The next time a keeper should look at this connection (the indexed `next_action_at`), or null. */
export function nextActionAt(state: LifecycleState, policy: TokenPolicy, settings: LifecycleSettings): number | null {
  const next = planNext(state, policy, settings);
  return next.kind === 'none' ? null : next.at;
}

/**
 * What to do right now. When several actions are due, expiry beats refresh and refresh beats validation:
 * a refresh renews the token and proves it works, so an overdue check need not run first.
 */
export function decide(
  state: LifecycleState,
  now: number,
  policy: TokenPolicy,
  settings: LifecycleSettings,
): Kind | 'wait' {
  if (state.status !== 'active') return 'wait';
  if (isExpired(state, now)) return 'expire';
  const [first] = plannedActions(state, policy, settings)
    .filter((c) => c.at <= now)
    .sort((a, b) => PRIORITY[a.kind] - PRIORITY[b.kind]);
  return first?.kind ?? 'wait';
}

/**
 * When the connection stops working whatever the keeper does: its token's expiry, or the lapse of the
 * person's data access when that comes first (it cannot be renewed server-side either). Null: never.
 */
export function endOf(
  state: Pick<LifecycleState, 'tokenExpiresAt' | 'accessExpiresAt'>,
): { at: number; reason: 'expired' | 'data_access_expired' } | null {
  const { tokenExpiresAt: token, accessExpiresAt: access } = state;
  if (access !== null && (token === null || access < token)) return { at: access, reason: 'data_access_expired' };
  return token === null ? null : { at: token, reason: 'expired' };
}

export function isExpired(state: Pick<LifecycleState, 'tokenExpiresAt' | 'accessExpiresAt'>, now: number): boolean {
  const end = endOf(state);
  return end !== null && now >= end.at;
}

/** Whether the provider would renew this token now: renewable at all, old enough, not expired. */
export function renewableNow(state: LifecycleState, now: number, policy: TokenPolicy): boolean {
  return policy.renewal !== null && !isExpired(state, now) && now - state.tokenIssuedAt >= policy.renewal.minAgeMs;
}

/**
 * The schedule of every stored connection, each by its own provider's policy. A connection whose provider
 * is no longer configured gets no plan: nothing can be done for it until the provider is back.
 */
export function createSchedule(providers: ProviderRegistry, settings: LifecycleSettings): Schedule {
  return {
    plan(connection) {
      const provider = providers.find(connection.provider);
      return provider ? planNext(connection, provider.tokens, settings) : { kind: 'none' };
    },
  };
}

/**
 * Validations are spread over a quarter of the interval (at most 6 hours) by a stable hash of the id,
 * so accounts connected together are not all checked in the same minute.
 */
export function spread(id: string, intervalMs: number): number {
  const range = Math.min(intervalMs / 4, 6 * HOUR);
  if (range <= 0) return 0;
  const fraction = createHash('sha256').update(id).digest().readUInt32BE(0) / 0x1_0000_0000;
  return Math.floor(fraction * range);
}

/** Backoff after a transient failure: exponential from 1 minute, capped at 6 hours, with jitter. */
export const BACKOFF_BASE_MS = MINUTE;
export const BACKOFF_CAP_MS = 6 * HOUR;

export function transientBackoffMs(failureCount: number, random: () => number = Math.random): number {
  const exponential = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failureCount - 1));
  // "Equal jitter": half fixed, half random, so retries spread out yet never come back too soon.
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

/** A throttled call whose provider named no wait: try again after an hour. */
export const DEFAULT_THROTTLE_BACKOFF_MS = HOUR;

export type LifecycleOutcome =
  'ok' | 'token_invalid' | 'permission_missing' | 'throttled' | 'unavailable' | 'token_unreadable' | 'expired';
