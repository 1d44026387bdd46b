import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/engine/daemon.js';
import type { DagTaskAlert } from '../../src/engine/dag-notifier.js';
import { webhookNotifier } from '../../src/engine/dag-notifier.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { ManualClock } from '../../src/engine/clock.js';
import { prepareTypes } from '../../src/engine/prepare-types.js';
import { silentLogger } from '../../src/engine/logger.js';
import { createTestDatabase } from '../support/postgres.js';
import { dag, type DagDefinition } from '../../src/worker/dag-definition.js';
import { toHandlersModule } from '../../src/worker/handlers.js';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';

/** Registers the DAGs and runs a real daemon (DAG scheduler, runner, reaper, worker) over them. */
async function start(orrery: Orrery, dags: DagDefinition[], opts: { notifier?: Parameters<typeof webhookNotifier>[0] } = {}) {
  const mod = toHandlersModule({ dags }, 'test');
  await orrery.dags.register(mod.dags!.map((d) => d.toInput()));
  const daemon = new Daemon(orrery, {
    runner: true,
    reaper: true,
    worker: { handlers: mod.handlers, concurrency: 20, pollMs: 50 },
    maxSleepMs: 50,
    ...(opts.notifier ? { dagNotifier: webhookNotifier(opts.notifier, { retries: true }) } : {}),
  });
  daemon.start();
  return daemon;
}

const finished = (orrery: Orrery, id: number, timeoutMs = 30_000) =>
  waitFor(async () => {
    const r = await orrery.dags.run(id);
    return r.status === 'success' || r.status === 'failed' ? r : null;
  }, `DAG run ${id} to finish`, timeoutMs);

