/**
 * The options of the objects that run Orrery (Worker, Daemon, openOrrery, OrreryClient, startServer,
 * Archiver) given values of the wrong kind: a ValidationError naming the option when the object is
 * built, never a TypeError or a busy loop after start (library options audit).
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { Archiver } from '../../src/engine/archiver.js';
import { systemClock } from '../../src/engine/clock.js';
import { Daemon } from '../../src/engine/daemon.js';
import { DagScheduler } from '../../src/engine/dag-scheduler.js';
import { silentLogger } from '../../src/engine/logger.js';
import { Reaper } from '../../src/engine/reaper.js';
import { Runner } from '../../src/engine/runner.js';
import { openOrrery } from '../../src/engine/service.js';
import { Worker } from '../../src/engine/worker.js';
import { OrreryClient } from '../../src/http/client.js';
import { startServer } from '../../src/http/start-server.js';
import { checkServerOptions } from '../../src/http/server-options.js';
import { useTempOrrery } from './engine-helpers.js';

const open = useTempOrrery();
const handlers = { job: async () => true };

/** The error a call throws or rejects with, which must be a ValidationError; its first field path. */
async function pathOf(call: () => unknown): Promise<string> {
  let err: unknown = null;
  try {
    await call();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ValidationError);
  return (err as ValidationError).details[0]!.path;
}

/** The ValidationError a call throws or rejects with. */
async function errorOf(call: () => unknown): Promise<ValidationError> {
  let err: unknown = null;
  try {
    await call();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ValidationError);
  return err as ValidationError;
}

const { isLevelEnabled: _omit, ...loggerWithoutIsLevelEnabled } = silentLogger as unknown as Record<string, unknown>;

describe('DAG scheduler options', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['a notifier that is a number', { notifier: 5 }, 'notifier'],
    ['a notifier whose onRetry is no function', { notifier: { onFailure: () => {}, onRetry: 1 } }, 'notifier.onRetry'],
    ['logRetries a string', { logRetries: 'yes' }, 'logRetries'],
  ])('%s is refused when the scheduler is built', async (_what, opts, path) => {
    const { orrery } = await open();
    expect(await pathOf(() => new DagScheduler(orrery, opts as never))).toBe(path);
  });
});

describe('Worker options', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['handlers null', { handlers: null }, 'handlers'],
    ['handlers a string', { handlers: 'x' }, 'handlers'],
    ['a handler that is not a function', { handlers: { job: 5 } }, 'handlers.job'],
    ['types a string', { handlers, types: 'xa' }, 'types'],
    ['types with an empty name', { handlers, types: ['job', ''] }, 'types[1]'],
    ['types naming no type (served nothing)', { handlers, types: [] }, 'types'],
    ['concurrency past its maximum', { handlers, concurrency: 2 ** 31 - 1 }, 'concurrency'],
    ['concurrency a float', { handlers, concurrency: 1.5 }, 'concurrency'],
    ['prefetch past its maximum', { handlers, prefetch: 2_000_000 }, 'prefetch'],
    ['pollMs NaN', { handlers, pollMs: Number.NaN }, 'pollMs'],
    ['pollMs past a timer', { handlers, pollMs: 2 ** 31 }, 'pollMs'],
    ['graceMs a string', { handlers, graceMs: '1s' }, 'graceMs'],
    ['a logger without methods', { handlers, logger: {} }, 'logger.error'],
    ['a logger without isLevelEnabled', { handlers, logger: loggerWithoutIsLevelEnabled }, 'logger.isLevelEnabled'],
    ['a clock without setTimer', { handlers, clock: { now: () => new Date() } }, 'clock.setTimer'],
    ['a clock reading an invalid date', { handlers, clock: { now: () => new Date(Number.NaN), setTimer: systemClock.setTimer, sleep: systemClock.sleep } }, 'clock.now'],
  ])('%s is refused when the worker is built', async (_what, opts, path) => {
    const { orrery } = await open();
    expect(await pathOf(() => new Worker(orrery, opts as never))).toBe(path);
  });

  it('no options object names options', async () => {
    const { orrery } = await open();
    expect(await pathOf(() => new Worker(orrery, undefined as never))).toBe('options');
  });
});

