import { describe, expect, it } from 'vitest';
import { PermanentFailure } from '../core/errors.js';
import { dagAttemptOf, dagHandler } from './dag-handler.js';

const attempt = { dag: 'etl', version: 'v1', run: 7, task: 'extract', attempt: 1, execTs: '2026-12-01T00:00:00.000Z', params: {}, upstream: {}, timeoutMs: null };
const ctx = (kwargs: Record<string, unknown>) => ({ kwargs, signal: new AbortController().signal, heartbeat: async () => {}, log: () => {} });

describe('the orrery.dag handler', () => {
  const seen: unknown[] = [];
  const handler = dagHandler([{ id: 'etl', fn: (task: string) => (task === 'extract' ? (c: { execTs: Date }) => (seen.push(c.execTs), 42) : undefined) }]);

  it('runs the task function an attempt the DAG scheduler wrote names', async () => {
    await expect(handler(ctx({ 'orrery.dag': attempt }))).resolves.toEqual({ eventful: true, result: 42 });
    expect(seen).toEqual([new Date('2026-12-01T00:00:00.000Z')]);
  });

  it.each([
    [{ ...attempt, execTs: 'bad' }, 'execTs must be an ISO 8601 instant'],
    [{ ...attempt, upstream: null }, 'params and upstream must be objects'],
    [{ ...attempt, params: [1] }, 'params and upstream must be objects'],
    [{ ...attempt, run: '7' }, 'run and attempt must be integers'],
    [{ ...attempt, dag: 1 }, 'dag, task and version must be strings'],
    [{ ...attempt, timeoutMs: 'soon' }, 'timeoutMs must be a positive number or null'],
  ])('refuses for good a task made by hand with a malformed "orrery.dag" kwarg (%j), instead of a TypeError', async (bad, why) => {
    const e = await handler(ctx({ 'orrery.dag': bad })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PermanentFailure);
    expect((e as Error).message).toBe(`not a DAG task attempt (its "orrery.dag" kwarg was not written by the DAG scheduler: ${why})`);
    expect(dagAttemptOf({ 'orrery.dag': bad })).toBeNull();
  });

  it('refuses a run without the kwarg', async () => {
    await expect(handler(ctx({}))).rejects.toThrow('not a DAG task attempt (no "orrery.dag" kwarg)');
  });
});
