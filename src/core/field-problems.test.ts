import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { problemsByField } from './field-problems.js';
import { editTaskType } from './task-type-edit.js';
import { validateTaskType } from './validation.js';

const LABELS = { defaultIntervalMs: 'Default interval', minIntervalMs: 'Min interval', maxIntervalMs: 'Max interval', leaseMs: 'Lease', fairShare: 'Fair shares', fifoPerKey: 'FIFO per key' };

function refused(edit: object): ValidationError {
  try {
    editTaskType(validateTaskType({ name: 'greet', defaultIntervalMs: '1h' }), edit);
  } catch (e) {
    return e as ValidationError;
  }
  throw new Error('the edit was taken');
}

describe('problemsByField', () => {
  it("keeps every problem of a field in the server's order, and names fields inside messages by their labels", () => {
    const e = refused({ minIntervalMs: '2h', maxIntervalMs: '1h', leaseMs: '5ms' });
    expect(e.message).toBe('minIntervalMs: must be <= maxIntervalMs (and 2 more problems)');
    expect(problemsByField(e.details, LABELS)).toEqual({
      fields: { minIntervalMs: ['must be <= Max interval', 'must be <= Default interval'], leaseMs: ['must be at least 1s'] },
      other: [],
    });
  });

  it('names a problem inside a field by its place in it, and keeps the problems of no field apart with their path', () => {
    const e = refused({ fairShare: { weights: { 'tenant-a': 0, 'tenant-b': 0 } } });
    expect(problemsByField(e.details, LABELS).fields).toEqual({ fairShare: ['weights.tenant-a: must be at least 1', 'weights.tenant-b: must be at least 1'] });
    expect(problemsByField([{ path: '', message: 'nothing to change' }, { path: 'backendName', message: 'cannot be changed' }], LABELS)).toEqual({
      fields: {},
      other: ['nothing to change', 'backendName: cannot be changed'],
    });
    // Only whole field names are relabelled.
    expect(problemsByField([{ path: 'fairShare.weights', message: 'have no effect with fifoPerKey (not fifoPerKeys)' }], LABELS).fields).toEqual({
      fairShare: ['weights: have no effect with FIFO per key (not fifoPerKeys)'],
    });
  });

  it('a bound the edit leaves as it is says its value (a type given only its default interval got its bounds from it)', () => {
    expect(refused({ defaultIntervalMs: '2h' }).details).toEqual([{ path: 'maxIntervalMs', message: 'must be >= defaultIntervalMs (it is 1h: change it in the same edit)' }]);
    expect(refused({ defaultInterval: '30m' }).details).toEqual([{ path: 'minInterval', message: 'must be <= defaultInterval (it is 1h: change it in the same edit)' }]);
    // A bound given in the edit is named as before.
    expect(refused({ defaultIntervalMs: '2h', maxIntervalMs: '90m' }).details).toEqual([{ path: 'maxIntervalMs', message: 'must be >= defaultIntervalMs' }]);
  });
});
