import { Keeper } from '../../src/lifecycle/keeper';
import type { Container } from '../../src/main/container';

/** One keeper sweep over the container's database, at the concurrency the bench asks for, timed. */
export async function timedSweep(container: Container, concurrency: unknown) {
  const { connections, lifecycle, clock, logger, config } = container;
  const settings = { ...config.lifecycle, concurrency: Number(concurrency ?? config.lifecycle.concurrency) };
  const keeper = new Keeper({ connections, lifecycle, clock, logger, settings });
  const started = performance.now();
  const summary = await keeper.sweep();
  return { ...summary, ms: performance.now() - started };
}
