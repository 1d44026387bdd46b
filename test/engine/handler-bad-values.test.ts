/**
 * A handler that returns or throws a value that cannot be read (cyclic, a bigint, a throwing getter,
 * a throw whose conversion to text throws) ends its run `failed` naming why (docs/guide.md, what a
 * handler returns), and the worker goes on: such a value crashed the process, with every run in flight.
 */
import { describe, expect, it } from 'vitest';
import { Worker } from '../../src/engine/worker.js';
import { RetryAfter, ValidationError } from '../../src/core/errors.js';
import type { Handler } from '../../src/worker/handlers.js';
import type { Task, TaskRun } from '../../src/core/model.js';
import type { Orrery } from '../../src/engine/service.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

/** Runs one one-shot task per handler (no retries) on an inline worker; resolves with each type's last run once all ended, the worker still running. */
async function runEach(orrery: Orrery, handlers: Record<string, Handler>, concurrency: number): Promise<{ byType: Record<string, TaskRun>; tasks: Task[]; worker: Worker }> {
  for (const name of Object.keys(handlers)) await orrery.createTaskType({ name, numRetries: 0 });
  const tasks = await orrery.createTasks(Object.keys(handlers).map((type) => ({ type, policy: 'oneshot' as const, arguments: { args: [], kwargs: {} } })));
  const worker = new Worker(orrery, { handlers, id: 'w', concurrency, registry: false });
  worker.start();
  try {
    const ended = await waitFor(async () => {
      const runs = await Promise.all(tasks.map(async (t) => (await orrery.getTaskWithRuns(t.id))!.runs.at(-1)));
      return runs.every((r) => r?.ended) ? runs : null;
    }, 'every run to end');
    return { byType: Object.fromEntries(ended.map((r) => [r!.type, r!])), tasks, worker };
  } catch (e) {
    await worker.stop(1000);
    throw e;
  }
}


describe('a handler value that cannot be read', () => {
  const setup = useTempOrrery();

  it('ends its run failed and leaves the worker and the other runs alone', async () => {
    const { orrery } = await setup();
    const cyclic = () => {
      const o: Record<string, unknown> = { status: 200 };
      o.self = o;
      return o;
    };
    // Typed loosely: these handlers break the Handler type on purpose, as plain JavaScript handlers can.
    const handlers: Record<string, Handler> = {
      cyclic: (async () => cyclic()) as unknown as Handler,
      bigint: (async () => 10n) as unknown as Handler,
      getter: async () => ({
        get eventful(): boolean {
          throw new Error('no eventful here');
        },
      }),
      'bad-throw': async () => {
        throw { toString: () => { throw new Error('no text either'); } };
      },
      ok: async () => (await new Promise((r) => setTimeout(r, 100)), true),
    };
    // The slow one starts with the others, so it is in flight when they settle.
    const { byType, worker } = await runEach(orrery, handlers, 5);
    try {
      expect(byType.ok).toMatchObject({ status: 'eventful' });
      expect(byType.cyclic).toMatchObject({ status: 'failed', error: expect.stringMatching(/^handler returned \[object Object\] \(not JSON\); expected/) });
      expect(byType.bigint).toMatchObject({ status: 'failed', error: expect.stringMatching(/^handler returned a bigint; expected/) });
      expect(byType.getter).toMatchObject({ status: 'failed', error: expect.stringMatching(/^handler returned a value that could not be read \(no eventful here\)/) });
      // A thrown value whose text cannot be read is said to be so (it was stored as 'Error: [object Object]').
      expect(byType['bad-throw']).toMatchObject({ status: 'failed', error: 'handler threw a value that could not be read (no text either)' });
      expect(worker.state).toBe('running');
    } finally {
      await worker.stop(1000);
    }
  });
});