describe('Daemon options', () => {
  it.each<[string, Record<string, unknown> | null, string]>([
    ['no options', null, 'options'],
    ['maxSleepMs NaN (spun a core)', { runner: true, maxSleepMs: Number.NaN }, 'maxSleepMs'],
    ['maxSleepMs 0', { reaper: true, maxSleepMs: 0 }, 'maxSleepMs'],
    ['maxSleepMs text', { runner: true, maxSleepMs: 'abc' }, 'maxSleepMs'],
    // Named as given to the Daemon (as startServer names them), not by the loop's own option names.
    ['runnerGraceMs negative', { runner: true, runnerGraceMs: -5 }, 'runnerGraceMs'],
    ['a logger without child', { runner: true, logger: { error() {}, warn() {}, info() {}, debug() {}, isLevelEnabled: () => false } }, 'logger.child'],
    ['a logger whose child is not a logger', { runner: true, logger: { ...silentLogger, child: () => undefined } }, 'logger.child'],
    ['worker options not an object', { worker: 'x' }, 'worker'],
    ['a worker without handlers', { worker: {} }, 'worker.handlers'],
    ['a worker with a bad handler', { worker: { handlers: { job: 5 } } }, 'worker.handlers.job'],
    ['a worker concurrency of 0', { worker: { handlers, concurrency: 0 } }, 'worker.concurrency'],
    ['a worker prefetch a float', { worker: { handlers, prefetch: 1.5 } }, 'worker.prefetch'],
    ['a worker pollMs of 0', { worker: { handlers, pollMs: 0 } }, 'worker.pollMs'],
    ['a worker graceMs text', { worker: { handlers, graceMs: '1s' } }, 'worker.graceMs'],
    ['a worker types naming no type', { worker: { handlers, types: [] } }, 'worker.types'],
    ['an empty worker id', { worker: { handlers, id: '' } }, 'worker.id'],
    ['a worker clock without setTimer', { worker: { handlers, clock: { now: () => new Date() } } }, 'worker.clock.setTimer'],
    // Checked whether or not the loop they tune runs.
    ['maxSleepMs text with no loop', { maxSleepMs: 'x' }, 'maxSleepMs'],
    ['runnerGraceMs negative without the runner', { runnerGraceMs: -5 }, 'runnerGraceMs'],
    ['runner a string', { runner: 'yes' }, 'runner'],
    ['reaper a number', { reaper: 1 }, 'reaper'],
    ['a taskNotifier without onFailure', { taskNotifier: {} }, 'taskNotifier'],
    ['a dagNotifier without onFailure', { dagNotifier: {} }, 'dagNotifier'],
    ['logDagRetries a string', { logDagRetries: 'yes' }, 'logDagRetries'],
  ])('%s is refused when the daemon is built', async (_what, opts, path) => {
    const { orrery } = await open();
    expect(await pathOf(() => new Daemon(orrery, opts as never))).toBe(path);
  });

  it('the options given in place of the Orrery are refused naming orrery (a TypeError about assertWritable or clock)', async () => {
    const { orrery } = await open();
    const message = 'orrery: must be an Orrery (openOrrery({ db }) gives one), given before the options';
    expect(() => new Daemon({ runner: true } as never, {})).toThrow(message);
    await expect(startServer({ db: 'sqlite::memory:', http: false } as never)).rejects.toThrow(message);
    await expect(startServer(orrery.store as never, {})).rejects.toThrow(message);
    // The single loops too (a TypeError about clock; `new Runner({ db })` was even accepted).
    for (const bad of [null, undefined, { db: 'sqlite::memory:' }]) {
      expect(() => new Runner(bad as never)).toThrow(message);
      expect(() => new Reaper(bad as never)).toThrow(message);
      expect(() => new Worker(bad as never, { handlers: {} })).toThrow('orrery: must be an Orrery (openOrrery({ db }) gives one) or an OrreryClient');
    }
    expect(() => new Worker(new OrreryClient('http://127.0.0.1:1'), { handlers: {} })).not.toThrow();
  });

  it('options that are not an options object are refused naming options, by the single loops, the worker and the daemon (library audit: null was a TypeError, a string or an array taken as none)', async () => {
    const { orrery } = await open();
    for (const bad of [null, 'fast', 5, [], new Date(0)]) {
      for (const build of [() => new Runner(orrery, bad as never), () => new Reaper(orrery, bad as never), () => new DagScheduler(orrery, bad as never)]) {
        expect(await pathOf(build), String(bad)).toBe('options');
      }
      expect(await pathOf(() => new Daemon(orrery, bad as never)), String(bad)).toBe('options');
      expect(await pathOf(() => new Worker(orrery, bad as never)), String(bad)).toBe('options');
    }
    expect(() => new Daemon(orrery, [] as never)).toThrow('options: must be an object { runner?, reaper?, worker?, ... }, not an array');
    expect(new Runner(orrery).state).toBe('idle');
  });

  it('a worker registry that is not a boolean is refused (it was read as true: 0, "no" and null registered the worker)', async () => {
    const { orrery } = await open();
    for (const bad of [0, 'no', null, 1]) {
      expect(await pathOf(() => new Worker(orrery, { handlers, registry: bad as never })), String(bad)).toBe('registry');
      expect(await pathOf(() => new Daemon(orrery, { worker: { handlers, registry: bad as never } })), String(bad)).toBe('worker.registry');
    }
    expect(() => new Worker(orrery, { handlers, registry: false })).not.toThrow();
  });

  it('an option it does not know is not refused (nor by startServer and openOrrery)', async () => {
    const { orrery } = await open();
    expect(new Daemon(orrery, { runer: true } as never).runner).toBeNull();
  });

  it.each<[string, Record<string, unknown>]>([
    ['runnerGraceMs negative', { runnerGraceMs: -5 }],
    ['maxSleepMs text', { maxSleepMs: 'x' }],
    ['runner a string', { runner: 'yes' }],
    ['a taskNotifier whose onRetry is no function', { taskNotifier: { onFailure: () => {}, onRetry: 1 } }],
    ['a worker concurrency of 0', { worker: { concurrency: 0 } }],
    ['a worker prefetch past its maximum', { worker: { prefetch: 2_000_000 } }],
    ['a worker pollMs NaN', { worker: { pollMs: Number.NaN } }],
    ['a worker id with a NUL', { worker: { id: 'a\u0000b' } }],
    ['worker types a string', { worker: { types: 'job' } }],
  ])('%s: the daemon names it as startServer does, with the same message', async (_what, opts) => {
    const { orrery } = await open();
    const { worker, ...rest } = opts as { worker?: Record<string, unknown> };
    const fromServer = await errorOf(() => startServer(orrery, { http: false, ...rest, ...(worker ? { handlers: { handlers }, worker } : {}) } as never));
    const fromDaemon = await errorOf(() => new Daemon(orrery, { ...rest, ...(worker ? { worker: { handlers, ...worker } } : {}) } as never));
    expect(fromDaemon.details[0]).toEqual(fromServer.details[0]);
    expect(fromDaemon.message).toBe(fromServer.message);
  });
});

