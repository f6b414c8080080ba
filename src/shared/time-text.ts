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

/**
 * Formatting through Intl is the costly part of a status page's times, and a page shows the same few
 * texts on every view: the same instants (which show to the minute) and the same "in 59 days". Texts are
 * kept by what they depend on; the whole store is dropped when it reaches its bound.
 */
const TEXT_CACHE_SIZE = 2000;
function cached<K>(store: Map<K, string>, key: K, make: () => string): string {
  let text = store.get(key);
  if (text === undefined) {
    text = make();
    if (store.size >= TEXT_CACHE_SIZE) store.clear();
    store.set(key, text);
  }
  return text;
}
const relativeTexts = new Map<string, string>();
const absoluteTexts = new Map<number, string>();

function relative(value: number, unit: 'minute' | 'hour' | 'day'): string {
  return cached(relativeTexts, `${value} ${unit}`, () => RELATIVE.format(value, unit));
}

/** Rounds to the largest unit that still says something: minutes under an hour, hours under two days. */
export function relativeTime(target: Date, now: Date): string {
  const diff = target.getTime() - now.getTime();
  const size = Math.abs(diff);
  if (size < MINUTE) return diff > 0 ? 'in less than a minute' : 'just now';
  if (size < HOUR) return relative(Math.round(diff / MINUTE), 'minute');
  if (size < 2 * DAY) return relative(Math.round(diff / HOUR), 'hour');
  return relative(Math.round(diff / DAY), 'day');
}

/** e.g. "Fri, 1 Jan 2027, 12:00 UTC". */
export function absoluteTime(date: Date): string {
  // The text shows no seconds, so every instant of one minute reads the same.
  const minute = Math.floor(date.getTime() / MINUTE);
  if (Number.isNaN(minute)) return `${ABSOLUTE.format(date)} UTC`;
  return cached(absoluteTexts, minute, () => `${ABSOLUTE.format(date)} UTC`);
}
