import { timeOrderedId } from '../../src/shared/time-ordered-id';

describe('time-ordered ids (UUID version 7)', () => {
  const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('when made, then it is a version 7 UUID whose first 48 bits are the given milliseconds', () => {
    const at = Date.UTC(2026, 10, 30, 12, 0, 0, 123);
    const id = timeOrderedId(at);
    expect(id).toMatch(SHAPE);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });

  it('when made at later times, then the ids sort in time order; at the same time they still differ', () => {
    const times = [1, 2, 1000, 1_700_000_000_000, 1_800_000_000_000];
    const ids = times.map((t) => timeOrderedId(t));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(Array.from({ length: 100 }, () => timeOrderedId(5))).size).toBe(100);
  });
});
