import { earlier } from '../core/instants.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TaskRun, TaskType } from '../core/model.js';
import { WORKER_GONE_MS, WORKER_LIVENESS, type WorkerLiveness } from '../core/worker-liveness.js';
import { listWorkers } from '../engine/workers.js';
import type { Orrery } from '../engine/service.js';
import type { QueueStats } from '../store/store.js';
import { registerVisitMetrics } from './visit-metrics.js';

/** Anything that carries a run: `EndRunResult`, `ClaimedRun`, a run event. */
interface HasRun {
  run: TaskRun;
  /** A claimed run's lease (ClaimedRun.leaseMs): its claim instant is the lease end minus it. */
  leaseMs?: number;
}

export interface MetricsOptions {
  /** Also export prom-client's Node.js process metrics (`process_*`, `nodejs_*`) on this registry; default true. */
  defaultMetrics?: boolean;
  /** How long a worker counts in `orrery_workers` after it was last seen (claim or heartbeat); default 60 s. */
  workerWindowMs?: number;
}

/**
 * Orrery's Prometheus metrics on their own registry. Mount `render()` / `contentType` at `/metrics`.
 *
 * Two kinds of samples:
 * - **read at scrape time** from the store (`store.queueStats`), so every process serving `/metrics`
 *   reports the whole queue, whoever runs the workers: `orrery_queue_length{type}`,
 *   `orrery_running_runs{type}`, `orrery_claimed_runs{type}`, `orrery_oldest_scheduled_age_seconds{type}`,
 *   `orrery_dead_lettered_tasks{type}`, `orrery_registered_workers{liveness}` from the worker registry;
 *   `orrery_effective_rate_per_second{type}` and `orrery_throttled_key_rate_per_second{type,key}`
 *   (adaptive limits); and `orrery_workers` from the worker sightings below.
 * - **recorded as events happen in this process**, through the `record*` functions: the counters and
 *   histograms count only what passed through this process (its jobboard routes, its loops), and
 *   restart from zero with it, as Prometheus counters do. Call each function from exactly one place
 *   per event, or the event is counted twice.
 */
export interface OrreryMetrics {
  /** The registry holding every Orrery metric (and the process metrics unless disabled). */
  readonly registry: Registry;
  /** The `Content-Type` of `render()`'s text (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /**
   * The exposition text. Reads the queue from the store once per scrape (concurrent scrapes share the
   * read); rejects when the store cannot be read, so a scrape of an unreachable database fails visibly
   * instead of reporting empty queues.
   */
  render(): Promise<string>;
  /**
   * Runs claimed, as returned by `claimRuns` (in-process workers, `POST /api/jobboard/claim`): marks
   * their worker seen. Pass `worker` to mark the claimer seen even when it got no run (an idle poll).
   * (`orrery_schedule_to_start_seconds{type}`, run.started - run.scheduled, is observed when a run ends:
   * a claimed run starts when a slot of its worker frees.)
   */
  recordClaim(claimed: readonly HasRun[], worker?: string): void;
  /**
   * Runs ended by their holder or given back, as returned by `endRun` / `endRuns` / `abandonRun`
   * (refused ends, the `OrreryError`s in an `endRuns` outcome, are skipped). Counts
   * `orrery_runs_total{type,status}` and observes `orrery_run_duration_seconds{type,status}`
   * (run.ended - run.started). Anything whose run has not ended is ignored, so a stream of run events
   * can be passed as is. Do not pass reaped runs here: use `recordReaped`.
   */
  recordEnd(ended: HasRun | Error | ReadonlyArray<HasRun | Error>): void;
  /**
   * Runs the reaper ended because their lease expired, as returned by `reapExpired` (`lost`, or
   * `failed` when their cancellation was asked for). Counts `orrery_leases_reaped_total{type}` and
   * records them as ended runs too (`orrery_runs_total` under the status each ended with,
   * `orrery_run_duration_seconds`): do not also pass them to `recordEnd`.
   */
  recordReaped(reaped: readonly HasRun[]): void;
  /**
   * A worker showed a sign of life: call it on every heartbeat (`POST /api/jobboard/heartbeat`, or the
   * lease keeper); `recordClaim` already calls it for claims. `orrery_workers` counts the distinct ids
   * seen within the last `workerWindowMs` (default one minute) of the service clock; `at` defaults to
   * the service clock's now.
   */
  recordWorkerSeen(worker: string, at?: Date): void;
}

/** `orrery_registered_workers` counts the registry's workers seen within this long. */
const REGISTRY_WINDOW_MS = 3_600_000;
/** Schedule-to-start latency: from milliseconds (idle workers) to a day (a backed-up queue). */
const LATENCY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400];
/** Run duration: from quick checks to hours-long loads. */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600];

/**
 * Creates Orrery's metrics for one service on a fresh registry (never prom-client's global one, so any
 * number can coexist in one process: tests, several servers).
 */
