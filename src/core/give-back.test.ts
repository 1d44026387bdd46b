import { describe, expect, it } from 'vitest';
import { giveBackFate } from './give-back.js';

describe('giveBackFate', () => {
  it('queues a run given back, unless its task was disabled or paused or its cancellation was asked', () => {
    const base = { cancelRequested: false, taskStatus: 'next_run_scheduled' as const, taskPaused: false, reaped: false };
    expect(giveBackFate(base)).toBe('queue');
    expect(giveBackFate({ ...base, taskPaused: true })).toBe('take-back');
    expect(giveBackFate({ ...base, taskPaused: true, reaped: true })).toBe('withdraw'); // may have begun: kept as a loss
    expect(giveBackFate({ ...base, cancelRequested: true })).toBe('cancel');
    expect(giveBackFate({ ...base, cancelRequested: true, taskPaused: true })).toBe('cancel'); // asked to stop: it ends
    expect(giveBackFate({ ...base, taskStatus: 'disabled', cancelRequested: true, taskPaused: true })).toBe('cancel-disabled');
  });
});
