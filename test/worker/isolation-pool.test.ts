import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LogLevel, TaskRun } from '../../src/core/model.js';
import { outcomeOfError, outcomeOfResult } from '../../src/worker/handlers.js';
import { IsolatePool } from '../../src/worker/isolation/pool.js';

const FILE = join(import.meta.dirname, '..', 'fixtures', 'pool-handlers.ts');
const run: TaskRun = {
  id: 7, task: 1, type: 'echo', backendId: 'b', status: 'started', scheduled: new Date('2026-01-01T00:00:00Z'), started: new Date('2026-01-01T00:00:01Z'),
  ended: null, metadata: {}, result: null, error: null, worker: 'w', leaseExpiresAt: null, attempt: 1,
} as TaskRun;

describe.each(['thread', 'process'] as const)('IsolatePool (%s)', (mode) => {
  const pools: IsolatePool[] = [];
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.close();
  });
  const open = async () => {
    const pool = new IsolatePool({ mode, file: FILE, size: 2, maxMemoryMb: 128 });
    pools.push(pool);
    expect((await pool.warmUp()).sort()).toEqual(['echo', 'later', 'lingers', 'logs-odd', 'permanent', 'spawns-exits', 'strained', 'throttled', 'throws-in-timer', 'unreadable', 'waits']);
    return pool;
  };
  const ctx = (signal = new AbortController().signal) => {
    const logs: Array<[LogLevel, string, unknown]> = [];
    let beats = 0;
    return {
      logs,
      beats: () => beats,
      c: { args: [1, 'two'], kwargs: { k: true }, run, signal, log: (l: LogLevel, m: string, a?: Record<string, unknown>) => logs.push([l, m, a]), heartbeat: async () => void beats++ },
    };
  };

  it('runs a handler in the isolate: arguments, run, logs and heartbeats cross over', async () => {
    const pool = await open();
    const x = ctx();
    const value = await pool.run('echo', x.c);
    expect(value).toEqual({ eventful: true, result: { args: [1, 'two'], kwargs: { k: true }, runId: 7, scheduledIsDate: true } });
    expect(x.logs).toEqual([['warn', 'echoing', { n: 2 }]]);
    expect(x.beats()).toBe(1);
  });

  it('a handler process that ends by itself takes the programs its handler started with it (they were left running for good)', async () => {
    if (mode !== 'process') return; // a thread's programs belong to the worker's process, as inline
    const pool = await open();
    const pidFile = join(mkdtempSync(join(tmpdir(), 'orrery-orphan-')), 'pid');
    const x = ctx();
    await expect(pool.run('spawns-exits', { ...x.c, kwargs: { pidFile } })).rejects.toThrow('handler crashed: its process exited with code 3');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const alive = () => existsSync(`/proc/${pid}`) && !/^Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '');
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive()).toBe(false);
  });

  it('an uncaught exception while a handler runs fails that run, though the handler returns before its isolate dies; the next run is not blamed', async () => {
    const pool = await open();
    // Before: the run ended eventful, and the next run given the slot failed with the crash.
    await expect(pool.run('throws-in-timer', ctx().c)).rejects.toThrow(`handler crashed: its ${mode} exited with code 70: Error: boom in timer`);
    expect(await pool.run('echo', ctx().c)).toMatchObject({ eventful: true });
  });

  it('a settled run leaves nothing of it waiting on its isolate (each run\'s context was kept until the isolate died: 272 MB after 20,000 runs)', async () => {
    const pool = await open();
    for (let i = 0; i < 200; i++) await pool.run('echo', ctx().c);
    await Promise.all([1, 2, 3, 4].map(() => pool.run('echo', ctx().c)));
    const isolates = [...(pool as unknown as { all: Set<object> }).all];
    expect(isolates.length).toBeGreaterThan(0);
    // The runs' waits for an isolate's end (a crash fails the run) are taken back as each settles.
    for (const iso of isolates) expect((iso as unknown as { exitListeners: Set<unknown> }).exitListeners.size).toBe(0);
  });

  it('a thrown value that cannot be read fails its run as inline, and the isolate goes on; odd log attributes are kept as inline keeps them', async () => {
    const pool = await open();
    const r = await pool.run('unreadable', ctx().c).then(
      (value) => outcomeOfResult(value),
      (e: unknown) => outcomeOfError(e),
    );
    expect(r).toEqual({ status: 'failed', error: expect.stringMatching(/^handler threw a value that could not be read \([^;]*\)$/) }); // as inline
    const x = ctx();
    expect(await pool.run('logs-odd', x.c)).toEqual({ eventful: true });
    expect(x.logs).toEqual([
      ['info', 'a date', { value: '2026-01-02T03:04:05.000Z' }],
      ['info', 'deep', { unserialisable: expect.any(String) }], // past the nesting limit (its text, or its kind where writing it overflows)
      ['info', 'odd level', undefined],
      ['info', 'unknown level', undefined],
    ]);
    expect(await pool.run('echo', ctx().c)).toMatchObject({ eventful: true });
  });

  it('serves a log and a heartbeat a handler leaves behind after its run ended, as inline: the record kept, the heartbeat settled', async () => {
    const pool = await open();
    const x = ctx();
    expect(await pool.run('lingers', x.c)).toEqual({ eventful: true });
    expect(x.logs).toEqual([]);
    await vi.waitFor(() => expect(x.logs.map((l) => l[1])).toEqual(['late', 'late heartbeat settled']), { timeout: 10_000, interval: 10 });
    expect(x.beats()).toBe(0); // the ended run's lease is not renewed
  });

  it('keeps PermanentFailure and RetryAfter meaning across the boundary', async () => {
    const pool = await open();
    const perm = await pool.run('permanent', ctx().c).catch((e: unknown) => e);
    expect(outcomeOfError(perm)).toMatchObject({ status: 'permfailed', error: expect.stringContaining('never again') });
    const later = await pool.run('later', ctx().c).catch((e: unknown) => e);
    expect(outcomeOfError(later)).toMatchObject({ status: 'failed', retryAfterMs: 1234 });
    expect(outcomeOfError(later)).not.toHaveProperty('throttle');
    // A throttle signal crosses too (docs/limits.md#adaptive-limits), thrown or returned.
    const throttled = await pool.run('throttled', ctx().c).catch((e: unknown) => e);
    expect(outcomeOfError(throttled)).toMatchObject({ status: 'failed', retryAfterMs: 1234, throttle: true, error: expect.stringContaining('slow down') });
    expect(outcomeOfResult(await pool.run('strained', ctx().c))).toEqual({ status: 'eventful', throttle: true });
  });

  it('never begins a handler whose run was aborted while its isolate was starting (a timeout shorter than the start)', async () => {
    const pool = new IsolatePool({ mode, file: FILE, size: 1, maxMemoryMb: 128 });
    pools.push(pool);
    const ac = new AbortController();
    const x = ctx(ac.signal);
    const pending = pool.run('echo', x.c); // spawns the isolate; it is still loading the handlers file
    ac.abort(new Error('timeout after 1ms'));
    await expect(pending).rejects.toThrow('timeout after 1ms');
    // The isolate stays usable, and the aborted handler never ran: no log, no heartbeat from it.
    const y = ctx();
    expect(await pool.run('echo', y.c)).toMatchObject({ eventful: true });
    expect(x.logs).toEqual([]);
    expect(x.beats()).toBe(0);
    expect(y.logs).toHaveLength(1);
  });

  it('forwards an abort to the handler, which ends with its reason', async () => {
    const pool = await open();
    const ac = new AbortController();
    const pending = pool.run('waits', ctx(ac.signal).c);
    setTimeout(() => ac.abort(new Error('timeout after 1s')), 50);
    await expect(pending).rejects.toThrow('timeout after 1s');
    // the isolate is reused afterwards
    await expect(pool.run('echo', ctx().c)).resolves.toMatchObject({ eventful: true });
  });

  it('refuses a handlers file that does not load, naming the cause', async () => {
    const pool = new IsolatePool({ mode, file: join(import.meta.dirname, 'nope.ts'), size: 1, maxMemoryMb: 64 });
    pools.push(pool);
    await expect(pool.warmUp()).rejects.toThrow('file');
  });
});