describe('DAGs on a real daemon', () => {
  const temp = useTempOrrery();
  const pgCleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (pgCleanup.length) await pgCleanup.pop()!();
  });

  it('a timeout aborts the task through its signal and fails it with the cause', async () => {
    const { orrery } = await temp();
    let aborted = false;
    const d = dag('slowpoke').task(
      'wait',
      ({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => ((aborted = true), reject(signal.reason as Error)));
        }),
      { timeout: 200 },
    );
    const daemon = await start(orrery, [d]);
    const run = await orrery.dags.trigger('slowpoke');
    const done = await finished(orrery, run.id);
    await daemon.stop();
    expect(aborted).toBe(true);
    expect(done.status).toBe('failed');
    expect(done.tasks[0]!.error).toMatch(/timeout after 200ms/);
  });

  it('logs each attempt and posts failures and retries to a webhook', async () => {
    const { orrery } = await temp();
    const posted: Array<DagTaskAlert & { event: string }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        posted.push(JSON.parse(body) as DagTaskAlert & { event: string });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const d = dag('noisy').task(
      'fails',
      ({ attempt, log }) => {
        log('warn', 'about to fail', { attempt });
        throw new Error(`attempt ${attempt} failed`);
      },
      { retries: 1, retryDelay: 0 },
    );
    const daemon = await start(orrery, [d], { notifier: url });
    const run = await orrery.dags.trigger('noisy');
    const done = await finished(orrery, run.id);
    await waitFor(() => posted.length >= 2, 'two webhook posts');
    await daemon.stop();
    server.close();
    expect(done.tasks[0]).toMatchObject({ status: 'failed', attempts: 2 });
    expect(posted.map((p) => [p.event, p.taskId, p.attempt, p.dag, p.dagRunId])).toEqual([
      ['dag_task_retry', 'fails', 1, 'noisy', run.id],
      ['dag_task_failed', 'fails', 2, 'noisy', run.id],
    ]);
    // `event` in place of `kind`, as a task alert's webhook posts it (docs/dags.md's example).
    for (const p of posted) expect(p).not.toHaveProperty('kind');
    const attempts = await orrery.dags.attempts(run.id, 'fails');
    expect(attempts.map((a) => a.runs[0]!.logs.map((l) => [l.level, l.message, l.attributes]))).toEqual([
      [['warn', 'about to fail', { attempt: 1 }]],
      [['warn', 'about to fail', { attempt: 2 }]],
    ]);
    expect(attempts[1]!.runs[0]!.error).toMatch(/attempt 2 failed/);
    // Archived to the tables, the attempts' runs and their logs are read back from there (they read as "not run").
    const summary = await orrery.archive({ before: new Date(Date.now() + 60_000) });
    expect(summary.runs).toBeGreaterThanOrEqual(2);
    const withoutLogIds = (list: typeof attempts) => list.map((a) => ({ ...a, runs: a.runs.map((r) => ({ ...r, logs: r.logs.map(({ at, level, message, attributes }) => ({ at, level, message, attributes })) })) }));
    expect(withoutLogIds(await orrery.dags.attempts(run.id, 'fails'))).toEqual(withoutLogIds(attempts)); // archived log records keep no id
  });

  it('register takes a definition from dag(...) as it takes its input', async () => {
    const { orrery } = await temp();
    const d = dag('direct').task('a', () => 1).task('b', () => 2, { after: ['a'] });
    const [byDefinition] = await orrery.dags.register([d]);
    expect(byDefinition).toMatchObject({ id: 'direct', created: true });
    const [byInput] = await orrery.dags.register([d.toInput()]);
    expect(byInput).toMatchObject({ id: 'direct', created: false, newVersion: false, version: byDefinition!.version });
    await orrery.dags.register([{ id: 'other', tasks: [{ id: 'x' }] }]);
    // Anything but an array is a ValidationError naming dags (a string threw 'inputs.map is not a function').
    await expect(orrery.dags.register('x' as never)).rejects.toThrow(/^dags: must be an array of DAG definitions/);
    // A definition that is no object is named by its place alone (it read 'dags[0]: : must be an object').
    for (const bad of [null, 5, 'x']) await expect(orrery.dags.register([bad] as never)).rejects.toThrow(/^dags\[0\]: must be an object$/);
    // list's argument is latest, 0 to 100 as get's and the routes' (it was named limit, and 101 passed).
    for (const bad of [-1, 101, 1.5, '3', null]) await expect(orrery.dags.list(bad as never)).rejects.toThrow(/^latest: must be an integer from 0 to 100$/);
    await expect(orrery.dags.get('direct', 101)).rejects.toThrow(/^latest: must be an integer from 0 to 100$/);
    const run = await orrery.dags.trigger('direct');
    await orrery.dags.trigger('other');
    // A DAG id alone is that DAG's runs, as { dag }.
    expect((await orrery.dags.runs('direct')).map((r) => r.id)).toEqual([run.id]);
    expect(await orrery.dags.runs('direct')).toEqual(await orrery.dags.runs({ dag: 'direct' }));
  });

  it('a cron schedule whose last point has passed is stored again as it was: the file that declares it keeps starting', async () => {
    const clock = new ManualClock('2026-12-30T00:00:00Z');
    const { orrery } = await temp({ clock });
    const input = { id: 'ending', schedule: { cron: '0 0 3 * * * 2026' }, tasks: [{ id: 'a' }] };
    const [first] = await orrery.dags.register([input]);
    expect((await orrery.dags.next('ending', { count: 5 })).occurrences).toHaveLength(2); // its year field ends it
    clock.set(new Date('2027-01-03T00:00:00Z'));
    // It failed with 'schedule.cron: cron expression "0 0 3 * * * 2026" never fires' (every process starting with the file exited 2).
    const [again] = await orrery.dags.register([input]);
    expect(again).toMatchObject({ id: 'ending', created: false, newVersion: false, version: first!.version });
    // One that never fires at all is still refused.
    await expect(orrery.dags.register([{ id: 'never', schedule: { cron: '0 0 31 2 *' }, tasks: [{ id: 'a' }] }])).rejects.toThrow('dags[0]: schedule.cron: cron expression "0 0 31 2 *" never fires');
  });

  it('a handlers file with a bad DAG is refused before any of its task types is stored (DAG audit: its types were created, then the start exited 2)', async () => {
    const { orrery } = await temp();
    const cyclic = dag('cyc').task('a', () => 1, { after: ['b'] }).task('b', () => 2, { after: ['a'] });
    const mod = toHandlersModule({ taskTypes: [{ name: 'newtype', backendName: 'plain' }], handlers: { plain: async () => true }, dags: [dag('fine').task('x', () => 1), cyclic] }, 'test');
    await expect(prepareTypes({ get: (n) => orrery.getTaskType(n), create: (t) => orrery.ensureTaskType(t) }, mod, silentLogger)).rejects.toThrow('dags[1]: DAG "cyc" has a cycle: a -> b -> a');
    expect((await orrery.listTaskTypes()).map((t) => t.name)).toEqual([]);
    // A DAG task on a type of another backend, declared by the file itself (review: the file's types were stored first) or stored already.
    const onPlain = toHandlersModule({ taskTypes: [{ name: 'newtype', backendName: 'plain' }, { name: 'other' }], handlers: { plain: async () => true, other: async () => true }, dags: [dag('d').task('x', () => 1, { type: 'newtype' })] }, 'test');
    await expect(prepareTypes({ get: (n) => orrery.getTaskType(n), create: (t) => orrery.ensureTaskType(t) }, onPlain, silentLogger)).rejects.toThrow('dags[0]: tasks[0].type: task type "newtype" has backend "plain"; DAG tasks need a type whose backend is "orrery.dag"');
    expect((await orrery.listTaskTypes()).map((t) => t.name)).toEqual([]);
    await orrery.createTaskType({ name: 'stored', backendName: 'plain' });
    const onStored = toHandlersModule({ taskTypes: [{ name: 'other' }], handlers: { other: async () => true }, dags: [dag('d').task('x', () => 1, { type: 'stored' })] }, 'test');
    await expect(prepareTypes({ get: (n) => orrery.getTaskType(n), create: (t) => orrery.ensureTaskType(t) }, onStored, silentLogger)).rejects.toThrow('dags[0]: tasks[0].type: task type "stored" has backend "plain"');
    expect((await orrery.listTaskTypes()).map((t) => t.name)).toEqual(['stored']);
  });

  it('workers whose files hold different DAGs of their own types each run only their own DAGs\' attempts', async () => {
    const { orrery, path } = await temp();
    const other = await openOrrery({ db: `sqlite:${path}` });
    const rem = dag('rem', { defaults: { type: 'rem.dag' } }).task('x', () => 'x').task('y', () => 'y', { after: ['x'] });
    const oth = dag('oth', { defaults: { type: 'oth.dag' } }).task('z', () => 'z');
    await orrery.dags.register([rem, oth]); // both types exist before either worker reads the types
    const a = await start(orrery, [rem]);
    const b = await start(other, [oth]);
    try {
      // Each worker serves its own DAGs' type only (it served every type whose backend is orrery.dag).
      const served = await waitFor(async () => {
        const ws = (await orrery.listWorkers()).filter((w) => w.registered);
        return ws.length === 2 && ws.every((w) => (w.types?.length ?? 0) > 0) ? ws.map((w) => w.types).sort() : null;
      }, 'both workers registered');
      expect(served).toEqual([['oth.dag'], ['rem.dag']]);
      const runs = [];
      for (let i = 0; i < 4; i++) runs.push(await orrery.dags.trigger('rem'), await orrery.dags.trigger('oth'));
      const done = await Promise.all(runs.map((r) => finished(orrery, r.id)));
      // Before, each worker claimed the other's attempts too and failed them for good ("has no task").
      expect(done.map((r) => r.status)).toEqual(runs.map(() => 'success'));
    } finally {
      await a.stop();
      await b.stop();
      await other.close();
    }
  });

  it('a task whose code is gone from the worker fails permanently, naming it', async () => {
    const { orrery } = await temp();
    await orrery.dags.register([{ id: 'moved', tasks: [{ id: 'old', retries: 3 }] }]);
    const daemon = await start(orrery, [dag('other').task('x', () => 1)]);
    const run = await orrery.dags.trigger('moved');
    const done = await finished(orrery, run.id);
    await daemon.stop();
    expect(done.tasks[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(done.tasks[0]!.error).toMatch(/no task "old" in DAG "moved"/);
    // `task why` on the attempt's task points to its DAG run, not to a respawn the task refuses.
    const why = await orrery.whyTask(done.tasks[0]!.orreryTask!);
    expect(why).toMatchObject({ state: 'done', heldBy: 'task-status' });
    expect(why.summary).toContain(`restart its DAG run to run it again (orrery dag-run restart ${run.id})`);
    expect(why.summary).not.toMatch(/task respawn/);
  });

  for (const store of ['sqlite', 'postgres'] as const) {
    it(`a task's upstream holds its parents' results by id, in code point order on either store (${store})`, async () => {
      // PostgreSQL's jsonb keeps shorter keys first: 'totals' came before 'customers' there (audit, 2026-12-05).
      let orrery: Orrery;
      if (store === 'sqlite') orrery = (await temp()).orrery;
      else {
        const db = await createTestDatabase('dagupstream');
        orrery = await openOrrery({ db: db.url });
        pgCleanup.push(async () => (await orrery.close(), await db.drop()));
      }
      let seen: string[] = [];
      const d = dag('order')
        .task('totals', () => ({ revenue: 1 }))
        .task('customers', () => ({ customers: 2 }))
        .task('load', ({ upstream }) => void (seen = Object.keys(upstream)), { after: ['totals', 'customers'] });
      const daemon = await start(orrery, [d]);
      const run = await orrery.dags.trigger('order');
      const done = await finished(orrery, run.id);
      await daemon.stop();
      expect(done.status).toBe('success');
      expect(seen).toEqual(['customers', 'totals']);
    });

    it(`runs a 1,000-task DAG of no-op tasks end to end (${store})`, async () => {
      let orrery: Orrery;
      if (store === 'sqlite') orrery = (await temp()).orrery;
      else {
        const db = await createTestDatabase('dag1000');
        orrery = await openOrrery({ db: db.url });
        pgCleanup.push(async () => (await orrery.close(), await db.drop()));
      }
      const layers = 10;
      const width = 100;
      const big = dag('big');
      for (let l = 0; l < layers; l++) {
        for (let i = 0; i < width; i++) {
          big.task(`l${l}-${i}`, () => null, l === 0 ? {} : { after: [`l${l - 1}-${i}`, `l${l - 1}-${(i + 1) % width}`] });
        }
      }
      const daemon = await start(orrery, [big]);
      const t0 = performance.now();
      const run = await orrery.dags.trigger('big');
      const done = await finished(orrery, run.id, 120_000);
      const ms = performance.now() - t0;
      await daemon.stop();
      expect(done.status).toBe('success');
      expect(done.tasks).toHaveLength(1000);
      expect(done.tasks.every((t) => t.status === 'success' && t.attempts === 1)).toBe(true);
      // layer by layer: every task started after both its parents ended
      const ended = new Map(done.tasks.map((t) => [t.taskId, t.ended!.getTime()]));
      for (const t of done.tasks) for (const p of t.after) expect(t.started!.getTime()).toBeGreaterThanOrEqual(ended.get(p)!);
      console.log(`1,000-task DAG (10 layers of 100, 2 parents each) on ${store}: ${Math.round(ms)} ms end to end`);
    }, 150_000);
  }
});
