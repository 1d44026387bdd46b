import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/engine/clock.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createMetrics } from '../../src/http/metrics.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const plus = (ms: number) => new Date(T0.getTime() + ms);
const args = (u: string) => ({ args: [u], kwargs: {} });

/** The sample lines of the exposition text (no HELP / TYPE comments). */
const samples = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('Prometheus metrics', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function open(): Promise<{ orrery: Orrery; clock: ManualClock }> {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-metrics-'));
    const clock = new ManualClock(T0);
    const orrery = await openOrrery({ db: `sqlite:${join(dir, 'orrery.db')}`, clock });
    cleanups.push(async () => {
      await orrery.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return { orrery, clock };
  }

  it('a reaped run whose cancellation was asked for counts as a reaped lease and under the status it ended with, failed (alerts audit)', async () => {
    const { orrery } = await open();
    const metrics = createMetrics(orrery);
    await orrery.createTaskType({ name: 'e', leaseMs: '30s', numRetries: 0 });
    await orrery.createTask({ type: 'e', arguments: args('e'), policy: 'oneshot' }, { at: T0 });
    const [c] = (await orrery.claim({ worker: 'w9', types: ['e'], limit: 1, startNow: 1, at: T0 })).runs;
    expect((await orrery.cancelRun(c!.run.backendId, { at: plus(10_000) })).outcome).toBe('requested');
    const reaped = await orrery.reapExpired({ at: plus(40_000) });
    expect(reaped.map((r) => [r.run.status, r.run.error])).toEqual([['failed', expect.stringMatching(/^cancelled \(lease expired at /)]]);
    metrics.recordReaped(reaped);
    const lines = samples(await metrics.render());
    expect(lines).toEqual(expect.arrayContaining(['orrery_leases_reaped_total{type="e"} 1', 'orrery_runs_total{type="e",status="failed"} 1']));
    expect(lines.filter((l) => l.startsWith('orrery_runs_total'))).toHaveLength(1);
  });

  it('reports queues from the store at scrape time and the recorded claims, ends, reaps and workers', async () => {
    const { orrery, clock } = await open();
    const metrics = createMetrics(orrery);
    // x: a 30 s lease, dead-lettered on its first loss; y: an idle type (zeros still reported).
    await orrery.createTaskType({ name: 'x', defaultIntervalMs: '1h', leaseMs: '30s', maxAbandons: 1 });
    await orrery.createTaskType({ name: 'y', defaultIntervalMs: '1h' });
    await orrery.createTasks(['a', 'b', 'c', 'd', 'e', 'f'].map((u) => ({ type: 'x', arguments: args(u) })));
    expect(await orrery.scheduleDue({ at: T0 })).toHaveLength(6);

    // Claims: three by w1 after 2 s, one by w2 after 10 s (schedule-to-start 2, 2, 2 observed as they end; w2's is running).
    const w1 = await orrery.claimRuns({ worker: 'w1', types: ['x'], limit: 3, at: plus(2_000) });
    metrics.recordClaim(w1, 'w1');
    const w2 = await orrery.claimRuns({ worker: 'w2', types: ['x'], limit: 1, at: plus(10_000) });
    metrics.recordClaim(w2, 'w2');
    expect([w1.length, w2.length]).toEqual([3, 1]);
    // Their handlers begin at once (the workers' heartbeats mark them started).
    await orrery.heartbeatRuns({ worker: 'w1', runs: w1.map((c) => ({ backendId: c.run.backendId, startedAt: plus(2_000) })), at: plus(2_000) });
    await orrery.heartbeatRuns({ worker: 'w2', runs: w2.map((c) => ({ backendId: c.run.backendId, startedAt: plus(10_000) })), at: plus(10_000) });

    // Ends: eventful after 1 s, failed after 3 s, and one refused end (ended twice) that must not count.
    const [r1, r2, r3] = w1.map((c) => c.run);
    metrics.recordEnd(await orrery.endRun(r1!.backendId, { status: 'eventful', worker: 'w1', at: plus(3_000) }));
    const outcomes = await orrery.endRuns([
      { backendId: r2!.backendId, status: 'failed', worker: 'w1', at: plus(5_000), error: 'boom' },
      { backendId: r1!.backendId, status: 'eventful', worker: 'w1', at: plus(5_000) },
    ]);
    expect(outcomes[1]).toBeInstanceOf(Error);
    metrics.recordEnd(outcomes);

    // w2 heartbeats; w1 goes silent, so its third run is reaped when its lease expires (2 s + 30 s).
    await orrery.heartbeat(w2[0]!.run.backendId, { worker: 'w2', at: plus(20_000) });
    metrics.recordWorkerSeen('w2', plus(20_000));
    const reaped = await orrery.reapExpired({ at: plus(35_000) });
    expect(reaped.map((r) => r.run.backendId)).toEqual([r3!.backendId]);
    metrics.recordReaped(reaped);

    clock.set(plus(60_000));
    const text = await metrics.render();
    const lines = samples(text);
    expect(lines).toEqual(
      expect.arrayContaining([
        // read from the store: 2 waiting since T0, 1 running (w2), 1 dead letter (the reaped task)
        'orrery_queue_length{type="x"} 2',
        'orrery_queue_length{type="y"} 0',
        'orrery_running_runs{type="x"} 1',
        'orrery_running_runs{type="y"} 0',
        'orrery_oldest_scheduled_age_seconds{type="x"} 60',
        'orrery_oldest_scheduled_age_seconds{type="y"} 0',
        'orrery_dead_lettered_tasks{type="x"} 1',
        'orrery_dead_lettered_tasks{type="y"} 0',
        // recorded
        'orrery_runs_total{type="x",status="eventful"} 1',
        'orrery_runs_total{type="x",status="failed"} 1',
        'orrery_runs_total{type="x",status="lost"} 1',
        'orrery_schedule_to_start_seconds_bucket{le="1",type="x"} 0',
        'orrery_schedule_to_start_seconds_bucket{le="2.5",type="x"} 3',
        'orrery_schedule_to_start_seconds_bucket{le="10",type="x"} 3',
        'orrery_schedule_to_start_seconds_bucket{le="+Inf",type="x"} 3',
        'orrery_schedule_to_start_seconds_sum{type="x"} 6',
        'orrery_schedule_to_start_seconds_count{type="x"} 3',
        'orrery_run_duration_seconds_sum{type="x",status="eventful"} 1',
        'orrery_run_duration_seconds_count{type="x",status="eventful"} 1',
        'orrery_run_duration_seconds_sum{type="x",status="failed"} 3',
        'orrery_run_duration_seconds_count{type="x",status="failed"} 1',
        'orrery_run_duration_seconds_sum{type="x",status="lost"} 33',
        'orrery_run_duration_seconds_count{type="x",status="lost"} 1',
        'orrery_leases_reaped_total{type="x"} 1',
        'orrery_workers 2',
      ]),
    );
    expect(lines.filter((l) => l.startsWith('orrery_runs_total'))).toHaveLength(3);
    expect(lines.filter((l) => l.startsWith('orrery_leases_reaped_total'))).toHaveLength(1);
    expect(lines.some((l) => l.startsWith('process_cpu_user_seconds_total '))).toBe(true); // default process metrics
    expect(metrics.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');

    // A minute after its last claim w1 no longer counts; an idle poll (no run) keeps w3 counted.
    clock.set(plus(65_000));
    metrics.recordClaim(await orrery.claimRuns({ worker: 'w3', types: ['y'], limit: 5 }), 'w3');
    clock.set(plus(70_000));
    const later = samples(await metrics.render());
    expect(later).toContain('orrery_workers 2'); // w2 (heartbeat at 20 s) and w3
    expect(later).toContain('orrery_oldest_scheduled_age_seconds{type="x"} 70');
    clock.set(plus(200_000));
    expect(samples(await metrics.render())).toContain('orrery_workers 0');
  });

  it('gives each call its own registry: two in one process, with and without process metrics', async () => {
    const { orrery } = await open();
    await orrery.createTaskType({ name: 'x', defaultIntervalMs: '1h' });
    const first = createMetrics(orrery);
    const second = createMetrics(orrery);
    const bare = createMetrics(orrery, { defaultMetrics: false });
    expect(first.registry).not.toBe(second.registry);
    first.recordReaped([]);
    first.recordEnd({
      run: { id: 1, task: 1, type: 'x', backendId: 'b', status: 'uneventful', scheduled: T0, scheduledFor: T0, started: T0, ended: plus(500), metadata: {}, result: null, error: null, worker: 'w', leaseExpiresAt: null, attempt: 1, cancelRequested: false },
    });
    expect(samples(await first.render())).toContain('orrery_runs_total{type="x",status="uneventful"} 1');
    expect(samples(await second.render()).filter((l) => l.startsWith('orrery_runs_total'))).toEqual([]);
    const bareLines = samples(await bare.render());
    expect(bareLines.filter((l) => !l.startsWith('orrery_'))).toEqual([]);
    expect(bareLines).toEqual(['orrery_queue_length{type="x"} 0', 'orrery_running_runs{type="x"} 0', 'orrery_claimed_runs{type="x"} 0', 'orrery_oldest_scheduled_age_seconds{type="x"} 0', 'orrery_dead_lettered_tasks{type="x"} 0', 'orrery_paused_tasks{type="x"} 0', 'orrery_due_tasks{type="x"} 0', 'orrery_oldest_due_age_seconds{type="x"} 0', 'orrery_task_type_paused{type="x"} 0', ...['alive', 'stale', 'gone', 'stopped'].map((l) => `orrery_registered_workers{liveness="${l}"} 0`), 'orrery_alerts_waiting{state="waiting"} 0', 'orrery_alerts_waiting{state="failing"} 0', 'orrery_workers 0']);
  });

  it('counts the workers of the registry seen in the last hour by liveness, idle ones included', async () => {
    const { orrery } = await open();
    const metrics = createMetrics(orrery, { defaultMetrics: false });
    const w = (id: string) => ({ id, host: 'vm', pid: 1, types: [], concurrency: 1 });
    await orrery.registerWorker(w('idle'));
    await orrery.registerWorker(w('quiet'), { at: plus(-120_000) });
    await orrery.registerWorker(w('lost'), { at: plus(-10 * 60_000) });
    await orrery.registerWorker(w('long-gone'), { at: plus(-2 * 3_600_000) });
    await orrery.registerWorker(w('bye'));
    await orrery.stopWorker('bye');
    // Registered two minutes ago, renewing a lease now: alive, as the listings judge it (the metric read the registry row alone: stale).
    await orrery.createTaskType({ name: 'm' });
    await orrery.createTask({ type: 'm', policy: 'oneshot' });
    await orrery.registerWorker(w('busy'), { at: plus(-120_000) });
    expect(await orrery.claimRuns({ worker: 'busy', types: ['m'], limit: 1, due: true })).toHaveLength(1);
    expect(samples(await metrics.render()).filter((l) => l.startsWith('orrery_registered_workers'))).toEqual([
      'orrery_registered_workers{liveness="alive"} 2',
      'orrery_registered_workers{liveness="stale"} 1',
      'orrery_registered_workers{liveness="gone"} 1',
      'orrery_registered_workers{liveness="stopped"} 1',
    ]);
  });

  it('counts the alerts waiting to be delivered, and those whose delivery failed', async () => {
    const { orrery } = await open();
    const metrics = createMetrics(orrery, { defaultMetrics: false });
    await orrery.createTaskType({ name: 'x' });
    await orrery.createTasks([1, 2].map((i) => ({ type: 'x', arguments: { args: [i], kwargs: {} }, policy: 'oneshot' as const })));
    for (const r of await orrery.scheduleDue()) {
      await orrery.startRun(r.backendId);
      await orrery.endRun(r.backendId, { status: 'permfailed', error: 'no' });
    }
    const taken = await orrery.store.alerts.takeAlerts({ sources: ['task'], at: orrery.now(), limit: 1, leaseMs: 1000 });
    await orrery.store.alerts.settleAlerts({ token: taken.token, done: [], retry: [{ id: taken.alerts[0]!.id, retryAt: plus(10_000), error: 'answered 500' }] });
    expect(samples(await metrics.render()).filter((l) => l.startsWith('orrery_alerts'))).toEqual(['orrery_alerts_waiting{state="waiting"} 2', 'orrery_alerts_waiting{state="failing"} 1']);
  });

  it('reports the effective rates of types with rate limits and of their throttled keys (adaptive limits)', async () => {
    const { orrery, clock } = await open();
    await orrery.createTaskType({ name: 'api', rateLimit: '100/1m', rateLimitPerKey: '10/1s' });
    await orrery.createTaskType({ name: 'free' });
    await orrery.store.throttleRate('api', null, T0);
    await orrery.store.throttleRate('api', 'example.org', T0);
    const metrics = createMetrics(orrery, { defaultMetrics: false });
    const rates = () => metrics.render().then((t) => samples(t).filter((l) => /^orrery_(effective|throttled)/.test(l)));
    expect(await rates()).toEqual(['orrery_effective_rate_per_second{type="api"} 0.8333333333333334', 'orrery_throttled_key_rate_per_second{type="api",key="example.org"} 5']);
    // 5 s later the key is back at 10 per second (+1 per second), the type at 50.83 per minute (+10 per minute).
    clock.set(plus(5_000));
    expect(await rates()).toEqual([`orrery_effective_rate_per_second{type="api"} ${(50.83 * 1000) / 60_000}`]);
  });

  it('reads the store once per scrape and fails the scrape when the store cannot be read', async () => {
    const { orrery } = await open();
    await orrery.createTaskType({ name: 'x', defaultIntervalMs: '1h' });
    const metrics = createMetrics(orrery, { defaultMetrics: false });
    const read = orrery.store.queueStats.bind(orrery.store);
    let reads = 0;
    orrery.store.queueStats = async (at) => {
      reads++;
      return read(at);
    };
    await Promise.all([metrics.render(), metrics.render()]);
    expect(reads).toBe(1); // concurrent scrapes share the read
    await metrics.render();
    expect(reads).toBe(2);
    orrery.store.queueStats = async () => {
      throw new Error('database is down');
    };
    await expect(metrics.render()).rejects.toThrow('database is down');
  });
});
