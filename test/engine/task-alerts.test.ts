/**
 * Task alerts (docs/guide.md#alerts): each run end that disables its task for good (retries
 * exhausted, permfailed, dead-lettered by a reaper) and, with onRetry, each failed run whose task runs
 * again stores an alert with the end; a Daemon's taskNotifier delivers them, whichever process
 * recorded the end, at least once, trying a failed delivery again; never DAG attempts, cancellations
 * or successes. The webhook posts them as JSON.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PermanentFailure, ValidationError } from '../../src/core/errors.js';
import { Daemon } from '../../src/engine/daemon.js';
import type { Logger } from '../../src/engine/logger.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { openOrrery } from '../../src/engine/service.js';
import { combineNotifiers, logNotifier, webhookNotifier, type DagTaskAlert } from '../../src/engine/dag-notifier.js';
import { ALERT_LEASE_MS } from '../../src/core/alert-retry.js';
import { combineTaskNotifiers, taskLogNotifier, taskWebhookNotifier, type TaskAlert, type TaskNotifier } from '../../src/engine/task-notifier.js';
import { ALERT_DELIVERY_LIMIT_MS, ALERTS_IN_FLIGHT, ALERTS_STOP_WAIT_MS } from '../../src/engine/alert-sender.js';
import { dag } from '../../src/worker/dag-definition.js';
import { toHandlersModule } from '../../src/worker/handlers.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

describe('task alerts', () => {
  const temp = useTempOrrery();

  it('reports failures for good and retries of the ends this process records, and nothing else', async () => {
    const { orrery } = await temp();
    const mod = toHandlersModule(
      {
        handlers: {
          flaky: () => {
            throw new Error('flaky down');
          },
          fatal: () => {
            throw new PermanentFailure('bad input');
          },
          fine: () => true,
        },
        dags: [dag('pipe').task('step', () => { throw new Error('dag step down'); })],
      },
      'test',
    );
    await orrery.dags.register(mod.dags!.map((d) => d.toInput()));
    await orrery.createTaskType({ name: 'flaky', numRetries: 1, retryDelayMs: 10 });
    await orrery.createTaskType({ name: 'fatal' });
    await orrery.createTaskType({ name: 'fine' });
    await orrery.createTaskType({ name: 'ghostly', maxAbandons: 1, leaseMs: 1000 });
    const alerts: TaskAlert[] = [];
    const notifier: TaskNotifier = { onFailure: (a) => void alerts.push(a), onRetry: (a) => void alerts.push(a) };
    const daemon = new Daemon(orrery, { runner: true, reaper: true, maxSleepMs: 50, worker: { handlers: mod.handlers, concurrency: 5, pollMs: 50, types: ['flaky', 'fatal', 'fine', 'orrery.dag'] }, taskNotifier: notifier });
    daemon.start();
    try {
      const [flaky, fatal] = await orrery.createTasks([
        { type: 'flaky', arguments: { args: [], kwargs: {} }, policy: 'oneshot' },
        { type: 'fatal', arguments: { args: [], kwargs: {} }, policy: 'oneshot' },
        { type: 'fine', arguments: { args: [], kwargs: {} }, policy: 'oneshot' },
      ]);
      // A run its worker never ends: the reaper dead-letters the task (maxAbandons 1).
      const ghost = await orrery.createTask({ type: 'ghostly', arguments: { args: [], kwargs: {} }, policy: 'oneshot' });
      await orrery.scheduleDue({ type: 'ghostly' });
      expect(await orrery.claimRuns({ worker: 'ghost', types: ['ghostly'], limit: 1, startNow: 1 })).toHaveLength(1);
      const dagRun = await orrery.dags.trigger('pipe');
      // A task of the DAG type made by hand is no attempt (dags.md): it fails for good, with a task alert of its own.
      const byHand = await orrery.createTask({ type: 'orrery.dag', arguments: { args: [], kwargs: {} }, policy: 'oneshot' });
      await waitFor(() => alerts.filter((a) => a.kind === 'failed').length >= 4, 'four failures for good');
      await waitFor(async () => (await orrery.dags.run(dagRun.id)).status === 'failed', 'the DAG run to fail');
      const byTask = (id: number) => alerts.filter((a) => a.taskId === id).map((a) => [a.kind, a.status, a.disabledReason, a.attempt]);
      expect(byTask(flaky!.id)).toEqual([['retry', 'failed', null, 1], ['failed', 'failed', 'retries_exhausted', 2]]);
      expect(byTask(fatal!.id)).toEqual([['failed', 'permfailed', 'permfailed', 1]]);
      expect(byTask(ghost.id)).toEqual([['failed', 'lost', 'dead_letter', 1]]);
      expect(alerts.find((a) => a.taskId === flaky!.id && a.kind === 'retry')!.nextRun).toBeInstanceOf(Date);
      expect(alerts.find((a) => a.taskId === fatal!.id)!.error).toMatch(/bad input/);
      expect(byTask(byHand.id)).toEqual([['failed', 'permfailed', 'permfailed', 1]]);
    } finally {
      await daemon.stop();
    }
    // The DAG step's attempt and the fine task: none.
    expect(alerts.map((a) => a.type).sort()).toEqual(['fatal', 'flaky', 'flaky', 'ghostly', 'orrery.dag']);
  });

  it('posts alerts to a webhook as JSON; a delivery that fails is logged and tried again later', async () => {
    const { orrery } = await temp();
    const posted: Array<Record<string, unknown>> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        posted.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(posted.length === 1 ? 500 : 204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const warnings: string[] = [];
    const logger = { info: () => {}, debug: () => {}, error: () => {}, warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)), child: () => logger, isLevelEnabled: () => true } as unknown as Logger;
    await orrery.createTaskType({ name: 'fatal' });
    const mod = toHandlersModule({ handlers: { fatal: () => { throw new PermanentFailure('nope'); } } }, 'test');
    const daemon = new Daemon(orrery, {
      runner: true, reaper: false, maxSleepMs: 50, logger,
      worker: { handlers: mod.handlers, concurrency: 2, pollMs: 50 },
      taskNotifier: taskWebhookNotifier(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`),
    });
    daemon.start();
    try {
      const [a, b] = await orrery.createTasks([1, 2].map((i) => ({ type: 'fatal', arguments: { args: [i], kwargs: {} }, policy: 'oneshot' as const })));
      await waitFor(() => posted.length >= 2, 'two posts');
      expect(posted.map((p) => p.taskId).sort()).toEqual([a!.id, b!.id].sort());
      expect(posted[0]).toMatchObject({ event: 'task_failed', type: 'fatal', status: 'permfailed', disabledReason: 'permfailed', attempt: 1, nextRun: null });
      expect(posted[0]!.ended).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(posted[0]).not.toHaveProperty('kind');
      await waitFor(() => warnings.some((w) => /task alert for task \d+ \(fatal\) .* attempt 1 permfailed: delivery failed \(try 1; next at .*\): webhook http:\/\/127\.0\.0\.1:\d+ answered 500/.test(w)), 'the failed post logged');
      // The delivered alert is marked sent once its answer is read (it may come after the failed one is logged).
      await waitFor(async () => (await orrery.store.alerts.waitingAlerts()).waiting === 1, 'the delivered alert marked sent');
      expect(await orrery.store.alerts.waitingAlerts()).toMatchObject({ waiting: 1, failing: 1 });
    } finally {
      await daemon.stop();
      server.close();
    }
  });

  it('a notifier that hangs holds a stop up for 10 s at most', async () => {
    const clock = new VirtualClock('2026-12-01T00:00:00Z');
    const { orrery } = await temp({ clock });
    await orrery.createTaskType({ name: 'fatal' });
    let called = false;
    const daemon = new Daemon(orrery, { taskNotifier: { onFailure: () => ((called = true), new Promise<void>(() => {})) } });
    daemon.start();
    await orrery.createTask({ type: 'fatal', arguments: { args: [], kwargs: {} }, policy: 'oneshot' });
    const [run] = await orrery.scheduleDue();
    await orrery.startRun(run!.backendId);
    await orrery.endRun(run!.backendId, { status: 'permfailed', error: 'no' });
    await clock.drain();
    expect(called).toBe(true);
    let stopped = false;
    const stopping = daemon.stop().then(() => (stopped = true));
    await clock.advance(ALERTS_STOP_WAIT_MS - 1);
    expect(stopped).toBe(false);
    await clock.advance(1);
    await stopping;
    expect(stopped).toBe(true);
  });

  it('sends 8 alerts at a time, in the order of the ends, the others waiting their turn', async () => {
    const { orrery } = await temp();
    await orrery.createTaskType({ name: 'fatal' });
    let inFlight = 0;
    let most = 0;
    const order: number[] = [];
    const release: Array<() => void> = [];
    const daemon = new Daemon(orrery, {
      taskNotifier: {
        onFailure: (a) => {
          order.push(a.taskId);
          most = Math.max(most, ++inFlight);
          return new Promise<void>((r) => release.push(() => (inFlight--, r())));
        },
      },
    });
    daemon.start();
    const tasks = await orrery.createTasks(Array.from({ length: 20 }, (_, i) => ({ type: 'fatal', arguments: { args: [i], kwargs: {} }, policy: 'oneshot' as const })));
    const runs = await orrery.scheduleDue();
    for (const r of runs) await orrery.startRun(r.backendId);
    await orrery.endRuns(runs.map((r) => ({ backendId: r.backendId, status: 'permfailed' as const, error: 'no' })));
    await waitFor(() => order.length === ALERTS_IN_FLIGHT, 'the first alerts');
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(order).toHaveLength(ALERTS_IN_FLIGHT); // the others wait
    while (order.length < 20 || release.length > 0) {
      release.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await daemon.stop();
    expect(most).toBe(ALERTS_IN_FLIGHT);
    const byRun = new Map(runs.map((r) => [r.task, r.id]));
    expect(order).toEqual([...order].sort((a, b) => byRun.get(a)! - byRun.get(b)!));
    expect(new Set(order)).toEqual(new Set(tasks.map((t) => t.id)));
  });

  it('refuses a notifier without onFailure', async () => {
    const { orrery } = await temp();
    expect(() => new Daemon(orrery, { taskNotifier: {} as TaskNotifier })).toThrow('taskNotifier: must be an object with an onFailure(alert) method');
    expect(() => new Daemon(orrery, { taskNotifier: { onFailure: () => {}, onRetry: 5 } as unknown as TaskNotifier })).toThrow('taskNotifier.onRetry: must be a function (or left out)');
    expect(() => taskWebhookNotifier('http://alice:s3cret@127.0.0.1:9/hook')).toThrow('webhook URL "http://***@127.0.0.1:9/hook" must not hold credentials');
    // A combination checks its notifiers when it is made, not when an alert is delivered; `retries` is a flag.
    expect(() => combineTaskNotifiers([{ onFailure: () => {} }, {} as TaskNotifier])).toThrow('notifiers[1]: must be an object with an onFailure(alert) method');
    expect(() => combineNotifiers([{}] as never)).toThrow('notifiers[0]: must be an object with an onFailure(alert) method');
    expect(() => combineNotifiers({} as never)).toThrow('notifiers: must be an array of notifiers');
    for (const retries of [-1, 1, 'yes']) {
      expect(() => taskWebhookNotifier('http://127.0.0.1:9/hook', { retries: retries as never })).toThrow('retries: must be true or false (post retries too)');
      expect(() => webhookNotifier('http://127.0.0.1:9/hook', { retries: retries as never })).toThrow('retries: must be true or false (post retries too)');
      // Before: the log notifiers took any value (1 read as true)
      const log = { error() {}, warn() {} } as unknown as Logger;
      expect(() => taskLogNotifier(log, { retries: retries as never })).toThrow('retries: must be true or false (post retries too)');
      expect(() => logNotifier(log, { retries: retries as never })).toThrow('retries: must be true or false (post retries too)');
    }
    // A bad URL is a ValidationError naming url (before: a plain Error without a code).
    for (const url of ['not a url', 'ftp://alerts.example/hook', 42]) {
      let e: unknown;
      try {
        taskWebhookNotifier(url as string);
      } catch (x) {
        e = x;
      }
      expect(e, String(url)).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).details[0]!.path).toBe('url');
      expect(() => webhookNotifier(url as string)).toThrow(ValidationError);
    }
  });

  it('an alert outlives the process that recorded the end: another process with a notifier delivers it', async () => {
    const { orrery, path } = await temp();
    await orrery.createTaskType({ name: 'fatal' });
    // No notifier here: the ends are recorded, their alerts stored.
    await orrery.createTasks([1, 2].map((i) => ({ type: 'fatal', arguments: { args: [i], kwargs: {} }, policy: 'oneshot' as const })));
    const runs = await orrery.scheduleDue();
    for (const r of runs) await orrery.startRun(r.backendId);
    await orrery.endRuns(runs.map((r) => ({ backendId: r.backendId, status: 'permfailed' as const, error: 'no' })));
    expect((await orrery.store.alerts.waitingAlerts()).waiting).toBe(2);
    const other = await openOrrery({ db: `sqlite:${path}` });
    const alerts: TaskAlert[] = [];
    const daemon = new Daemon(other, { taskNotifier: { onFailure: (a) => void alerts.push(a) } });
    daemon.start();
    try {
      await waitFor(() => alerts.length === 2, 'both alerts');
      await waitFor(async () => (await orrery.store.alerts.waitingAlerts()).waiting === 0, 'the delivered alerts deleted');
    } finally {
      await daemon.stop();
      await other.close();
    }
    expect(alerts.map((a) => a.backendId)).toEqual(runs.map((r) => r.backendId));
    expect(alerts[0]).not.toHaveProperty('tries');
  });

  it('a failed delivery is tried again 10 s, 20 s, 40 s ... later, and given up after 24 hours with an error line', async () => {
    const clock = new VirtualClock('2026-12-01T00:00:00Z');
    const { orrery } = await temp({ clock });
    await orrery.createTaskType({ name: 'fatal' });
    const errors: string[] = [];
    const logger = { info: () => {}, debug: () => {}, warn: () => {}, error: (_o: unknown, msg?: string) => void errors.push(String(msg)), child: () => logger, isLevelEnabled: () => true } as unknown as Logger;
    const tries: number[] = [];
    let answer: 'fail' | 'ok' = 'fail';
    const daemon = new Daemon(orrery, { logger, taskNotifier: { onFailure: () => { tries.push(clock.nowMs()); if (answer === 'fail') throw new Error('receiver down'); } } });
    daemon.start();
    const end = async () => {
      await orrery.createTask({ type: 'fatal', arguments: { args: [clock.nowMs()], kwargs: {} }, policy: 'oneshot' });
      const [run] = await orrery.scheduleDue();
      await orrery.startRun(run!.backendId);
      await orrery.endRun(run!.backendId, { status: 'permfailed', error: 'no' });
    };
    try {
      await end();
      const t0 = clock.nowMs();
      await clock.advance(75_000);
      expect(tries.map((t) => t - t0)).toEqual([0, 10_000, 30_000, 70_000]);
      expect(await orrery.store.alerts.waitingAlerts()).toMatchObject({ waiting: 1, failing: 1 });
      // Past a day of failures: given up, logged, deleted.
      await clock.advance(25 * 3_600_000);
      expect(errors.some((e) => /task alert for task \d+ \(fatal\) .*: given up after 56 tries since 2026-12-01T00:00:00\.000Z: receiver down/.test(e))).toBe(true);
      expect((await orrery.store.alerts.waitingAlerts()).waiting).toBe(0);
      // The last try is at the 24-hour mark (it was 18 minutes before: a receiver back then never got it).
      expect(tries.at(-1)! - t0).toBe(24 * 3_600_000);
      // Backoff at most 30 min apart.
      expect(Math.max(...tries.slice(1).map((t, i) => t - tries[i]!))).toBe(30 * 60_000);
      // A receiver back up: the next alert's retry delivers it and it is deleted.
      tries.length = 0;
      await end();
      await clock.drain();
      expect(tries).toHaveLength(1);
      answer = 'ok';
      await clock.advance(10_000);
      expect(tries).toHaveLength(2);
      expect((await orrery.store.alerts.waitingAlerts()).waiting).toBe(0);
    } finally {
      await daemon.stop();
    }
  });

  it('alerts a stopped sender was still sending are delivered by another once their lease ends', async () => {
    const clock = new VirtualClock('2026-12-01T00:00:00Z');
    const { orrery } = await temp({ clock });
    await orrery.createTaskType({ name: 'fatal' });
    const hung = new Daemon(orrery, { taskNotifier: { onFailure: () => new Promise<void>(() => {}) } });
    hung.start();
    await orrery.createTask({ type: 'fatal', arguments: { args: [], kwargs: {} }, policy: 'oneshot' });
    const [run] = await orrery.scheduleDue();
    await orrery.startRun(run!.backendId);
    await orrery.endRun(run!.backendId, { status: 'permfailed', error: 'no' });
    await clock.drain();
    const taken = clock.nowMs();
    const stopping = hung.stop();
    await clock.advance(ALERTS_STOP_WAIT_MS);
    await stopping;
    const got: number[] = [];
    const next = new Daemon(orrery, { taskNotifier: { onFailure: () => void got.push(clock.nowMs()) } });
    next.start();
    try {
      await clock.advance(ALERT_LEASE_MS + 1000);
      expect(got).toHaveLength(1);
      expect(got[0]! - taken).toBeGreaterThanOrEqual(ALERT_LEASE_MS);
      expect(got[0]! - taken).toBeLessThanOrEqual(ALERT_LEASE_MS + 1000);
      expect((await orrery.store.alerts.waitingAlerts()).waiting).toBe(0);
    } finally {
      await next.stop();
    }
  });

  it("a DAG task's alert outlives the scheduler that recorded it: one without a notifier logs the failure and leaves the alert to one with", async () => {
    const { orrery, path } = await temp();
    const mod = toHandlersModule({ dags: [dag('etl').task('load', () => { throw new Error('load down'); })] }, 'test');
    await orrery.dags.register(mod.dags!.map((d) => d.toInput()));
    const errors: string[] = [];
    const logger = { info: () => {}, debug: () => {}, warn: () => {}, error: (_o: unknown, msg?: string) => void errors.push(String(msg)), child: () => logger, isLevelEnabled: () => true } as unknown as Logger;
    // A scheduler, runner and worker with no DAG notifier: the failure is logged and its alert stored.
    const plain = new Daemon(orrery, { runner: true, reaper: true, maxSleepMs: 50, logger, worker: { handlers: mod.handlers, concurrency: 2, pollMs: 50 } });
    plain.start();
    const run = await orrery.dags.trigger('etl');
    try {
      await waitFor(async () => (await orrery.dags.run(run.id)).status === 'failed', 'the DAG run to fail');
      await waitFor(() => errors.some((e) => /^DAG etl run \d+ \(.*\): task load attempt 1 failed: .*load down/.test(e)), 'the failure logged');
      // A scheduler without a notifier runs no alert sender: the alert waits, never tried.
      expect(await orrery.store.alerts.waitingAlerts()).toMatchObject({ waiting: 1, failing: 0 });
    } finally {
      await plain.stop();
    }
    const other = await openOrrery({ db: `sqlite:${path}` });
    const got: DagTaskAlert[] = [];
    const daemon = new Daemon(other, { runner: true, maxSleepMs: 50, dagNotifier: { onFailure: (a) => void got.push(a) } });
    daemon.start();
    try {
      await waitFor(() => got.length === 1, 'the DAG alert');
      await waitFor(async () => (await orrery.store.alerts.waitingAlerts()).waiting === 0, 'the delivered alert deleted');
    } finally {
      await daemon.stop();
      await other.close();
    }
    expect(got[0]).toMatchObject({ kind: 'failed', dag: 'etl', dagRunId: run.id, taskId: 'load', attempt: 1, execTs: run.execTs });
  });

  it('combined notifiers fail when one of them fails, so the stored alert is tried again (DAG and task alike)', async () => {
    const clock = new VirtualClock('2026-12-01T00:00:00Z');
    const { orrery } = await temp({ clock });
    await orrery.dags.register([{ id: 'etl', tasks: [{ id: 'load' }] }]);
    const calls: number[] = [];
    let fail = true;
    const flaky = { onFailure: () => { calls.push(clock.nowMs()); if (fail) return Promise.reject(new Error('answered 500')); } };
    const daemon = new Daemon(orrery, { runner: true, dagNotifier: combineNotifiers([{ onFailure: () => {} }, flaky]) });
    daemon.start();
    try {
      const run = await orrery.dags.trigger('etl');
      await orrery.dags.progressAll();
      const [queued] = await orrery.scheduleDue({});
      await orrery.startRun(queued!.backendId);
      await orrery.endRun(queued!.backendId, { status: 'failed', error: 'load down' });
      await orrery.dags.progressAll();
      expect((await orrery.dags.run(run.id)).status).toBe('failed');
      await clock.advance(1000);
      expect(calls).toHaveLength(1);
      expect(await orrery.store.alerts.waitingAlerts()).toMatchObject({ waiting: 1, failing: 1 });
      fail = false;
      await clock.advance(10_000);
      expect(calls).toHaveLength(2);
      expect(calls[1]! - calls[0]!).toBe(10_000);
      expect((await orrery.store.alerts.waitingAlerts()).waiting).toBe(0);
    } finally {
      await daemon.stop();
    }
    const task = combineTaskNotifiers([{ onFailure: () => {} }, { onFailure: () => Promise.reject(new Error('down')) }]);
    await expect(task.onFailure({} as TaskAlert)).rejects.toThrow('down');
    // A webhook that cannot be reached is named with the cause, not fetch's bare "fetch failed" (audit, 2026-12-05).
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(taskWebhookNotifier(`http://127.0.0.1:${port}/hook`).onFailure({} as TaskAlert)).rejects.toThrow(`webhook http://127.0.0.1:${port} unreachable (ECONNREFUSED)`);
    // A notifier that throws at once is a failure like a rejected one: the ones after it are still called (audit, 2026-12-05).
    const seen: string[] = [];
    const first = combineTaskNotifiers([{ onFailure: () => { throw new Error('sync boom'); } }, { onFailure: () => void seen.push('second') }]);
    await expect(first.onFailure({} as TaskAlert)).rejects.toThrow('sync boom');
    expect(seen).toEqual(['second']);
  });

  it('a delivery that has not settled in 50 s counts as failed and is tried again later, never taken twice at once', async () => {
    const clock = new VirtualClock('2026-12-01T00:00:00Z');
    const { orrery } = await temp({ clock });
    await orrery.createTaskType({ name: 'fatal' });
    const calls: number[] = [];
    const daemon = new Daemon(orrery, { taskNotifier: { onFailure: () => { calls.push(clock.nowMs()); return calls.length === 1 ? new Promise<void>(() => {}) : undefined; } } });
    daemon.start();
    try {
      await orrery.createTask({ type: 'fatal', arguments: { args: [], kwargs: {} }, policy: 'oneshot' });
      const [run] = await orrery.scheduleDue();
      await orrery.startRun(run!.backendId);
      // Ended a day ahead (an explicit --at): alerted at once all the same.
      await orrery.endRun(run!.backendId, { status: 'permfailed', error: 'no', at: new Date(clock.nowMs() + 86_400_000) });
      const t0 = clock.nowMs();
      await clock.advance(1);
      expect(calls).toEqual([t0]);
      // Failed at the limit, and recorded so, before its hold ran out.
      await clock.advance(ALERT_DELIVERY_LIMIT_MS + 5_000);
      expect(await orrery.store.alerts.waitingAlerts()).toMatchObject({ waiting: 1, failing: 1 });
      // Tried again 10 s after the failure.
      await clock.advance(5_000);
      expect(calls.map((t) => t - t0)).toEqual([0, ALERT_DELIVERY_LIMIT_MS + 10_000]);
      await clock.advance(5 * 60_000);
      expect(calls).toHaveLength(2);
      expect((await orrery.store.alerts.waitingAlerts()).waiting).toBe(0);
    } finally {
      await daemon.stop();
    }
  });

  it("a stopping daemon's worker and runner do not wait for its DAG alerts; the alerts wait after them, 10 s at most", async () => {
    const clock = new VirtualClock('2026-12-01T00:00:00Z');
    const { orrery } = await temp({ clock });
    await orrery.dags.register([{ id: 'etl', tasks: [{ id: 'load' }] }]);
    let cut: unknown = null;
    // It hangs until its signal aborts.
    const onFailure = (_a: unknown, { signal }: { signal: AbortSignal }) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => ((cut = signal.reason), reject(signal.reason))));
    const daemon = new Daemon(orrery, { runner: true, dagNotifier: { onFailure } });
    daemon.start();
    await orrery.dags.trigger('etl');
    await orrery.dags.progressAll();
    const [queued] = await orrery.scheduleDue({});
    await orrery.startRun(queued!.backendId);
    await orrery.endRun(queued!.backendId, { status: 'failed', error: 'load down' });
    await orrery.dags.progressAll();
    await clock.advance(1);
    // The loops stop without the clock moving: the hanging alert does not hold them.
    await daemon.stopLoops();
    let stopped = false;
    const stopping = daemon.stopAlerts().then(() => (stopped = true));
    await clock.advance(ALERTS_STOP_WAIT_MS - 1);
    expect(stopped).toBe(false);
    await clock.advance(1);
    await stopping;
    expect(stopped).toBe(true);
    // The delivery still in flight is aborted by the stop, not left to outlive it (a webhook held the
    // process to its timeout, then failed to record itself in the closed store: alerts audit); it stays stored.
    expect(cut).toEqual(new Error('the process stopped'));
    expect((await orrery.store.alerts.waitingAlerts()).waiting).toBe(1);
  });

  it('a webhook answered by a redirect has failed (followed, the alert became a GET without it and was counted delivered); its headers replace the content type in any case, and bad ones are refused when it is made', async () => {
    const seen: Array<{ method: string; url: string; type: string | undefined; body: string }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, type: req.headers['content-type'], body });
        if (req.url === '/hook') res.writeHead(Number(req.headers['x-answer']), { location: '/target' }).end();
        else res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      for (const code of [301, 302, 303, 307, 308]) {
        const hook = taskWebhookNotifier(url, { headers: { 'x-answer': String(code) } });
        await expect(hook.onFailure({ task: 1 } as unknown as TaskAlert), String(code)).rejects.toThrow(`answered ${code}`);
      }
      expect(seen.map((r) => r.url)).toEqual(['/hook', '/hook', '/hook', '/hook', '/hook']);
      seen.length = 0;
      await taskWebhookNotifier(url.replace('/hook', '/target'), { headers: { 'Content-Type': 'application/vnd.alert+json' } }).onFailure({ task: 1 } as unknown as TaskAlert);
      expect(seen).toMatchObject([{ method: 'POST', type: 'application/vnd.alert+json' }]);
      expect(() => taskWebhookNotifier(url, { headers: { 'bad name': 'x' } })).toThrow('headers.bad name: is not a header a request can carry');
      expect(() => taskWebhookNotifier(url, { headers: { 'x-key': 'a\nb' } })).toThrow('headers.x-key: is not a header a request can carry');
      // Headers given as text or an array were posted as headers named 0, 1 ...; null options were a TypeError.
      for (const headers of ['xy', [['a', 'b']], null]) {
        expect(() => taskWebhookNotifier(url, { headers } as never)).toThrow(/^headers: must be an object of header names and values/);
        expect(() => webhookNotifier(url, { headers } as never)).toThrow(/^headers: must be an object of header names and values/);
      }
      expect(() => taskWebhookNotifier(url, null as never)).toThrow(ValidationError);
      expect(() => webhookNotifier(url, { retry: true } as never)).toThrow(/options\.retry/);
      // Taken when made, then every post failed for a day as "unreachable", or sent as the text "undefined" (alerts audit).
      for (const make of [taskWebhookNotifier, webhookNotifier]) {
        for (const name of ['Transfer-Encoding', 'expect', 'upgrade', 'keep-alive', 'connection', 'content-length']) {
          expect(() => make(url, { headers: { [name]: '1' } })).toThrow(`headers.${name}: is set by the connection, not by a notifier (a post cannot carry it)`);
        }
        for (const value of [undefined, null, { a: 1 }, 5]) expect(() => make(url, { headers: { 'x-n': value } } as never)).toThrow('headers.x-n: must be a string (a header value)');
        // A null timeout was read as the default; it is no duration.
        expect(() => make(url, { timeoutMs: null } as never)).toThrow(/^timeoutMs: must be an integer number of milliseconds/);
      }
      for (const make of [taskLogNotifier, logNotifier]) {
        for (const log of [undefined, null]) expect(() => make(log as never)).toThrow('logger: is required (a pino logger, or an object with error and warn methods)');
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a webhook is cancelled at the 50 s delivery limit, and its timeoutMs is checked when it is made', async () => {
    let arrived = false;
    let aborted = false;
    const server = createServer((req) => {
      arrived = true;
      req.on('close', () => (aborted = true));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const hook = taskWebhookNotifier(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, { timeoutMs: 50_000 });
      const abort = new AbortController();
      const posting = hook.onFailure({ kind: 'failed', taskId: 1, type: 'x', backendId: 'b', attempt: 1, status: 'permfailed', error: null, disabledReason: 'permfailed', nextRun: null, ended: new Date() }, { signal: abort.signal });
      await waitFor(() => arrived, 'the request to arrive');
      abort.abort(new Error('the notifier did not answer within 50 s'));
      await expect(posting).rejects.toThrow();
      await waitFor(() => aborted, 'the request to be cancelled');
    } finally {
      server.closeAllConnections();
      server.close();
    }
    for (const t of [0, -5, 50_001, 1.5, 'abc' as unknown as number]) {
      expect(() => taskWebhookNotifier('http://127.0.0.1:9/hook', { timeoutMs: t }), String(t)).toThrow('timeoutMs: must be an integer number of milliseconds from 1 to 50000');
    }
  });
});
