import { HOUR } from '../shared/clock';

/** Retries never wait longer than this between two attempts (unless the base itself is longer). */
export const MAX_RETRY_DELAY_MS = 6 * HOUR;

/**
 * The wait after the `attempts`-th failed attempt: the base, doubled after each further failure, capped,
 * and stretched by up to a quarter at random so that the events of a receiver that came back do not all
 * arrive in the same second. Never shorter than the doubling step itself.
 */
export function retryDelayMs(attempts: number, baseMs: number, random: () => number): number {
  const doubling = baseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30);
  const step = Math.min(doubling, Math.max(baseMs, MAX_RETRY_DELAY_MS));
  return Math.round(step * (1 + 0.25 * random()));
}

/**
 * What follows a failed attempt: another one later, or giving up once the event is `retryForMs` old. The
 * last retry is placed at that limit rather than beyond it, so an event always gets its full window.
 */
export function afterFailure(
  event: { createdAt: number; attempts: number },
  now: number,
  settings: { retryBaseMs: number; retryForMs: number },
  random: () => number,
): { retryAt: number } | { giveUp: true } {
  const deadline = event.createdAt + settings.retryForMs;
  if (now >= deadline) return { giveUp: true };
  return { retryAt: Math.min(now + retryDelayMs(event.attempts, settings.retryBaseMs, random), deadline) };
}