describe('openOrrery options', () => {
  it.each<[string, unknown, string]>([
    ['a URL given instead of the options', 'sqlite::memory:', 'options'],
    ['db a number', { db: 5 }, 'db'],
    ['db an object', { db: {} }, 'db'],
    ['a clock without methods', { db: 'sqlite::memory:', clock: {} }, 'clock.now'],
    ['a clock reading an invalid date', { db: 'sqlite::memory:', clock: { now: () => new Date(Number.NaN), setTimer: systemClock.setTimer, sleep: systemClock.sleep } }, 'clock.now'],
  ])('%s is refused before a database is opened', async (_what, opts, path) => {
    expect(await pathOf(() => openOrrery(opts as never))).toBe(path);
  });
});

describe('OrreryClient', () => {
  it.each<[string, () => unknown, string]>([
    ['an empty URL', () => new OrreryClient(''), 'url'],
    ['a URL that is not one', () => new OrreryClient('not a url'), 'url'],
    ['no URL', () => new OrreryClient(null as never), 'url'],
    ['a port past 65535', () => new OrreryClient('http://127.0.0.1:99999'), 'url'],
    ['a URL with a query', () => new OrreryClient('http://127.0.0.1:5180/?x=1'), 'url'],
    ['a token with a newline', () => new OrreryClient('http://127.0.0.1:5180', 'a\nb'), 'token'],
    ['a token that is a number', () => new OrreryClient('http://127.0.0.1:5180', 12345 as never), 'token'],
    ['a timeout past a timer (every request timed out at once)', () => new OrreryClient('http://127.0.0.1:5180', null, { timeoutMs: 2 ** 31 }), 'timeoutMs'],
    ['options that are not an object', () => new OrreryClient('http://127.0.0.1:5180', null, 5 as never), 'options'],
  ])('%s is refused when the client is built', async (_what, build, path) => {
    expect(await pathOf(build)).toBe(path);
  });

  it('takes the API address serve prints', () => {
    expect(() => new OrreryClient('http://127.0.0.1:5180/api/', 'secret', { timeoutMs: 2 ** 31 - 1 })).not.toThrow();
  });
});