describe.each(['thread', 'process'] as const)('IsolatePool (%s): values that cannot cross as given', (mode) => {
  const BAD = join(import.meta.dirname, '..', 'fixtures', 'pool-bad-values.ts');
  it('end the run as inline ends it, with the same error text; log attributes that are not JSON are kept as inline keeps them', async () => {
    const pool = new IsolatePool({ mode, file: BAD, size: 1, maxMemoryMb: 128 });
    try {
      await pool.warmUp();
      const logs: unknown[] = [];
      const c = { args: [], kwargs: {}, run, signal: new AbortController().signal, log: (_l: LogLevel, m: string, a?: Record<string, unknown>) => void logs.push([m, a]), heartbeat: async () => {} };
      const error = async (name: string) => outcomeOfError(await pool.run(name, c).then(() => null, (e: unknown) => e)).error;
      expect(await error('nan')).toBe('handler result is not JSON: result.n: numbers must be finite');
      expect(await error('fn')).toBe('handler result is not JSON: result.f: function is not JSON');
      expect(await error('bigint')).toMatch(/^handler result is not JSON: result\.n: /);
      expect(await error('cyclic')).toMatch(/^handler returned \[object Object\] \(not JSON\); expected/);
      expect(await error('getter')).toMatch(/^handler returned a value that could not be read \(getter boom\)/);
      expect(outcomeOfResult(await pool.run('log-cyclic', c))).toEqual({ status: 'eventful' });
      // As Node prints it (it was '[object Object]': run data audit).
      expect(logs).toEqual([['cyc', { unserialisable: '<ref *1> { n: 1, self: [Circular *1] }' }]]);
      // A crash is stored as its text alone, as the docs give it.
      expect(await error('exits')).toBe(`handler crashed: its ${mode} exited with code 3`);
    } finally {
      await pool.close();
    }
  });
});
