import { absoluteTime, relativeTime } from '../../src/shared/time-text';
import { round } from '../support/child-process';
import { median } from '../support/stats';

/**
 * `node dist/bench/micro/time-text.js`: the CPU a status page's times cost. A page of three connections
 * formats fifteen instants, relative to now and absolute, and the same instants come back on every view
 * of that page; this formats such a page's instants over and over and gives microseconds per page.
 */
const PAGES = Number(process.env.MICRO_PAGES ?? '20000');
const ROUNDS = 9;
const now = Date.now();
const DAY = 86_400_000;
// Five dates per connection (connected, token issued, expires, next action, last check), three connections.
const instants = Array.from({ length: 15 }, (_, i) => now + ((i % 5) - 2) * 17 * DAY + i * 3_600_123);

const perPage: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const start = process.cpuUsage();
  let length = 0;
  for (let p = 0; p < PAGES; p++) {
    const at = new Date(now + p);
    for (const instant of instants) {
      const date = new Date(instant);
      length += relativeTime(date, at).length + absoluteTime(date).length;
    }
  }
  const used = process.cpuUsage(start);
  if (length === 0) throw new Error('nothing formatted');
  if (r > 0) perPage.push(((used.user + used.system) / PAGES) * 1);
}
process.stdout.write(
  `times of one status page (15 instants): ${round(median(perPage), 2)} µs CPU, rounds ${perPage.map((v) => round(v, 1)).join(' ')}\n`,
);
