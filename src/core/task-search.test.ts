import { describe, expect, it } from 'vitest';
import { bulkSelection } from './bulk.js';
import { lowerAscii, searchPath, taskPage, taskSearch } from './task-search.js';

describe('task search', () => {
  it('reads a page from the index its equality filters name, bounded when other filters are checked', () => {
    const path = (input: Parameters<typeof taskSearch>[0]) => searchPath(taskSearch(input));
    expect(path({})).toEqual({ index: 'id', statuses: [], bounded: false });
    expect(path({ type: 't' })).toEqual({ index: 'type_status', statuses: ['next_run_not_scheduled', 'next_run_scheduled', 'completed', 'disabled'], bounded: false });
    expect(path({ type: 't', status: 'disabled,completed' })).toMatchObject({ index: 'type_status', statuses: ['disabled', 'completed'], bounded: false });
    expect(path({ status: ['disabled'], args: 'x' })).toMatchObject({ index: 'status', bounded: true });
    expect(path({ disabledReason: 'dead_letter' })).toMatchObject({ index: 'status', statuses: ['disabled'], bounded: true });
    expect(path({ concurrencyKey: 'k' })).toMatchObject({ index: 'concurrency_key', bounded: false });
    expect(path({ concurrencyKey: 'k', type: 't' })).toMatchObject({ index: 'concurrency_key', bounded: true });
    expect(path({ ids: [3, 1], priority: 'high' })).toMatchObject({ index: 'ids', bounded: false });
    expect(path({ nextRunBefore: '2026-01-01T00:00:00Z' })).toMatchObject({ index: 'id', bounded: true });
    // Paused tasks come from their own partial index (few rows), before the type's and the status's; not paused is checked on rows.
    expect(path({ paused: true })).toEqual({ index: 'paused', statuses: [], bounded: false });
    expect(path({ paused: true, type: 't' })).toEqual({ index: 'paused', statuses: [], bounded: false });
    expect(path({ paused: true, status: 'disabled' })).toMatchObject({ index: 'paused', bounded: true });
    expect(path({ paused: true, concurrencyKey: 'k' })).toMatchObject({ index: 'concurrency_key', bounded: true });
    expect(path({ paused: false })).toMatchObject({ index: 'id', bounded: true });
    expect(path({ paused: false, type: 't' })).toMatchObject({ index: 'type_status', bounded: true });
    expect(() => taskSearch({ paused: 'no' as never })).toThrow(/paused: must be true or false/);
  });

  it('a disabled reason implies the status disabled; contradictions match nothing', () => {
    expect(taskSearch({ disabledReason: 'manual' }).statuses).toEqual(['disabled']);
    expect(taskSearch({ disabledReason: 'manual', status: 'completed' }).statuses).toEqual([]);
  });

  it('pages: a full page goes on after its last task, a page stopped at the scan bound after the bound', () => {
    const s = taskSearch({ limit: 2, args: 'x' });
    expect(taskPage(s, { tasks: [{ id: 4 }, { id: 9 }], scanEnd: null })).toEqual({ tasks: [{ id: 4 }, { id: 9 }], nextCursor: '9', partial: false });
    expect(taskPage(s, { tasks: [{ id: 4 }], scanEnd: 10_004 })).toEqual({ tasks: [{ id: 4 }], nextCursor: '10004', partial: true });
    expect(taskPage(s, { tasks: [], scanEnd: null })).toEqual({ tasks: [], nextCursor: null, partial: false });
  });

  it('folds ASCII letters only, as both stores do', () => {
    expect(lowerAscii('GitHub.COM/ÉTÉ')).toBe('github.com/ÉtÉ');
    expect(taskSearch({ args: 'ABC', argsMatch: 'prefix' }).args).toEqual({ text: 'abc', match: 'prefix' });
  });
});

describe('bulk selections', () => {
  it('narrow the search to the statuses the action takes, the bin to failures, and leave DAG attempts out where refused', () => {
    expect(bulkSelection('cancel', taskSearch({})).statuses).toEqual(['next_run_scheduled']);
    expect(bulkSelection('disable', taskSearch({ status: 'disabled,completed' })).statuses).toEqual(['completed']);
    expect(bulkSelection('redrive', taskSearch({}))).toMatchObject({ statuses: ['disabled'], disabledReasons: ['dead_letter', 'retries_exhausted', 'permfailed'], dagAttempts: false });
    expect(bulkSelection('redrive', taskSearch({ disabledReason: 'manual,dead_letter' })).disabledReasons).toEqual(['dead_letter']);
    expect(bulkSelection('delete', taskSearch({ dagAttempts: true })).statuses).toEqual([]);
    expect(bulkSelection('respawn', taskSearch({})).statuses).toEqual(['next_run_not_scheduled', 'completed', 'disabled']);
  });
});

describe('the concurrency key filter counts characters as task creation does', () => {
  it('takes a key of 512 characters outside the BMP (1,024 UTF-16 units), refuses 513', () => {
    expect(taskSearch({ concurrencyKey: '😀'.repeat(512) }).concurrencyKey).toBe('😀'.repeat(512));
    expect(() => taskSearch({ concurrencyKey: '😀'.repeat(513) })).toThrow('concurrencyKey: must be a non-empty string of at most 512 characters');
  });
});
