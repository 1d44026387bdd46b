import { describe, expect, it } from 'vitest';
import { MAX_WORKER_TYPES, WORKER_KEEP_MS, workerInfo, workerPruneBefore } from './worker-registry.js';

const ok = { id: 'vm:1:abc', host: 'vm', pid: 1, types: ['b', 'a', 'b'], concurrency: 4 };

describe('worker registry', () => {
  it('takes a worker as it describes itself, types deduplicated and sorted', () => {
    expect(workerInfo(ok)).toEqual({ id: 'vm:1:abc', host: 'vm', pid: 1, types: ['a', 'b'], concurrency: 4 });
    expect(workerInfo({ ...ok, types: [] }).types).toEqual([]);
    // A worker serving a large catalogue registers every type (a cap of 1,000 kept such a worker out of the registry: stale while alive).
    const many = Array.from({ length: 2500 }, (_, i) => `t${String(i).padStart(4, '0')}`);
    expect(workerInfo({ ...ok, types: many }).types).toEqual(many);
    expect(() => workerInfo({ ...ok, types: Array.from({ length: MAX_WORKER_TYPES + 1 }, (_, i) => `t${i}`) })).toThrow(/^types: must be a list of at most 100000 task type names/);
  });

  it('names the field of a bad description', () => {
    const bad: Array<[unknown, RegExp]> = [
      [null, /a worker must be an object/],
      [{ ...ok, id: '' }, /^id: must be a non-empty string/],
      [{ ...ok, id: 'x'.repeat(201) }, /^id: /],
      [{ ...ok, host: 'a\u0000b' }, /^host: must not contain NUL/],
      [{ ...ok, pid: -1 }, /^pid: must be an integer from 0 to 2147483647/],
      [{ ...ok, pid: 2 ** 31 }, /^pid: must be an integer from 0 to 2147483647/],
      [{ ...ok, concurrency: 2 ** 40 }, /^concurrency: must be an integer from 1 to 2147483647/],
      [{ ...ok, concurrency: 0 }, /^concurrency: must be an integer from 1 to 2147483647/],
      [{ ...ok, types: 'a' }, /^types: must be a list/],
      [{ ...ok, types: ['a', 7] }, /^types\[1\]: must be a task type name/],
      [{ ...ok, name: 'x' }, /^name: unknown field/],
    ];
    for (const [input, message] of bad) expect(() => workerInfo(input)).toThrow(message);
  });

  it('prunes rows last seen more than a week before a registration', () => {
    const at = new Date('2026-01-08T00:00:00Z');
    expect(workerPruneBefore(at)).toEqual(new Date('2026-01-01T00:00:00Z'));
    expect(WORKER_KEEP_MS).toBe(7 * 86_400_000);
  });
});