describe('startServer options', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['a token that is a number (every request answered 500)', { http: { port: 0, token: 12345 } }, 'http.token'],
    ['a token with a space', { http: { port: 0, token: 'a b' } }, 'http.token'],
    ['a port given as text (listened on a Unix socket)', { http: { port: 'abc' } }, 'http.port'],
    ['a port past 65535', { http: { port: 70000 } }, 'http.port'],
    ['an unknown isolation', { handlers: { handlers }, worker: { isolation: 'banana' } }, 'worker.isolation'],
    ['maxMemoryMb text', { handlers: { handlers }, worker: { maxMemoryMb: 'lots' } }, 'worker.maxMemoryMb'],
    ['an empty worker id', { handlers: { handlers }, worker: { id: '' } }, 'worker.id'],
    ['types a string', { handlers: { handlers }, worker: { types: 'job' } }, 'worker.types'],
    ['concurrency past its maximum', { handlers: { handlers }, worker: { concurrency: 2 ** 31 } }, 'worker.concurrency'],
    ['prefetch negative (refused before any type is created)', { handlers: { handlers, taskTypes: [{ name: 'made' }] }, worker: { prefetch: -1 } }, 'worker.prefetch'],
    ['pollMs 0', { handlers: { handlers }, worker: { pollMs: 0 } }, 'worker.pollMs'],
    ['graceMs NaN', { handlers: { handlers }, worker: { graceMs: Number.NaN } }, 'worker.graceMs'],
    ['retention NaN', { http: false, retention: { retentionMs: Number.NaN } }, 'retention.retentionMs'],
    ['retention past 100 years', { http: false, retention: { retentionMs: 8e15 } }, 'retention.retentionMs'],
    ['maxSleepMs 0', { http: false, maxSleepMs: 0 }, 'maxSleepMs'],
    ['a taskNotifier without onFailure', { http: false, taskNotifier: {} }, 'taskNotifier'],
    ['a taskNotifier whose onRetry is no function', { http: false, taskNotifier: { onFailure: () => {}, onRetry: 'x' } }, 'taskNotifier.onRetry'],
    ['a dagNotifier without onFailure', { http: false, dagNotifier: { onRetry: () => {} } }, 'dagNotifier'],
    ['logDagRetries a string', { http: false, logDagRetries: 'yes' }, 'logDagRetries'],
  ])('%s is refused before anything starts', async (_what, opts, path) => {
    const { orrery } = await open();
    expect(await pathOf(() => startServer(orrery, opts as never))).toBe(path);
    expect(await orrery.getTaskType('made')).toBeNull(); // nothing started, no type created
  });
});

describe('startServer given a handlers module object', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a handler that is not a function', { handlers: { job: 5 } }, /^handlers: handler "job" is not a function/],
    ['a setup that is not a function', { handlers, setup: 5 }, /^handlers: "setup" must be a function/],
    ['taskTypes that are not an array', { handlers, taskTypes: {} }, /^handlers: "taskTypes" must be an array/],
  ])('%s is refused as a handlers file is, before anything starts', async (_what, mod, message) => {
    const { orrery } = await open();
    await expect(startServer(orrery, { handlers: mod as never, http: false })).rejects.toMatchObject({ name: 'ValidationError', message: expect.stringMatching(message) });
  });
});

