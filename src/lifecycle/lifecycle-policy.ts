import { createHash } from 'node:crypto';
import type { LifecycleConfig } from '../config/config';
import type { ConnectionRow } from '../connections/connections.table';
import { HOUR, MINUTE } from '../shared/clock';

/**
 * What to do with a connection, and when: pure functions of (connection, now). The keeper, the status
 * page and the CLI all ask these, so they never disagree about the schedule.
 *
 * Instagram's rules (../shared/docs/instagram-platform.md): a long-lived token can be refreshed only while
 * it is valid AND at least 24 hours old; an expired token can never be refreshed (the person must connect
 * again). We refresh inside a window before expiry (default 10 days), which leaves many chances to retry.
 */
export const MIN_REFRESH_AGE_MS = 24 * HOUR;

export type LifecycleSettings = Pick<LifecycleConfig, 'refreshWindowMs' | 'validateIntervalMs'>;

export interface LifecycleState {
  id: string;
  status: 'active' | 'needs_reconnect';
  tokenIssuedAt: number;
  tokenExpiresAt: number;
  lastValidatedAt: number | null;
  backoffUntil: number | null;
}

/** The policy's view of a stored connection. */
export function lifecycleState(row: ConnectionRow): LifecycleState {
  return {
    id: row.id,
    status: row.status,
    tokenIssuedAt: Number(row.token_issued_at),
    tokenExpiresAt: Number(row.token_expires_at),
    lastValidatedAt: row.last_validated_at === null ? null : Number(row.last_validated_at),
    backoffUntil: row.backoff_until === null ? null : Number(row.backoff_until),
  };
}

export type PlannedAction = { kind: 'refresh' | 'validate' | 'expire'; at: number } | { kind: 'none' };

const PRIORITY = { expire: 0, refresh: 1, validate: 2 } as const;
type Kind = keyof typeof PRIORITY;

/** Everything planned for this connection, each at its time (backoff applied). */
function plannedActions(state: LifecycleState, settings: LifecycleSettings): { kind: Kind; at: number }[] {
  if (state.status !== 'active') return [];
  const candidates: { kind: Kind; at: number }[] = [{ kind: 'expire', at: state.tokenExpiresAt }];
  const refreshAt = Math.max(state.tokenIssuedAt + MIN_REFRESH_AGE_MS, state.tokenExpiresAt - settings.refreshWindowMs);
  if (refreshAt < state.tokenExpiresAt) candidates.push({ kind: 'refresh', at: refreshAt });
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
export function planNext(state: LifecycleState, settings: LifecycleSettings): PlannedAction {
  const [first] = plannedActions(state, settings).sort((a, b) => a.at - b.at || PRIORITY[a.kind] - PRIORITY[b.kind]);
  return first ?? { kind: 'none' };
}

/**
 * What to do right now. When several actions are due, expiry beats refresh and refresh beats validation:
 * a refresh renews the token and proves it works, so an overdue check need not run first.
 */
export function decide(state: LifecycleState, now: number, settings: LifecycleSettings): Kind | 'wait' {
  if (state.status !== 'active') return 'wait';
  if (now >= state.tokenExpiresAt) return 'expire';
  const [first] = plannedActions(state, settings)
    .filter((c) => c.at <= now)
    .sort((a, b) => PRIORITY[a.kind] - PRIORITY[b.kind]);
  return first?.kind ?? 'wait';
}

/** The next time a keeper should look at this connection (the indexed `next_action_at`), or null. */
export function nextActionAt(state: LifecycleState, settings: LifecycleSettings): number | null {
  const next = planNext(state, settings);
  return next.kind === 'none' ? null : next.at;
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

/** Without a usage header, a throttled app waits out Meta's one-hour rolling window. */
export const DEFAULT_THROTTLE_BACKOFF_MS = HOUR;

export type LifecycleOutcome =
  'ok' | 'token_invalid' | 'permission_missing' | 'throttled' | 'unavailable' | 'token_unreadable' | 'expired';

/** Graph error 190 subcodes, in words for the status page. */
export function reconnectReason(subcode: number | undefined): string {
  switch (subcode) {
    case 458:
      return 'app_removed';
    case 460:
      return 'password_changed';
    case 463:
      return 'expired';
    case 467:
      return 'revoked';
    default:
      return 'invalid';
  }
}
