import { existsSync } from 'node:fs';
import { checkCallback, checkFlag, knownOptions } from '../core/options.js';
import { PermanentFailure, RetryAfter, invalid } from '../core/errors.js';
import { redactUrl } from '../store/redact-url.js';
import type { TaskType } from '../core/model.js';
import type { TaskInput, TaskTypeInput } from '../core/validation.js';
import { Reaper } from '../engine/reaper.js';
import { Runner } from '../engine/runner.js';
import { Orrery } from '../engine/service.js';
import { VirtualClock } from '../engine/virtual-clock.js';
import { holdingClock } from '../engine/virtual-store.js';
import { openStore, sqlitePath } from '../store/open-store.js';
import { checkSqlitePath } from '../store/sqlite/sqlite-connection.js';
import { systemClock, type Clock, type Timer } from '../engine/clock.js';
import { Worker } from '../engine/worker.js';
import type { Handler } from '../worker/handlers.js';
import { DAG_TASK_TYPE } from '../core/dag.js';
import { Collector, END_STATUSES } from './collector.js';
import { drawDuration, Random } from './random.js';
import { isCheckedScenario, parseScenario, type Scenario } from './scenario.js';
import { SimProcess } from './sim-process.js';
import { SimStore } from './sim-store.js';
import { summarize, seriesOf, type SimulationSummary } from './summary.js';
import { WakeGate } from './wake-gate.js';
import { SimWorld, type Job } from './world.js';

export type { LagSummary, SeriesRow, SimulationResult, SimulationSummary } from './summary.js';
import type { SimulationResult } from './summary.js';

/** Where a simulation is, for a progress bar. */
export interface SimulationProgress {
  /** The simulated instant reached. */
  at: Date;
  /** The simulated window. */
  from: Date;
  to: Date;
  /** Runs ended so far. */
  runs: number;
  /** Wall-clock milliseconds since the simulation started. */
  wallMs: number;
}

/** Options of `simulate` and `runSimulation`. */
export interface SimulateOptions {
  /** Called at the end of every series interval of simulated time, and at the window's end. */
  onProgress?: (p: SimulationProgress) => void;
  /**
   * Run in real time instead (the system's timers, the scenario's start shifted to now): the same
   * scenario takes its whole duration in wall time. For checking the virtual clock against reality
   * with short scenarios (millisecond durations); default false.
   */
  realTime?: boolean;
  /**
   * The virtual clock's `quietTurns` (default 1: the engine reads the clock or calls the store in the
   * turn its timer fires; docs/testing.md). Has no effect with `realTime`.
   */
  quietTurns?: number;
  /**
   * Checks the simulation's own short cuts (docs/simulate.md#how-faithful-how-fast): each claim it
   * answers as empty without the store is made to the store too, and a claim that finds work there
   * fails the simulation. Slower; for tests. Default false.
   */
  verifyShortCuts?: boolean;
}

/** Queue samples per series interval. */
const QUEUE_SAMPLES_PER_INTERVAL = 6;
/** Tasks created per call at the start. */
const CREATE_CHUNK = 10_000;

/**
 * Runs a scenario (SCENARIO.json's content, validated here) with the real engine and a real store on a
 * virtual clock, and answers its summary (docs/simulate.md).
 */
export async function simulate(scenario: unknown, opts: SimulateOptions = {}): Promise<SimulationSummary> {
  return (await runSimulation(scenario, opts)).summary;
}

/** Like `simulate`, also answering the series (series.csv's rows). */
export async function runSimulation(input: unknown, opts: SimulateOptions = {}): Promise<SimulationResult> {
  // Its options checked before anything runs: a misspelt one was ignored, and an onProgress that is no function crashed the process.
  opts = knownOptions(opts, ['onProgress', 'realTime', 'quietTurns', 'verifyShortCuts']);
  checkCallback(opts.onProgress, 'onProgress');
  // Flags are booleans: realTime: 'false' ran in real time.
  checkFlag(opts.realTime, 'realTime');
  checkFlag(opts.verifyShortCuts, 'verifyShortCuts');
  // Only a scenario parseScenario answered is taken as checked (any object whose start was a Date was: its fields ran unchecked).
  const s = isCheckedScenario(input) ? input : parseScenario(input);
  const wall0 = performance.now();
  const from = s.start.getTime();
  const to = from + s.duration;
  const clock: SimClock = opts.realTime ? new ShiftedSystemClock(s.start) : new VirtualClock(s.start, { quietTurns: opts.quietTurns ?? 1 });
  // On PostgreSQL, one connection: its queries then run one at a time, in the order the engine sends
  // them, so their answers come back in that order and a scenario and seed give the same forecast
  // (with a pool, concurrent queries answered in the server's real-time order made runs differ).
  const sim = new SimStore(await openStore(s.store, { pgPoolSize: 1 }), opts.verifyShortCuts === true);
  const store = sim.wrap();
  const orrery = new Orrery(clock instanceof VirtualClock ? holdingClock(store, clock) : store, clock);
  // Recorded visits jitter their origins' queue positions: from the seed, like every other draw.
  const visitJitter = new Random(s.seed, 'visits:positions');
  orrery.visits.rng = () => visitJitter.next();
  try {
    await refuseHeld(orrery, s.store);
    return await runOn(orrery, clock, sim, s, from, to, wall0, opts);
  } finally {
    await orrery.store.close();
  }
}

