import { describe, expect, it } from 'vitest';
import { DAG_ATTEMPT_KEY } from './dag.js';
import { wakeUps, type EndedRunChange } from './wake-ups.js';

const ended = (status: EndedRunChange['task']['status'], taskUpdated = true, kwargs: Record<string, unknown> = {}): EndedRunChange => ({
  taskUpdated,
  task: { status, arguments: { kwargs } },
});

describe('wakeUps: which loops a committed change wakes', () => {
  it('tasks written wake the runner and direct claimers, unless nothing was written', () => {
    expect(wakeUps({ kind: 'tasks-written', count: 3 })).toEqual(['tasks']);
    expect(wakeUps({ kind: 'tasks-written', count: 0 })).toEqual([]);
  });

  it('queued runs and work left by the runner wake the workers', () => {
    expect(wakeUps({ kind: 'runs-queued', count: 2 })).toEqual(['runs']);
    expect(wakeUps({ kind: 'runs-queued', count: 0 })).toEqual([]);
    expect(wakeUps({ kind: 'work-left' })).toEqual(['runs']);
  });

  it('only claims that emptied queue slots wake a runner waiting for room', () => {
    expect(wakeUps({ kind: 'runs-claimed', fromQueue: 1 })).toEqual(['claimed']);
    expect(wakeUps({ kind: 'runs-claimed', fromQueue: 0 })).toEqual([]);
  });

  it('disabling frees queue slots and stops started runs', () => {
    expect(wakeUps({ kind: 'tasks-disabled', stopping: 0 })).toEqual(['claimed']);
    expect(wakeUps({ kind: 'tasks-disabled', stopping: 2 })).toEqual(['claimed', 'cancel']);
    expect(wakeUps({ kind: 'cancel-requested' })).toEqual(['cancel']);
  });

  it('ends wake the runner only for tasks to schedule again, the DAG scheduler for DAG attempts', () => {
    expect(wakeUps({ kind: 'runs-ended', results: [] })).toEqual([]);
    expect(wakeUps({ kind: 'runs-ended', results: [ended('completed')] })).toEqual(['ended']);
    expect(wakeUps({ kind: 'runs-ended', results: [ended('next_run_not_scheduled', false)] })).toEqual(['ended']);
    expect(wakeUps({ kind: 'runs-ended', results: [ended('completed'), ended('next_run_not_scheduled')] })).toEqual(['tasks', 'ended']);
    expect(wakeUps({ kind: 'runs-ended', results: [ended('completed', true, { [DAG_ATTEMPT_KEY]: {} })] })).toEqual(['ended', 'dags']);
    expect(wakeUps({ kind: 'runs-ended', results: [ended('completed')], leftQueue: true })).toEqual(['ended', 'claimed']);
    expect(wakeUps({ kind: 'dags-changed' })).toEqual(['dags']);
  });
});
