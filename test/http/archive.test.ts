/** Archiving over HTTP: a sweep into the archive tables, reading it back, and bad requests. */
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { startHttpServer } from '../../src/http/server.js';
import { openHttp, T0, type HttpHarness } from './http-helpers.js';

describe('HTTP API: archive', () => {
  let h: HttpHarness;
  afterEach(async () => h?.close());

  it('archives finished runs and one-shot tasks into the tables, and reads them back', async () => {
    h = await openHttp({ metrics: null });
    const { call, orrery, clock } = h;
    await orrery.createTaskType({ name: 'job' });
    const tasks = await orrery.createTasks([1, 2, 3].map((n) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [n], kwargs: {} } })));
    await orrery.scheduleDue({});
    for (const c of await orrery.claimRuns({ worker: 'w', types: ['job'], limit: 10 })) {
      await orrery.appendRunLogs(c.run.backendId, [{ at: clock.now(), level: 'info', message: 'did it', attributes: { n: c.arguments.args[0] } }]);
      await orrery.endRun(c.run.backendId, { status: 'eventful', worker: 'w', result: { n: c.arguments.args[0] } });
    }
    clock.advance(86_400_000);
    const res = await call('POST', '/api/archive', { before: new Date(clock.now().getTime() - 3_600_000).toISOString(), batch: 1 });
    expect(res.status).toBe(200);
    const summary = res.body as { runs: number; tasks: number; logs: number; table: boolean; file: null; complete: boolean };
    expect(summary).toMatchObject({ table: true, file: null, complete: true });
    const archived = 3;
    expect(summary).toMatchObject({ runs: archived, tasks: archived, logs: archived });
    const runs = (await call('GET', '/api/archive/runs?limit=10')).body as Array<{ run: { task: number; result: unknown }; logs: Array<{ message: string }> }>;
    expect(runs.map((r) => r.run.task)).toEqual(tasks.slice(0, archived).map((t) => t.id));
    expect(runs[0]!.logs.map((l) => l.message)).toEqual(['did it']);
    expect(runs[0]!.run.result).toEqual({ n: 1 });
    expect((await call('GET', `/api/archive/runs?task=${tasks[1]!.id}`)).body).toHaveLength(1);
    const archivedTasks = (await call('GET', '/api/archive/tasks?afterId=0&limit=1')).body as Array<{ id: number; status: string }>;
    expect(archivedTasks).toEqual([expect.objectContaining({ id: tasks[0]!.id, status: 'completed' })]);
    expect((await call('GET', `/api/tasks/${tasks[0]!.id}`)).status).toBe(404);
    expect(T0).toBeTruthy();
  });

  it('the typed client archives and reads the archive as the library does; ensureTaskType answers the stored type', async () => {
    h = await openHttp({ metrics: null });
    const { orrery, clock } = h;
    const { server, port } = await startHttpServer(createHttpApp(orrery), '127.0.0.1', 0);
    const client = new OrreryClient(`http://127.0.0.1:${port}`);
    try {
      const type = await client.ensureTaskType({ name: 'job', numRetries: 1 });
      expect(await client.ensureTaskType({ name: 'job', numRetries: 5 })).toEqual(type); // kept as stored
      const tasks = await client.createTasks([1, 2, 3].map((n) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [n], kwargs: {} } })));
      await orrery.scheduleDue({});
      for (const c of await orrery.claimRuns({ worker: 'w', types: ['job'], limit: 10 })) await orrery.endRun(c.run.backendId, { status: 'uneventful', worker: 'w' });
      clock.advance(86_400_000);
      const before = new Date(clock.now().getTime() - 3_600_000);
      const summary = await client.archive({ before, batch: 2 });
      const archived = 3;
      expect(summary).toMatchObject({ before, table: true, file: null, runs: archived, tasks: archived, complete: true });
      const runs = await client.readArchivedRuns({ limit: 10 });
      expect(runs.map((r) => r.run.task)).toEqual(tasks.slice(0, archived).map((t) => t.id));
      expect(runs[0]!.run.ended).toBeInstanceOf(Date);
      expect(await client.readArchivedRuns({ task: tasks[1]!.id })).toHaveLength(1);
      expect((await client.readArchivedTasks({ afterId: tasks[0]!.id })).map((t) => t.id)).toEqual(tasks.slice(1, archived).map((t) => t.id));
    } finally {
      client.close();
      server.close();
    }
  });

  it('answers 400 naming the field for bad requests, and archives nothing', async () => {
    h = await openHttp({ metrics: null });
    const { call } = h;
    for (const [body, field] of [
      [{}, 'before'],
      [{ before: 'yesterday' }, 'before'],
      [{ before: '2026-01-01T00:00:00Z', batch: 0 }, 'batch'],
      [{ before: '2026-01-01T00:00:00Z', to: '/etc/passwd' }, 'to'],
    ] as const) {
      const r = await call('POST', '/api/archive', body);
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.body)).toContain(field);
    }
    expect((await call('GET', '/api/archive/runs?limit=0')).status).toBe(400);
    expect((await call('GET', '/api/archive/tasks?afterId=x')).status).toBe(400);
    // Digits past the range are named as such (it said "expected a whole number in decimal digits").
    const big = await call('GET', '/api/archive/runs?afterId=99999999999999999999');
    expect(big.status).toBe(400);
    expect(JSON.stringify(big.body)).toContain('afterId: must be at most 9007199254740991');
    expect(JSON.stringify((await call('GET', '/api/archive/runs?limit=0')).body)).toContain('limit: must be at least 1');
  });
});