export function createMetrics(orrery: Orrery, opts: MetricsOptions = {}): OrreryMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const workerWindowMs = opts.workerWindowMs ?? 60_000;
  const registers = [registry];

  // --- read at scrape time ------------------------------------------------------------------------
  // The gauges of one scrape are collected concurrently; each kind of reading is made once and shared.
  const snapshot = sharedReading(async () => {
    const now = orrery.now();
    return { now, stats: await orrery.store.queueStats(now) };
  });
  const typesReading = sharedReading(() => orrery.listTaskTypes());
  /** A gauge per task type, its samples read at scrape time (replaced whole once the reading succeeded). */
  const perTypeGauge = (name: string, help: string, read: () => Promise<Array<[string, number]>>) =>
    new Gauge({
      name,
      help,
      labelNames: ['type'] as const,
      registers,
      async collect(this: Gauge<'type'>) {
        const samples = await read();
        this.reset();
        for (const [type, v] of samples) this.set({ type }, v);
      },
    });
  const queueGauge = (name: string, help: string, value: (s: QueueStats, now: Date) => number) =>
    perTypeGauge(name, help, async () => {
      const { now, stats } = await snapshot();
      return stats.map((s) => [s.type, value(s, now)]);
    });
  queueGauge('orrery_queue_length', 'Runs waiting to be claimed (scheduled), per task type.', (s) => s.scheduled);
  queueGauge('orrery_running_runs', 'Runs whose handler has begun (started), per task type.', (s) => s.running);
  queueGauge('orrery_claimed_runs', 'Runs claimed by workers and waiting in their buffers (claimed), per task type.', (s) => s.claimed);
  queueGauge(
    'orrery_oldest_scheduled_age_seconds',
    'Age of the oldest run waiting to be claimed, per task type (0 when none waits).',
    (s, now) => (s.oldestScheduled === null ? 0 : Math.max(0, (now.getTime() - s.oldestScheduled.getTime()) / 1000)),
  );
  queueGauge('orrery_dead_lettered_tasks', 'Tasks disabled as dead letters (lost too many times in a row), per task type.', (s) => s.deadLettered);
  queueGauge('orrery_paused_tasks', 'Tasks whose schedule is paused (orrery task pause), per task type.', (s) => s.pausedTasks);
  // Due tasks no run serves yet: one reading per scrape, shared by both gauges.
  const dueSnapshot = sharedReading(async () => {
    const now = orrery.now();
    return { now, due: await orrery.dueStats({ at: now }) };
  });
  const dueGauge = (name: string, help: string, value: (d: { due: number; oldestDue: Date }, now: Date) => number) =>
    perTypeGauge(name, help, async () => {
      const [{ now, due }, types] = await Promise.all([dueSnapshot(), typesReading()]);
      const byType = new Map(due.map((d) => [d.type, d]));
      return types.map((t): [string, number] => {
        const d = byType.get(t.name);
        return [t.name, d ? value(d, now) : 0];
      });
    });
  dueGauge('orrery_due_tasks', 'Due tasks no run serves yet (due but not queued), per task type; counted up to 100000.', (d) => d.due);
  dueGauge(
    'orrery_oldest_due_age_seconds',
    'How long the oldest due task no run serves yet has been due, per task type (0 when none).',
    (d, now) => Math.max(0, (now.getTime() - d.oldestDue.getTime()) / 1000),
  );
  /** A gauge per task type from the types as listed (one shared reading per scrape); null: no sample. */
  const typeGauge = (name: string, help: string, value: (t: TaskType) => number | null) =>
    perTypeGauge(name, help, async () => (await typesReading()).flatMap((t): Array<[string, number]> => {
      const v = value(t);
      return v === null ? [] : [[t.name, v]];
    }));
  typeGauge('orrery_task_type_paused', 'Whether the task type is paused (1) or running (0), per task type.', (t) => (t.paused ? 1 : 0));
  // Rates in force, as throttle signals left them (docs/limits.md#adaptive-limits): only types with rate limits have samples.
  const perSecond = (r: { count: number; perMs: number }) => (r.count * 1000) / r.perMs;
  typeGauge(
    'orrery_effective_rate_per_second',
    "Runs per second the task type's rateLimit lets start now (lowered by throttle signals, recovering up to the limit), per task type with a rate limit.",
    (t) => (t.effectiveRate?.type ? perSecond(t.effectiveRate.type) : null),
  );
  const keyRate: Gauge<'type' | 'key'> = new Gauge({
    name: 'orrery_throttled_key_rate_per_second',
    help: 'Runs per second the rateLimitPerKey of a throttled concurrency key lets start now, per task type and key whose rate is below the limit (at most 100 keys per type).',
    labelNames: ['type', 'key'] as const,
    registers,
    async collect() {
      const types = await typesReading();
      keyRate.reset();
      for (const t of types) for (const k of t.effectiveRate?.keys ?? []) keyRate.set({ type: t.name, key: k.key }, perSecond(k));
    },
  });
  registerVisitMetrics(registry, orrery);

  // The worker registry: idle live workers count, stopped ones are told apart (docs/operations.md#workers).
  const registered: Gauge<'liveness'> = new Gauge({
    name: 'orrery_registered_workers',
    help: 'Workers of the worker registry seen in the last hour, by liveness (alive, stale, gone, stopped), from every process on the database.',
    labelNames: ['liveness'] as const,
    registers,
    async collect() {
      const now = orrery.now();
      const counts = new Map<WorkerLiveness, number>(WORKER_LIVENESS.map((l) => [l, 0]));
      // Liveness from the latest sign of life, lease renewals and ends included, as the listings judge it
      // (it read the registry's lastSeen alone: a worker renewing leases between refreshes counted
      // stale). Signs older than WORKER_GONE_MS all say `gone`: the runs' activity is read that far back.
      for (const w of await listWorkers(orrery.store, earlier(now, WORKER_GONE_MS), now, now, earlier(now, REGISTRY_WINDOW_MS))) {
        if (w.registered) counts.set(w.liveness, counts.get(w.liveness)! + 1);
      }
      for (const [liveness, n] of counts) registered.set({ liveness }, n);
    },
  });

  // Alerts stored and not yet delivered: growing means no process sends them, or the receiver fails (docs/guide.md#alerts).
  const alertsWaiting: Gauge<'state'> = new Gauge({
    name: 'orrery_alerts_waiting',
    help: 'Alerts (task and DAG) stored and not yet delivered, from every process on the database: all of them (state="waiting") and those whose delivery failed at least once (state="failing").',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      const w = await orrery.store.alerts.waitingAlerts();
      alertsWaiting.set({ state: 'waiting' }, w.waiting);
      alertsWaiting.set({ state: 'failing' }, w.failing);
    },
  });

  const workersSeen = new Map<string, number>();
  const workers: Gauge = new Gauge({
    name: 'orrery_workers',
    help: `Distinct workers that claimed or heartbeated through this process in the last ${workerWindowMs / 1000} s.`,
    registers,
    collect() {
      const since = orrery.now().getTime() - workerWindowMs;
      for (const [id, seen] of workersSeen) if (seen < since) workersSeen.delete(id);
      workers.set(workersSeen.size);
    },
  });

  // --- recorded as events happen --------------------------------------------------------------------
  const runsTotal = new Counter({
    name: 'orrery_runs_total',
    help: 'Runs ended through this process, per task type and final status.',
    labelNames: ['type', 'status'] as const,
    registers,
  });
  const scheduleToStart = new Histogram({
    name: 'orrery_schedule_to_start_seconds',
    help: 'Time from a run being scheduled to its handler beginning (observed when the run ends), per task type.',
    labelNames: ['type'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const runDuration = new Histogram({
    name: 'orrery_run_duration_seconds',
    help: 'Time from a run being started to ending, per task type and final status.',
    labelNames: ['type', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const leasesReaped = new Counter({
    name: 'orrery_leases_reaped_total',
    help: 'Runs ended lost by the reaper because their lease expired, per task type.',
    labelNames: ['type'] as const,
    registers,
  });

  const seconds = (from: Date, to: Date) => Math.max(0, (to.getTime() - from.getTime()) / 1000);

  const recordWorkerSeen = (worker: string, at: Date = orrery.now()) => {
    if (!worker) return;
    workersSeen.set(worker, Math.max(workersSeen.get(worker) ?? -Infinity, at.getTime()));
  };

  const recordEndedRun = (run: TaskRun) => {
    if (run.ended === null || run.status === 'scheduled' || run.status === 'claimed' || run.status === 'started') return;
    runsTotal.inc({ type: run.type, status: run.status });
    if (run.started !== null) {
      runDuration.observe({ type: run.type, status: run.status }, seconds(run.started, run.ended));
      // The handler's real start is known once the run ended (a claimed run starts when a slot frees).
      scheduleToStart.observe({ type: run.type }, seconds(run.scheduled, run.started));
    }
  };

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    recordClaim(claimed, worker) {
      if (worker !== undefined) recordWorkerSeen(worker);
      for (const { run, leaseMs } of claimed) {
        const at = run.started ?? (run.leaseExpiresAt !== null && leaseMs !== undefined ? new Date(run.leaseExpiresAt.getTime() - leaseMs) : undefined);
        if (run.worker !== null) recordWorkerSeen(run.worker, at);
      }
    },
    recordEnd(ended) {
      const items = Array.isArray(ended) ? (ended as ReadonlyArray<HasRun | Error>) : [ended as HasRun | Error];
      for (const item of items) if (!(item instanceof Error) && item.run) recordEndedRun(item.run);
    },
    recordReaped(reaped) {
      for (const { run } of reaped) {
        leasesReaped.inc({ type: run.type });
        recordEndedRun(run);
      }
    },
    recordWorkerSeen,
  };
}

/** Coalesces concurrent calls into one reading: calls made while one is in flight share its result. */
function sharedReading<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => {
    if (pending) return pending;
    const p = read();
    pending = p;
    const clear = () => {
      if (pending === p) pending = null;
    };
    p.then(clear, clear);
    return p;
  };
}
