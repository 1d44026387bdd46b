/**
 * The typed client's task side beside the library, against a real server on a real SQLite file:
 * findTasks and searchTasks in the library's shapes, listPending (and its route), startRun and
 * getTaskWithRuns.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { startHttpServer } from '../../src/http/server.js';
import { removeTempDirs, runCli } from '../cli/cli-helpers.js';
import { T0, errorOf, openHttp, type HttpHarness } from './http-helpers.js';

const later = (ms: number) => new Date(Date.parse(T0) + ms);

describe('OrreryClient: the task side mirrors the library', () => {
  let h: HttpHarness;
  let close: () => void = () => {};
  afterEach(async () => {
    close();
    await h?.close();
  });
  afterAll(() => removeTempDirs());

  async function setup() {
    h = await openHttp({ metrics: null });
    const { server, port } = await startHttpServer(createHttpApp(h.orrery), '127.0.0.1', 0);
    const client = new OrreryClient(`http://127.0.0.1:${port}`);
    close = () => {
      client.close();
      server.close();
    };
    return { orrery: h.orrery, client };
  }

  it('findTasks answers the library page { tasks, nextCursor, partial }; searchTasks answers Task[] like the library, every page read', async () => {
    const { orrery, client } = await setup();
    await orrery.createTaskType({ name: 'job' });
    await orrery.createTaskType({ name: 'other' });
    // More than one page of the route (1,000) for the type, with other tasks between.
    await orrery.createTasks(Array.from({ length: 2_300 }, (_, i) => ({ type: i % 3 === 0 ? 'other' : 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} }, ...(i % 5 === 0 ? { priority: 'high' as const } : {}) })));
    await orrery.disableTasks([2, 3, 5]);

    const page = await client.findTasks({ type: 'job', limit: 3 });
    expect(page).toEqual(await orrery.findTasks({ type: 'job', limit: 3 }));
    expect(Object.keys(page).sort()).toEqual(['nextCursor', 'partial', 'tasks']);
    expect(await client.findTasks({ type: 'job', limit: 3, cursor: page.nextCursor! })).toEqual(await orrery.findTasks({ type: 'job', limit: 3, cursor: page.nextCursor! }));

    for (const filter of [
      {},
      { type: 'job' },
      { type: 'job', priority: 'high' as const },
      { priority: null },
      { status: 'disabled' as const, disabledReason: 'manual' as const },
      { type: 'job', afterId: 1_500 },
      { type: 'job', limit: 1_234 },
      { type: 'other', afterId: 10, limit: 5 },
      { limit: 0 },
      { dagAttempts: false, policy: 'oneshot' as const, limit: 2_100 },
      { afterId: -3, limit: 2 },
    ]) {
      const mine = await client.searchTasks(filter);
      expect(mine.map((t) => t.id), JSON.stringify(filter)).toEqual((await orrery.searchTasks(filter)).map((t) => t.id));
    }
    expect(await client.searchTasks({ type: 'job' })).toEqual(await orrery.searchTasks({ type: 'job' }));
    expect(await client.searchTasks({ type: 'job' })).toHaveLength(1_533);
    // A filter the library does not take is refused as the library refuses it, before any request.
    for (const bad of [{ typ: 'job' }, { cursor: '3' }, { status: 'asleep' }]) {
      const e = await client.searchTasks(bad as never).then(() => null, (x: unknown) => x);
      const lib = await orrery.searchTasks(bad as never).then(() => null, (x: unknown) => x);
      expect(e, JSON.stringify(bad)).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).details, JSON.stringify(bad)).toEqual((lib as ValidationError).details);
    }
  });

  it('listPending answers as the library, through GET /api/tasks/pending, as `orrery task list-pending --json` prints it', async () => {
    const { orrery, client } = await setup();
    await orrery.createTaskType({ name: 'job', defaultIntervalMs: '1h' });
    await orrery.createTasks([
      { type: 'job', arguments: { args: ['late'], kwargs: {} }, nextRun: later(-60_000) },
      { type: 'job', arguments: { args: ['now'], kwargs: {} } },
      { type: 'job', arguments: { args: ['later'], kwargs: {} }, nextRun: later(3_600_000) },
      { type: 'job', arguments: { args: ['high'], kwargs: {} }, priority: 'high', nextRun: later(-1) },
    ]);
    expect(await client.listPending('job')).toEqual(await orrery.listPending('job'));
    expect((await client.listPending('job')).map((t) => t.arguments.args[0])).toEqual((await orrery.listPending('job')).map((t) => t.arguments.args[0]));
    expect(await client.listPending('job', { limit: 2 })).toEqual(await orrery.listPending('job', { limit: 2 }));
    expect(await client.listPending('job', { at: later(7_200_000) })).toEqual(await orrery.listPending('job', { at: later(7_200_000) }));
    expect(await client.listPending('job', { at: later(7_200_000) })).toHaveLength(4);
    expect(await client.listPending('job', { limit: 0 })).toEqual([]);
    expect(await client.listPending('nope')).toEqual(await orrery.listPending('nope'));

    const r = await h.call('GET', '/api/tasks/pending?type=job&limit=3');
    expect(r.status).toBe(200);
    const cli = await runCli(['task', 'list-pending', 'job', '--limit', '3', '--at', T0, '--json', '--db', `sqlite:${h.dbPath}`]);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.body).toEqual(JSON.parse(cli.stdout));

    for (const [path, field] of [
      ['/api/tasks/pending', 'query.type'],
      ['/api/tasks/pending?type=job&limit=0', 'query.limit'],
      ['/api/tasks/pending?type=job&limit=10001', 'query.limit'],
      ['/api/tasks/pending?type=job&at=soon', 'query.at'],
      ['/api/tasks/pending?type=job&cursor=1', 'query.cursor'],
    ] as const) {
      const bad = await h.call('GET', path);
      expect(bad.status, path).toBe(400);
      expect(errorOf(bad.body).details.map((d) => d.path), path).toContain(field);
    }
  });

  it('startRun marks a scheduled run started as the library does: worker, metadata and at sent', async () => {
    const { orrery, client } = await setup();
    await orrery.createTaskType({ name: 'ext', leaseMs: 30_000 });
    await orrery.createTasks([{ type: 'ext', policy: 'oneshot' }, { type: 'ext', policy: 'oneshot', arguments: { args: [2], kwargs: {} } }]);
    const [a, b] = await orrery.scheduleDue();
    const started = await client.startRun(a!.backendId, { worker: 'batch-7', metadata: { job: 'slurm-1' }, at: later(5_000) });
    expect(started).toMatchObject({ backendId: a!.backendId, status: 'started', worker: 'batch-7', metadata: { job: 'slurm-1' }, started: later(5_000), leaseExpiresAt: later(35_000) });
    expect(await orrery.getRun(a!.backendId)).toEqual(started);
    // Without options: worker `external`, at the server's now.
    expect(await client.startRun(b!.backendId)).toMatchObject({ status: 'started', worker: 'external', started: new Date(T0) });
    await expect(client.startRun(a!.backendId)).rejects.toMatchObject({ code: 'conflict' });
    await expect(client.startRun('nope')).rejects.toMatchObject({ code: 'not_found' });
    await expect(client.startRun(b!.backendId, null as never)).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'options' }] });
  });

  it("endRun takes startedAt as the library does: a run still claimed records it as its start (client audit: the server refused the field)", async () => {
    const { orrery, client } = await setup();
    await orrery.createTaskType({ name: 'ext', leaseMs: 30_000 });
    await orrery.createTasks([{ type: 'ext', policy: 'oneshot' }, { type: 'ext', policy: 'oneshot', arguments: { args: [2], kwargs: {} } }]);
    const [a, b] = await client.claimRuns({ worker: 'w', types: ['ext'], limit: 2, startNow: 0 });
    expect([a!.run.status, b!.run.status]).toEqual(['claimed', 'claimed']);
    const ended = await client.endRun(a!.run.backendId, { status: 'eventful', worker: 'w', startedAt: later(2_000), at: later(5_000) });
    expect(ended.run).toMatchObject({ status: 'eventful', started: later(2_000), ended: later(5_000) });
    // The claim's snapshot (held) serves in-process ends: the client leaves it out, the server reads its own.
    const viaLibrary = await orrery.claimRuns({ worker: 'w2', types: ['ext'], limit: 1 });
    expect(viaLibrary).toEqual([]);
    // startedAt null is none, as in the library (review: the server refused null).
    expect((await client.endRun(b!.run.backendId, { status: 'uneventful', worker: 'w', startedAt: null, held: { run: b!.run, task: (await orrery.getTask(b!.run.task))! }, at: later(6_000) })).run).toMatchObject({ status: 'uneventful', started: later(6_000) });
  });

  it('getTaskWithRuns answers the task with its runs as the library, or null for an unknown task', async () => {
    const { orrery, client } = await setup();
    await orrery.createTaskType({ name: 'job', defaultIntervalMs: '1h' });
    const t = await orrery.createTask({ type: 'job' });
    for (let i = 0; i < 3; i++) {
      await orrery.scheduleDue({ at: later(i * 7_200_000) });
      const [c] = await orrery.claimRuns({ worker: 'w', types: ['job'], limit: 1, at: later(i * 7_200_000) });
      await orrery.endRun(c!.run.backendId, { status: 'eventful', worker: 'w', at: later(i * 7_200_000 + 1) });
    }
    expect(await client.getTaskWithRuns(t.id)).toEqual(await orrery.getTaskWithRuns(t.id));
    expect(await client.getTaskWithRuns(t.id, { runs: 2 })).toEqual(await orrery.getTaskWithRuns(t.id, { runs: 2 }));
    expect((await client.getTaskWithRuns(t.id, { runs: 2 }))!.runs).toHaveLength(2);
    expect(await client.getTaskWithRuns(4040)).toBeNull();
    expect(await orrery.getTaskWithRuns(4040)).toBeNull();
    await expect(client.getTaskWithRuns(0)).rejects.toBeInstanceOf(ValidationError);
  });
});