describe('handlers that misbehave with what they are given or return (inline)', () => {
  const setup = useTempOrrery();

  it("a result whose toJSON answers differently the second time, a handler changing its run, huge results and errors, odd log attributes: each harms only its own run", async () => {
    const { orrery } = await setup();
    let calls = 0;
    const handlers: Record<string, Handler> = {
      innocent: async () => ({ eventful: true, result: { innocent: true } }),
      // JSON once, then throwing: judged (and written) once, when the handler returned, never again at its end.
      fickle: async () => ({ eventful: true, result: { toJSON: () => (++calls > 1 ? (() => { throw new Error('second toJSON'); })() : { first: true }) } }),
      // Changing the run it was given changes neither which run ends nor how.
      'mutates-run': async ({ run }) => {
        (run as { id: number }).id = 1;
        (run as { started: unknown }).started = '2020-01-01';
        run.metadata['orrery.givenBack'] = 42;
        return { eventful: false, result: { wrote: 'by mutates-run' } };
      },
      huge: async () => ({ eventful: true, result: { blob: 'x'.repeat(3 * 1024 * 1024) } }),
      'long-error': async () => {
        throw new Error('y'.repeat(200_000));
      },
      // What a Date's own toJSON writes is checked as written: text with a NUL fails this run alone.
      'date-nul': async () => {
        const d = new Date();
        (d as unknown as { toJSON: () => string }).toJSON = () => 'a\u0000b';
        return { eventful: true, result: { d } };
      },
      'proxy-log': async ({ log }) => {
        log('info', 'proxy', new Proxy({}, { get() { throw new Error('trap'); } }) as Record<string, unknown>);
        return true;
      },
      'throws-string': async () => {
        throw 'plain text';
      },
      'odd-logs': async ({ log }) => {
        log('info', 'step 1');
        log('info', 'a date', new Date('2026-01-02T03:04:05Z') as unknown as Record<string, unknown>);
        log('info', 'an array', [1, 2, 3] as unknown as Record<string, unknown>);
        log('info', 'a proto key', JSON.parse('{"__proto__":{"x":1},"y":2}') as Record<string, unknown>);
        log('info', 'a bigint', { n: 10n, s: 'x' });
        log('info', 'step 3', { ok: true });
        return true;
      },
    };
    const { byType, tasks, worker } = await runEach(orrery, handlers, 10);
    try {
      expect(byType.innocent).toMatchObject({ status: 'eventful', result: { innocent: true } });
      expect(byType.fickle).toMatchObject({ status: 'failed', error: 'handler result is not JSON: second toJSON' });
      expect(byType['mutates-run']).toMatchObject({ status: 'uneventful', result: { wrote: 'by mutates-run' } });
      expect(byType['mutates-run']!.metadata).not.toHaveProperty('orrery.givenBack');
      expect(byType['mutates-run']!.started).toBeInstanceOf(Date);
      expect(byType.huge).toMatchObject({ status: 'failed', error: `handler result is too large: ${3 * 1024 * 1024 + 11} bytes of JSON, at most 2097152 (2 MiB)` });
      expect(byType['long-error']!.status).toBe('failed');
      expect(byType['long-error']!.error!.length).toBeLessThanOrEqual(64 * 1024);
      expect(byType['long-error']!.error).toMatch(/^Error: y+\n… \(\d+ characters left out\) …\n/);
      expect(byType['throws-string']).toMatchObject({ status: 'failed', error: 'Error: plain text' });
      expect(byType['date-nul']).toMatchObject({ status: 'failed', error: expect.stringMatching(/^handler result is not JSON: result\.d: must not contain NUL/) });
      expect(byType['proxy-log']).toMatchObject({ status: 'eventful' });
      expect((await orrery.getRunLogs(byType['proxy-log']!.backendId)).map((l) => l.attributes)).toEqual([{ unserialisable: 'an unreadable value' }]);
      for (const t of tasks) expect((await orrery.getTask(t.id))!.status).not.toBe('next_run_scheduled');
      const logs = await orrery.getRunLogs(byType['odd-logs']!.backendId);
      expect(logs.map((l) => [l.message, l.attributes])).toEqual([
        ['step 1', {}],
        ['a date', { value: '2026-01-02T03:04:05.000Z' }],
        ['an array', { value: [1, 2, 3] }],
        ['a proto key', { unserialisable: '{"__proto__":{"x":1},"y":2}' }],
        // As Node prints it (it was '[object Object]': run data audit).
        ['a bigint', { unserialisable: "{ n: 10n, s: 'x' }" }],
        ['step 3', { ok: true }],
      ]);
      expect(worker.state).toBe('running');
    } finally {
      await worker.stop(1000);
    }
  });

  it('a throttle that is no boolean is not read as false: RetryAfter refuses it, a result or a RetryAfter of another make carrying one fails the run saying so', async () => {
    // guide.md: "A flag given as anything but a boolean (... throttle ...) is a ValidationError naming
    // it, not read as true"; RetryAfter took { throttle: 'yes' } as false and ignored misspelt options.
    expect(() => new RetryAfter(5, { message: 'x', throttle: 'yes' as unknown as boolean })).toThrow(ValidationError);
    expect(() => new RetryAfter(5, { message: 'x', throttle: 'yes' as unknown as boolean })).toThrow('RetryAfter: throttle: must be a boolean');
    expect(() => new RetryAfter(5, { msg: 'x' } as never)).toThrow('RetryAfter: msg: unknown option');
    expect(() => new RetryAfter(5, { message: 5 } as never)).toThrow('RetryAfter: message: must be a string');
    expect(new RetryAfter(5, { message: 'm', throttle: true })).toMatchObject({ message: 'm', throttle: true, delayMs: 5 });
    expect(new RetryAfter(5, 'plain')).toMatchObject({ message: 'plain', throttle: false });
    const { orrery } = await setup();
    const handlers: Record<string, Handler> = {
      result: (async () => ({ eventful: true, throttle: 'yes' })) as unknown as Handler,
      foreign: async () => {
        throw Object.assign(new Error('slow down'), { name: 'RetryAfter', delayMs: 1000, throttle: 1 });
      },
      fine: async () => ({ eventful: true, throttle: true }),
    };
    const { byType, worker } = await runEach(orrery, handlers, 3);
    try {
      expect(byType.result).toMatchObject({ status: 'failed', error: 'handler returned a throttle of "yes"; it must be a boolean' });
      expect(byType.foreign).toMatchObject({ status: 'failed', error: expect.stringMatching(/\(its RetryAfter delay was not used: its throttle of 1 must be a boolean\)$/) });
      expect(byType.fine).toMatchObject({ status: 'eventful' });
    } finally {
      await worker.stop(1000);
    }
  });
});
