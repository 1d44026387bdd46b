import { describe, expect, it } from 'vitest';
import { planOverlap, runningLimit, type DagOverlap } from './dag-overlap.js';
import type { PointRecord } from './dag-schedule.js';

const at = (h: number) => new Date(Date.UTC(2026, 0, 1, h));
const point = (h: number, kind: PointRecord['kind'] = 'scheduled'): PointRecord => ({ kind, execTs: at(h), untilTs: null, count: 1 });
const kinds = (policy: DagOverlap, active: Array<'scheduled' | 'running'>, records: PointRecord[]) => {
  const p = planOverlap(policy, active.map((status, i) => ({ id: i + 1, status })), records);
  return { records: p.records.map((r) => `${r.kind}@${r.execTs.getUTCHours()}${r.count > 1 ? `x${r.count}` : ''}`), cancel: p.cancel };
};

describe('planOverlap', () => {
  it('allow: every point gets a run', () => {
    expect(kinds('allow', ['running'], [point(1), point(2)]).records).toEqual(['scheduled@1', 'scheduled@2']);
  });

  it('skip: a point is skipped while any run is active; in a caught-up batch only the first runs', () => {
    expect(kinds('skip', ['running'], [point(1)])).toEqual({ records: ['skipped@1'], cancel: [] });
    expect(kinds('skip', [], [point(1, 'caught_up'), point(2, 'caught_up'), point(3)]).records).toEqual(['caught_up@1', 'skipped@2x2']);
  });

  it('bufferOne: one run waits behind the active one; more are skipped', () => {
    expect(kinds('bufferOne', ['running'], [point(1), point(2)]).records).toEqual(['scheduled@1', 'skipped@2']);
    expect(kinds('bufferOne', ['running', 'scheduled'], [point(1)]).records).toEqual(['skipped@1']);
    expect(kinds('bufferOne', [], [point(1), point(2), point(3)]).records).toEqual(['scheduled@1', 'scheduled@2', 'skipped@3']);
  });

  it('cancelOther: the active runs are cancelled and only the last point of a batch runs', () => {
    expect(kinds('cancelOther', ['running', 'scheduled'], [point(1)])).toEqual({ records: ['scheduled@1'], cancel: [1, 2] });
    expect(kinds('cancelOther', [], [point(1), point(2)])).toEqual({ records: ['skipped@1', 'scheduled@2'], cancel: [] });
    // nothing due that gets a run: nothing is cancelled
    expect(kinds('cancelOther', ['running'], [point(1, 'skipped')])).toEqual({ records: ['skipped@1'], cancel: [] });
  });

  it('only allow runs several at once', () => {
    expect(runningLimit('allow', 16)).toBe(16);
    expect(runningLimit('skip', 16)).toBe(1);
    expect(runningLimit('bufferOne', 16)).toBe(1);
    expect(runningLimit('cancelOther', 16)).toBe(1);
  });
});

describe('the overlap option of a DAG definition', () => {
  it('defaults to allow; an unknown policy is a validation error naming overlap', async () => {
    const { validateDag } = await import('./dag-input.js');
    expect(validateDag({ id: 'd', tasks: [{ id: 'a' }] }).overlap).toBe('allow');
    expect(validateDag({ id: 'd', overlap: 'cancelOther', tasks: [{ id: 'a' }] }).overlap).toBe('cancelOther');
    expect(() => validateDag({ id: 'd', overlap: 'sometimes' as never, tasks: [{ id: 'a' }] })).toThrow(/^overlap: /);
  });
});