describe('Archiver options', () => {
  it('a retention that is not a positive number is a ValidationError', async () => {
    const { orrery } = await open();
    expect(await pathOf(() => new Archiver(orrery, { retentionMs: Number.NaN }))).toBe('retentionMs');
    expect(await pathOf(() => new Archiver(orrery, { retentionMs: 0 }))).toBe('retentionMs');
    // Past 100 years the cut-off could fall before 4714 BC, which no store holds: every sweep failed.
    expect(await pathOf(() => new Archiver(orrery, { retentionMs: 8e15 }))).toBe('retentionMs');
    expect(await pathOf(() => new Archiver(orrery, { retentionMs: 100 * 365 * 86_400_000 + 1 }))).toBe('retentionMs');
    expect(() => new Archiver(orrery, { retentionMs: 100 * 365 * 86_400_000 })).not.toThrow();
    expect(await pathOf(() => new Archiver(orrery, { retentionMs: 1000, everyMs: 5 }))).toBe('everyMs');
    expect(await pathOf(() => new Archiver(orrery, null as never))).toBe('options');
  });

  // Built and started, these failed every sweep, reported only by the (silent by default) logger.
  it.each<[string, Record<string, unknown>]>([
    ['a batch of 0', { batch: 0 }],
    ['a batch of 2.5', { batch: 2.5 }],
    ['a batch past 100000', { batch: 100_001 }],
    ['a batch given as text', { batch: '10' }],
    ['a file in a missing directory', { to: '/nonexistent/dir/x.jsonl' }],
    ['a file that is a directory', { to: '/tmp' }],
    ['an empty file path', { to: '' }],
    ['a file path that is a number', { to: 5 }],
  ])('%s is refused when the archiver is built, as orrery.archive refuses it', async (_what, opts) => {
    const { orrery } = await open();
    const fromArchive = await errorOf(() => orrery.archive({ before: new Date(), ...opts } as never));
    const fromArchiver = await errorOf(() => new Archiver(orrery, { retentionMs: 1000, ...opts } as never));
    expect(fromArchiver.message).toBe(fromArchive.message);
    expect(fromArchiver.details).toEqual(fromArchive.details);
  });

  it('names the option and the file: batch, and to with the missing directory', async () => {
    const { orrery } = await open();
    const batch = await errorOf(() => new Archiver(orrery, { retentionMs: 1000, batch: 0 }));
    expect(batch.message).toBe('batch: must be an integer from 1 to 100000');
    const to = await errorOf(() => new Archiver(orrery, { retentionMs: 1000, to: '/nonexistent/dir/x.jsonl' }));
    expect(to.message).toBe('archive file /nonexistent/dir/x.jsonl: directory /nonexistent/dir does not exist');
    expect(to.details[0]!.path).toBe('to');
  });

  it('takes a file in a directory that exists, and a batch in range', async () => {
    const { orrery, dir } = await open();
    const archiver = new Archiver(orrery, { retentionMs: 1000, batch: 100_000, to: `${dir}/runs.jsonl` });
    expect(archiver.state).toBe('idle');
  });

  it('startServer refuses a retention file it cannot archive to before anything starts', async () => {
    const { orrery } = await open();
    const err = await errorOf(() => startServer(orrery, { http: false, handlers: { handlers, taskTypes: [{ name: 'made' }] }, retention: { retentionMs: 1000, to: '/nonexistent/dir/x.jsonl' } } as never));
    expect(err.message).toBe('archive file /nonexistent/dir/x.jsonl: directory /nonexistent/dir does not exist');
    expect(await orrery.getTaskType('made')).toBeNull(); // no type created, no loop started
  });
});

describe('startServer options left out as null', () => {
  it('takes http: null and worker: null as left out, as before', async () => {
    expect(() => checkServerOptions({ http: null, worker: null } as never)).not.toThrow();
    const { orrery } = await open();
    const server = await startServer(orrery, { http: false, worker: null, runner: false, reaper: false } as never);
    await server.stop();
  });
});