/** A forecast is of the scenario alone: types, tasks or origins already in its store would be counted in. */
async function refuseHeld(orrery: Orrery, url: string): Promise<void> {
  const held = (await orrery.listTaskTypes()).length + (await orrery.searchTasks({ limit: 1 })).length + (await orrery.visits.listListers()).length;
  if (held > 0) throw invalid('store', `the simulation needs an empty database; ${redactUrl(url)} already holds task types, tasks or listers (give another store, or sqlite::memory:)`);
}

/**
 * Refuses a scenario's store that holds data already, as runSimulation does at its start, without
 * running anything: `orrery simulate --compare` asks it of the second scenario before the first runs.
 * The store is opened and closed (a SQLite file that does not exist is not looked at, nor created).
 */
export async function checkSimulationStore(url: string): Promise<void> {
  // A SQLite file not there yet is empty: not created by the look.
  const path = sqlitePath(url);
  // A file that cannot be opened (its directory missing) is said now, as opening it would, before anything
  // runs or --out is made (the look found it only after).
  if (path !== null) checkSqlitePath(path);
  if (url === 'sqlite::memory:' || (path !== null && !existsSync(path))) return;
  const store = await openStore(url, { pgPoolSize: 1 });
  try {
    await refuseHeld(new Orrery(store), url);
  } finally {
    await store.close();
  }
}

/** What a simulation needs of its clock: a VirtualClock, or the system's timers for `realTime`. */
interface SimClock extends Clock {
  nowMs(): number;
  run(until: Date): Promise<Date>;
}

