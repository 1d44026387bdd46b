/**
 * The latency bench compares instants read in two processes, each on a wall clock it anchors: the
 * wall clock at the edge of a millisecond minus the monotonic clock just after. A reading interrupted
 * between the two clocks comes out small by the interruption, so the anchor is the largest of several.
 */
import { describe, expect, it } from 'vitest';
import { largestAnchor } from '../../bench/systems/system.js';

/** A machine whose wall clock runs 1000 ms ahead of its monotonic clock, read in steps of 10 µs. */
function machine(interruptions: number[]) {
  let t = 5.003; // monotonic ms
  let readings = 0;
  return {
    wall: () => {
      t += 0.01;
      return Math.floor(t + 1000);
    },
    mono: () => {
      t += interruptions[readings++] ?? 0; // descheduled right after the millisecond changed
      return t;
    },
  };
}

describe('the latency clock anchor', () => {
  it('is exact to the clocks\u2019 step when no reading is interrupted', () => {
    const m = machine([]);
    expect(largestAnchor(m.wall, m.mono, 7)).toBeCloseTo(1000, 1);
  });

  it('ignores readings interrupted between the two clocks, and one reading alone does not', () => {
    const one = machine([1.4]);
    expect(largestAnchor(one.wall, one.mono, 1)).toBeLessThan(999); // 1.4 ms off
    const m = machine([1.4, 0.6, 0, 2]);
    expect(largestAnchor(m.wall, m.mono, 7)).toBeCloseTo(1000, 1);
  });
});
