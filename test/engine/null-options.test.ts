/**
 * Every library call whose options object may be left out answers a ValidationError naming it when
 * it is given as null or as something that is not an object (it was a TypeError from inside the call:
 * "Cannot read properties of null"). Left out, the call works as before.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import type { Orrery } from '../../src/engine/service.js';
import { openOrrery } from '../../src/engine/service.js';
import { useTempOrrery } from './engine-helpers.js';
import { taskWebhookNotifier } from '../../src/engine/task-notifier.js';
import { OrreryClient } from '../../src/http/client.js';

const open = useTempOrrery();
type Call = [string, (o: Orrery, bad: any) => Promise<unknown>, string];

const calls: Call[] = [
  ['createTaskType', (o, b) => o.createTaskType({ name: 'other' }, b), 'options'],
  ['updateTaskType', (o, b) => o.updateTaskType('job', {}, b), 'options'],
  ['pauseTaskType', (o, b) => o.pauseTaskType('job', b), 'options'],
  ['resumeTaskType', (o, b) => o.resumeTaskType('job', b), 'options'],
  ['deleteTaskType', (o, b) => o.deleteTaskType('job', b), 'options'],
  ['ensureTaskType', (o, b) => o.ensureTaskType({ name: 'job' }, b), 'options'],
  ['createTask', (o, b) => o.createTask({ type: 'job' }, b), 'options'],
  ['createTasks', (o, b) => o.createTasks([{ type: 'job' }], b), 'options'],
  ['createTasksDetailed', (o, b) => o.createTasksDetailed([{ type: 'job' }], b), 'options'],
  ['createTasksSummary', (o, b) => o.createTasksSummary([{ type: 'job' }], b), 'options'],
  ['importTasks', (o, b) => o.importTasks((async function* () {})(), b), 'options'],
  ['whyTask', (o, b) => o.whyTask(1, b), 'options'],
  ['searchRuns', (o, b) => o.searchRuns(b), 'filter'],
  ['findTasks', (o, b) => o.findTasks(b), 'filter'],
  ['searchTasks', (o, b) => o.searchTasks(b), 'filter'],
  ['bulkTasks', (o, b) => o.bulkTasks('disable', { ids: [1] }, b), 'options'],
  ['listPending', (o, b) => o.listPending('job', b), 'options'],
  ['disableTasks', (o, b) => o.disableTasks([1], b), 'options'],
  ['respawnTasks', (o, b) => o.respawnTasks([1], b), 'options'],
  ['pauseTask', (o, b) => o.pauseTask(1, b), 'options'],
  ['resumeTask', (o, b) => o.resumeTask(1, b), 'options'],
  ['dueStats', (o, b) => o.dueStats(b), 'options'],
  ['queueStats', (o, b) => o.queueStats(b), 'options'],
  ['runRates', (o, b) => o.runRates(b), 'options'],
  ['listWorkers', (o, b) => o.listWorkers(b), 'options'],
  ['workerActivity', (o, b) => o.workerActivity(b), 'options'],
  ['runSeries', (o, b) => o.runSeries(b), 'options'],
  ['scheduleDue', (o, b) => o.scheduleDue(b), 'options'],
  ['cancelRun', (o, b) => o.cancelRun('no-such-run', b), 'options'],
  ['reapExpired', (o, b) => o.reapExpired(b), 'options'],
  ['schedules.next', (o, b) => o.schedules.next(1, b), 'options'],
  ['dags.pause', (o, b) => o.dags.pause('d', b), 'options'],
  ['dags.next', (o, b) => o.dags.next('d', b), 'options'],
  ['visits.getListedOrigins', (o, b) => o.visits.getListedOrigins(b), 'filter'],
  ['visits.updateMetrics', (o, b) => o.visits.updateMetrics(b), 'options'],
  ['visits.getMetrics', (o, b) => o.visits.getMetrics(b), 'filter'],
  ['visits.getMetricsHistory', (o, b) => o.visits.getMetricsHistory(b), 'filter'],
  ['visits.getOriginVisits', (o, b) => o.visits.getOriginVisits('https://a.example', 'git', b), 'filter'],
];

describe('options objects given as null or a non-object', () => {
  it.each(calls)('%s answers a ValidationError naming them', async (_name, call, path) => {
    const { orrery } = await open();
    await orrery.createTaskType({ name: 'job' });
    for (const bad of [null, 5, 'x']) {
      const err = await call(orrery, bad).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, String(bad)).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).details[0]?.path, String(bad)).toBe(path);
    }
    // Left out, the call goes on past the options (whatever it then answers, it is not about them).
    const left = await call(orrery, undefined).then(
      () => null,
      (e: unknown) => e,
    );
    if (left instanceof ValidationError) expect(left.details[0]?.path).not.toBe(path);
  });

  // The visit calls whose last argument is an instant or { at } (docs/visits.md) name `at`, as recordVisit does.
  it.each([
    ['visits.getOrCreateLister', (o: Orrery, b: any) => o.visits.getOrCreateLister('l', '', b)],
    ['visits.updateLister', (o: Orrery, b: any) => o.visits.updateLister({ id: '00000000-0000-4000-8000-000000000000', updated: new Date() }, b)],
    ['visits.recordListedOrigins', (o: Orrery, b: any) => o.visits.recordListedOrigins([], b)],
  ] as const)('%s answers a ValidationError naming at for anything but a Date or { at }', async (_name, call) => {
    const { orrery } = await open();
    for (const bad of [null, 5, 'x', [new Date()]]) {
      const err = await call(orrery, bad).then(() => null, (e: unknown) => e);
      expect(err, String(bad)).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).details[0]?.path, String(bad)).toBe('at');
    }
  });

  it('openOrrery(null) names its options', async () => {
    await expect(openOrrery(null as never)).rejects.toMatchObject({ name: 'ValidationError', details: [{ path: 'options' }] });
    // A URL alone: the answer shows the call to make.
    // archive() and updateLister(null): ValidationErrors, not TypeErrors (reading 'at', reading 'id')
    const o = await openOrrery({ db: 'sqlite::memory:' });
    try {
      await expect(o.archive(undefined as never)).rejects.toThrow(/^before: /);
      await expect(o.archive(null as never)).rejects.toMatchObject({ name: 'ValidationError', details: [{ path: 'options' }] });
      await expect(o.visits.updateLister(null as never)).rejects.toMatchObject({ name: 'ValidationError', details: [{ path: 'options' }] });
    } finally {
      await o.close();
    }
    await expect(openOrrery('sqlite:x.db' as never)).rejects.toThrow('options: must be an object (or left out), not a string: pass it as { db: "sqlite:x.db" }');
    // A bad URL from the environment is named there, by the library as by the CLI.
    const saved = process.env.ORRERY_DB;
    process.env.ORRERY_DB = 'mysql://x';
    try {
      await expect(openOrrery()).rejects.toMatchObject({ details: [{ path: '$ORRERY_DB' }], message: expect.stringMatching(/^\$ORRERY_DB: unsupported database URL/) });
      await expect(openOrrery({ db: 'mysql://y' })).rejects.toMatchObject({ details: [{ path: 'db' }] });
    } finally {
      if (saved === undefined) delete process.env.ORRERY_DB;
      else process.env.ORRERY_DB = saved;
    }
    // A NUL or a lone surrogate in the URL: refused before anything opens (SQLite created a file named by the
    // path cut at its NUL, or with U+FFFD for the surrogate, and the NUL came back as a raw TypeError).
    const dir = mkdtempSync(join(tmpdir(), 'orrery-db-text-'));
    try {
      await expect(openOrrery({ db: `sqlite:${dir}/a\0b` })).rejects.toMatchObject({ name: 'ValidationError', message: 'db: must not contain NUL characters (U+0000)', details: [{ path: 'db' }] });
      await expect(openOrrery({ db: `${dir}/c\ud800d` })).rejects.toMatchObject({ name: 'ValidationError', message: 'db: must not contain lone UTF-16 surrogates (not valid Unicode)' });
      await expect(openOrrery({ db: 'postgres://u@h/d\0' })).rejects.toMatchObject({ name: 'ValidationError', details: [{ path: 'db' }] });
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The URL quoted back has its password hidden (security audit, 2026-12-06), in the message and its details.
    const e = await openOrrery('postgres://orr:LibPw9@127.0.0.1:1/orrery' as never).catch((x: unknown) => x);
    expect((e as Error).message).toContain('{ db: "postgres://orr:***@127.0.0.1:1/orrery" }');
    expect(JSON.stringify(e)).not.toContain('LibPw9');
    // So do a webhook notifier's and the typed client's refusals of a URL with credentials.
    expect(() => taskWebhookNotifier('http://u:HookPw9@127.0.0.1:99999/x')).toThrow(/"http:\/\/u:\*\*\*@127\.0\.0\.1:99999\/x" is not a URL/);
    expect(() => new OrreryClient('http://u:CliPw9@127.0.0.1:1')).toThrow(/"http:\/\/u:\*\*\*@127\.0\.0\.1:1" must not carry credentials/);
  });
});
