import { describe, expect, it } from 'vitest';
import { stopNote } from './daemon-lifecycle.js';

describe('stopNote: what the line of a stop past its bound says the bound was made of', () => {
  it("a worker's grace and abandons; a runner's alerts; without a worker, the loops' passes and no runs held (worker/runner audit: a runner named a grace it has not)", () => {
    expect(stopNote(true, false)).toEqual({ bound: 'the grace, then one lease for the abandons', after: 'the runs still held end lost when their leases run out' });
    expect(stopNote(true, true)).toEqual({ bound: 'the grace, then one lease for the abandons, and its task alerts', after: 'the runs still held end lost when their leases run out' });
    expect(stopNote(false, true)).toEqual({ bound: 'its passes in progress, and its task alerts', after: null });
    expect(stopNote(false, false)).toEqual({ bound: 'its passes in progress', after: null });
  });
});
