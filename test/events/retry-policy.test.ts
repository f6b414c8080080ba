import { afterFailure, MAX_RETRY_DELAY_MS, retryDelayMs } from '../../src/events/retry-policy';
import { DAY, HOUR, SECOND } from '../../src/shared/clock';

/** The backoff of failed deliveries: pure functions of the attempt count, the settings and a random draw. */
describe('event retry policy', () => {
  const settings = { retryBaseMs: 30 * SECOND, retryForMs: 3 * DAY };

  it('when attempts fail, then the wait starts at the base and doubles, up to the cap', () => {
    const waits = [1, 2, 3, 4, 12, 40].map((attempts) => retryDelayMs(attempts, settings.retryBaseMs, () => 0));
    expect(waits).toEqual([
      30 * SECOND,
      60 * SECOND,
      120 * SECOND,
      240 * SECOND,
      MAX_RETRY_DELAY_MS,
      MAX_RETRY_DELAY_MS,
    ]);
  });

  it('when jitter is drawn, then it only lengthens the wait, by up to a quarter', () => {
    expect(retryDelayMs(1, settings.retryBaseMs, () => 0.999_999)).toBeLessThanOrEqual(37.5 * SECOND);
    expect(retryDelayMs(1, settings.retryBaseMs, () => 0.5)).toBe(33.75 * SECOND);
  });

  it('when the base is longer than the cap, then the base is the wait', () => {
    expect(retryDelayMs(5, DAY, () => 0)).toBe(DAY);
  });

  it('when an event nears three days, then its last retry is at the limit and a failure there gives it up', () => {
    const createdAt = 0;
    expect(afterFailure({ createdAt, attempts: 3 }, HOUR, settings, () => 0)).toEqual({ retryAt: HOUR + 120 * SECOND });
    expect(afterFailure({ createdAt, attempts: 20 }, 3 * DAY - HOUR, settings, () => 0)).toEqual({ retryAt: 3 * DAY });
    expect(afterFailure({ createdAt, attempts: 21 }, 3 * DAY, settings, () => 0)).toEqual({ giveUp: true });
  });
});
