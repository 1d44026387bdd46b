/**
 * The options of the objects that run Orrery (Worker, Daemon, openOrrery, OrreryClient, startServer,
 * Archiver) given values of the wrong kind: a ValidationError naming the option when the object is
 * built, never a TypeError or a busy loop after start (library options audit).
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { Archiver } from '../../src/engine/archiver.js';
import { ManualClock } from '../../src/engine/clock.js';
import { Daemon } from '../../src/engine/daemon.js';
import { DagScheduler } from '../../src/engine/dag-scheduler.js';
import { silentLogger } from '../../src/engine/logger.js';
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
    ['a clock reading an invalid date', { handlers, clock: new ManualClock('not a date') }, 'clock.now'],
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
    ['runnerGraceMs negative', { runner: true, runnerGraceMs: -5 }, 'graceMs'],
    ['a logger without child', { runner: true, logger: { error() {}, warn() {}, info() {}, debug() {}, isLevelEnabled: () => false } }, 'logger.child'],
    ['a logger whose child is not a logger', { runner: true, logger: { ...silentLogger, child: () => undefined } }, 'logger.child'],
    ['worker options not an object', { worker: 'x' }, 'options'],
    ['a worker with a bad handler', { worker: { handlers: { job: 5 } } }, 'handlers.job'],
  ])('%s is refused when the daemon is built', async (_what, opts, path) => {
    const { orrery } = await open();
    expect(await pathOf(() => new Daemon(orrery, opts as never))).toBe(path);
  });
});

describe('openOrrery options', () => {
  it.each<[string, unknown, string]>([
    ['a URL given instead of the options', 'sqlite::memory:', 'options'],
    ['db a number', { db: 5 }, 'db'],
    ['db an object', { db: {} }, 'db'],
    ['a clock without methods', { db: 'sqlite::memory:', clock: {} }, 'clock.now'],
    ['a clock reading an invalid date', { db: 'sqlite::memory:', clock: new ManualClock('not a date') }, 'clock.now'],
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
    expect(await pathOf(() => new Archiver(orrery, { retentionMs: 1000, everyMs: 5 }))).toBe('everyMs');
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
