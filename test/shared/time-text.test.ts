import { absoluteTime, relativeTime } from '../../src/shared/time-text';

const now = new Date(Date.UTC(2026, 10, 1, 12, 0, 0));
const at = (ms: number) => new Date(now.getTime() + ms);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('times for people', () => {
  it.each([
    [0, 'just now'],
    [-30_000, 'just now'],
    [30_000, 'in less than a minute'],
    [5 * MINUTE, 'in 5 minutes'],
    [-5 * MINUTE, '5 minutes ago'],
    [3 * HOUR, 'in 3 hours'],
    [30 * HOUR, 'in 30 hours'],
    [-3 * DAY, '3 days ago'],
    [5183944 * 1000, 'in 60 days'],
  ])('when the time is %d ms from now, then it reads "%s"', (offset, text) => {
    expect(relativeTime(at(offset), now)).toBe(text);
  });

  it('when a time is shown absolutely, then it is in UTC and says so', () => {
    expect(absoluteTime(at(5183944 * 1000))).toBe('Thu, 31 Dec 2026, 11:59 UTC');
    expect(absoluteTime(new Date(Date.UTC(2027, 0, 3, 0, 5)))).toBe('Sun, 3 Jan 2027, 00:05 UTC');
  });

  it('when times are shown again and again, then each reads as it did the first time, to the minute', () => {
    const start = Date.UTC(2027, 0, 3, 0, 5);
    for (let pass = 0; pass < 2; pass++) {
      expect(absoluteTime(new Date(start))).toBe('Sun, 3 Jan 2027, 00:05 UTC');
      expect(absoluteTime(new Date(start + 59_999))).toBe('Sun, 3 Jan 2027, 00:05 UTC');
      expect(absoluteTime(new Date(start + 60_000))).toBe('Sun, 3 Jan 2027, 00:06 UTC');
      expect(absoluteTime(new Date(start - 1))).toBe('Sun, 3 Jan 2027, 00:04 UTC');
      expect(relativeTime(at(3 * DAY), now)).toBe('in 3 days');
      expect(relativeTime(at(-3 * DAY), now)).toBe('3 days ago');
      expect(relativeTime(at(-3 * HOUR), now)).toBe('3 hours ago');
    }
  });
});
