/**
 * Times as people read them on a page: relative to the injected clock's "now" ("in 59 days",
 * "3 hours ago") and absolute in UTC, because the server cannot know the reader's time zone and a
 * page without JavaScript cannot ask. Both are English, like the rest of the pages.
 */
const RELATIVE = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const ABSOLUTE = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC',
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Rounds to the largest unit that still says something: minutes under an hour, hours under two days. */
export function relativeTime(target: Date, now: Date): string {
  const diff = target.getTime() - now.getTime();
  const size = Math.abs(diff);
  if (size < MINUTE) return diff > 0 ? 'in less than a minute' : 'just now';
  if (size < HOUR) return RELATIVE.format(Math.round(diff / MINUTE), 'minute');
  if (size < 2 * DAY) return RELATIVE.format(Math.round(diff / HOUR), 'hour');
  return RELATIVE.format(Math.round(diff / DAY), 'day');
}

/** e.g. "Fri, 1 Jan 2027, 12:00 UTC". */
export function absoluteTime(date: Date): string {
  return `${ABSOLUTE.format(date)} UTC`;
}