/** The system clock seen from the scenario's start: its instant is `start` plus the wall time elapsed. */
class ShiftedSystemClock implements SimClock {
  private readonly offset: number;
  constructor(start: Date) {
    this.offset = start.getTime() - Date.now();
  }
  now(): Date {
    return new Date(this.nowMs());
  }
  nowMs(): number {
    return Date.now() + this.offset;
  }
  setTimer(ms: number, fn: () => void): Timer {
    return systemClock.setTimer(ms, fn);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
  async run(until: Date): Promise<Date> {
    await systemClock.sleep(until.getTime() - this.nowMs());
    return this.now();
  }
}

async function runOn(orrery: Orrery, clock: SimClock, sim: SimStore, s: Scenario, from: number, to: number, wall0: number, opts: SimulateOptions): Promise<SimulationResult> {
  for (const t of s.taskTypes) await orrery.ensureTaskType(t as TaskTypeInput);
  const intervals = Math.max(1, Math.ceil((to - from) / s.interval));
  const world = new SimWorld(orrery, clock, s, intervals);
  // The DAGs' task types are created as their DAGs are stored.
  await world.setup();
  const types: TaskType[] = await orrery.listTaskTypes();
  const collector = new Collector(
    types.map((t) => t.name),
    from,
    to,
    s.interval,
  );
  orrery.events.on('run', (e) => {
    if (e.event !== 'ended' || !e.run.ended) return;
    const at = e.run.ended.getTime();
    collector.ended(e.run.type, e.run.status as 'lost', at);
    const interval = collector.intervalOf(at);
    const taskDone = sim.taskDoneAfter(e.run.id);
    if (interval !== null) world.ended(e.run, interval, taskDone);
  });

  // The populations, due over their spread.
  for (const [k, p] of s.tasks.entries()) {
    const rng = new Random(s.seed, `tasks:${k}`);
    for (let i = 0; i < p.count; i += CREATE_CHUNK) {
      const batch: TaskInput[] = [];
      for (let j = i; j < Math.min(p.count, i + CREATE_CHUNK); j++) {
        const nextRun = new Date(from + Math.floor(rng.uniform(0, p.spread)));
        batch.push({ type: p.type, arguments: { args: [k, j], kwargs: {} }, policy: p.policy, priority: p.priority, nextRun, ...(p.schedule !== undefined ? { schedule: p.schedule as TaskInput['schedule'] } : {}) });
      }
      await orrery.createTasksSummary(batch);
    }
  }

  // The engine: one runner, one reaper, the worker processes.
  const loopOpts = { maxSleepMs: s.pollInterval };
  const runner = new Runner(orrery, loopOpts);
  const reaper = new Reaper(orrery, loopOpts);
  const models = new Map(Object.entries(s.handlers));
  const rngs = new Map([...models.keys()].map((t) => [t, new Random(s.seed, `handler:${t}`)]));
  let crashes = 0;
  let slots = 0;
  let processes = 0;
  const alive = new Set<SimProcess>();
  /** Handlers running per process and type: they stop counting when their process dies. */
  const handling = new Map<SimProcess, Map<string, number>>();
  const count = (proc: SimProcess, type: string, d: number) => {
    const m = handling.get(proc)!;
    m.set(type, (m.get(type) ?? 0) + d);
  };

  const gate = new WakeGate(orrery, sim);
  const dagTypes = new Set(types.filter((t) => t.backendName === DAG_TASK_TYPE).map((t) => t.name));
  const served = types.filter((t) => models.has(t.name) || dagTypes.has(t.name)).map((t) => t.name);
  const plain = new Map<string, Job>([...models].map(([t, model]) => [t, { model, rng: rngs.get(t)! }]));
  const spawn = (group: Scenario['workers'][number], name: string, generation: number) => {
    const proc = new SimProcess(clock, orrery, { gate, types: group.types ?? served });
    alive.add(proc);
    handling.set(proc, new Map());
    const handler: Handler = async (ctx) => {
      const type = ctx.run.type;
      const job = world.job(ctx.run, ctx.args, ctx.kwargs, plain.get(type)) ?? plain.get(type);
      if (!job) throw new PermanentFailure(`no model for task type "${type}" in this scenario`);
      const { model, rng } = job;
      const startMs = clock.nowMs();
      let dueAt = sim.dueAt(ctx.run.backendId);
      if (dueAt === undefined) dueAt = (await orrery.store.getTask(ctx.run.task))?.nextRun.getTime() ?? startMs;
      collector.started(type, startMs, Math.max(0, startMs - dueAt));
      count(proc, type, 1);
      const durationMs = drawDuration(model.duration, rng);
      const u = rng.next();
      const eventful = rng.next() < model.eventful;
      try {
        await proc.clock.sleep(durationMs, ctx.signal);
      } finally {
        if (proc.alive) {
          count(proc, type, -1);
          collector.stopped(type, clock.nowMs());
        }
      }
      let p = u;
      if ((p -= model.crash) < 0) {
        crash(proc, group, name, generation);
        return new Promise<never>(() => {});
      }
      if ((p -= model.permfailed) < 0) throw new PermanentFailure('simulated permanent failure');
      if ((p -= model.failed) < 0) throw new Error('simulated failure');
      if ((p -= model.retryAfter) < 0) throw new RetryAfter(model.retryAfterDelay);
      return job.succeed ? job.succeed(clock.nowMs()) : { eventful };
    };
    const handlers: Record<string, Handler> = {};
    for (const t of types) handlers[t.backendName] = handler;
    const worker = new Worker(proc.board, {
      handlers,
      concurrency: group.concurrency,
      types: group.types ?? served,
      ...(group.prefetch !== undefined ? { prefetch: group.prefetch } : {}),
      pollMs: s.pollInterval,
      id: generation === 0 ? name : `${name}#${generation}`,
      clock: proc.clock,
      // No registry rows: a refresh every 10 simulated seconds per process would be most of a long simulation's writes.
      registry: false,
    });
    proc.wantsRuns = () => worker.wantsRuns();
    worker.start();
  };
  const crash = (proc: SimProcess, group: Scenario['workers'][number], name: string, generation: number) => {
    crashes += 1;
    proc.kill();
    alive.delete(proc);
    // Its handlers (this one included) stop counting as running: the process is gone.
    const now = clock.nowMs();
    for (const [type, n] of handling.get(proc)!) for (let i = 0; i < n; i++) collector.stopped(type, now);
    handling.delete(proc);
    clock.setTimer(s.restartDelay, () => spawn(group, name, generation + 1));
  };

  s.workers.forEach((g, gi) => {
    for (let i = 0; i < g.count; i++) {
      processes += 1;
      slots += g.concurrency;
      spawn(g, `sim-w${gi}.${i}`, 0);
    }
  });

  /** The window is over: arrivals and samples stop (real timers may still fire in `realTime`). */
  let finished = false;
  /** The first arrival the engine refused (the scenario's checks should have found it): the run fails with it. */
  let refused: Error | null = null;
  /** What the caller's onProgress threw: the run fails with it. */
  let progressError: unknown = null;
  // Arrivals: Poisson processes, thinned by the hourly profile.
  s.arrivals.forEach((a, k) => {
    const rng = new Random(s.seed, `arrivals:${k}`);
    const maxFactor = a.profile ? Math.max(...a.profile) : 1;
    if (maxFactor <= 0) return;
    const meanGapMs = 3_600_000 / (a.ratePerHour * maxFactor);
    let n = 0;
    const next = () => {
      clock.setTimer(Math.max(1, Math.round(rng.exponential(meanGapMs))), () => {
        if (finished) return;
        const now = clock.now();
        const factor = a.profile ? a.profile[now.getUTCHours()]! : 1;
        if (rng.next() * maxFactor < factor) {
          n += 1;
          orrery
            .createTask({ type: a.type, arguments: { args: [`arrival-${k}`, n], kwargs: {} }, policy: a.policy, priority: a.priority, ...(a.schedule !== undefined ? { schedule: a.schedule as TaskInput['schedule'] } : {}) })
            .catch((e: unknown) => void (refused ??= invalid(`arrivals[${k}]`, `a task arriving at ${now.toISOString()} was refused: ${(e as Error)?.message ?? String(e)}`)));
        }
        next();
      });
    };
    next();
  });

  // Queue samples at from, from + interval/6, ... (before `to`: the window is half-open).
  const sampleEvery = Math.max(1, Math.floor(s.interval / QUEUE_SAMPLES_PER_INTERVAL));
  const sample = async () => {
    const at = clock.now();
    const [queues, due] = await Promise.all([orrery.store.queueStats(at), orrery.store.dueStats(at, 1_000_000_000)]);
    const waiting = new Map<string, number>();
    for (const q of queues) waiting.set(q.type, (waiting.get(q.type) ?? 0) + q.scheduled + q.claimed);
    for (const d of due) waiting.set(d.type, (waiting.get(d.type) ?? 0) + d.due);
    for (const t of collector.types) collector.sampleQueue(t, at.getTime(), waiting.get(t) ?? 0);
  };
  // Progress at the end of every series interval, and at the window's end (it came with an interval's
  // sixth queue sample, before the interval ended, and never for a last partial one or a window
  // shorter than an interval).
  const report = (at: Date) => {
    if (progressError !== null || !opts.onProgress) return;
    // A callback that throws fails the simulation with its error (thrown here, it ended the process).
    try {
      opts.onProgress({ at, from: new Date(from), to: new Date(to), runs: END_STATUSES.reduce((sum, k) => sum + collector.totals[k], 0), wallMs: performance.now() - wall0 });
    } catch (e) {
      progressError = e;
    }
  };
  const progressAt = (at: number) => {
    if (at >= to || !opts.onProgress) return;
    clock.setTimer(at - clock.nowMs(), () => {
      if (finished) return;
      report(clock.now());
      progressAt(at + s.interval);
    });
  };
  progressAt(from + s.interval);
  const sampler = (at: number) => {
    if (at >= to) return;
    clock.setTimer(at - clock.nowMs(), () => {
      if (finished) return;
      sampler(at + sampleEvery);
      void sample();
    });
  };
  sampler(from);

  const loops = [runner, reaper, ...world.loops()];
  for (const l of loops) l.start();
  await clock.run(new Date(to));
  report(new Date(to));
  finished = true;
  world.finish();
  collector.close();
  for (const p of alive) p.kill();
  await Promise.all(loops.map((l) => l.stop()));
  gate.close();
  if (refused) throw refused;
  if (progressError !== null) throw progressError;

  const wallMs = () => Math.round(performance.now() - wall0);
  return { summary: await summarize(orrery, s, collector, world, { wallMs, slots, processes, crashes }), series: seriesOf(collector, slots, world) };
}
