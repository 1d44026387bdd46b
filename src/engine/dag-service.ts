import { ConflictError, NotFoundError, invalid, shown } from '../core/errors.js';
import { MAX_SEARCH_IDS } from '../core/task-search.js';
import { knownOptions, refuseUnknownKeys } from '../core/options.js';
import { checkDagGet, checkDagLatest, checkDagId, checkDagRunId, checkRequiredDagId, checkDagTaskId, dagRunsFilter } from '../core/call-checks.js';
import { DAG_ATTEMPT_KEY, DAG_BACKEND, DAG_RUN_STATUSES, DAG_TASK_TYPE, type DagAttemptArgs, dagVersion, checkDagTaskBackends, topologicalOrder, type DagRunStatus, type DagSpec, type DagTaskSpec, type DagTaskStatus } from '../core/dag.js';
import type { DagInput } from '../core/dag-input.js';
import { planCancel, planProgress, planRestart, type DagTaskAlert, type TaskInstance } from '../core/dag-progress.js';
import { duePoints } from '../core/dag-schedule.js';
import { planOverlap, runningLimit, type OverlapPlan } from '../core/dag-overlap.js';
import { backfillRange, dagPointsBetween } from '../core/backfill.js';
import { previewCount, previewDag, type Preview } from '../core/schedule-preview.js';
import { priorityRank, type RunLogRecord, type TaskRun } from '../core/model.js';
import type { NewTask } from '../core/validation.js';
import { assertJsonObject, validatePauseReason } from '../core/json-checks.js';
import { dagInput } from './input-parsers.js';
import { assertText, checkCountLimit } from '../core/storable.js';
import type { DagPoint, DagRun, DagTaskRow, NewDagAttempt, StoredDag } from '../store/dag-store.js';
import type { TaskType } from '../core/model.js';
import type { TaskTypeInput } from '../core/validation.js';
import type { AlertSource } from '../store/alert-store.js';
import type { Store } from '../store/store.js';
import { dagGrid, type DagGrid } from './dag-grid.js';

/** What the DAG service uses of the service it belongs to. */
export interface DagHost {
  readonly store: Store;
  now(): Date;
  listTaskTypes(names?: readonly string[]): Promise<TaskType[]>;
  ensureTaskType(input: TaskTypeInput): Promise<TaskType>;
  /** Cancels the current runs of tasks (the `cancel` bulk action). */
  bulkTasks(action: 'cancel', selection: { ids: number[] }): Promise<unknown>;
  disableTasks(ids: readonly number[]): Promise<unknown>;
  /** This process's events: a step that stored alerts says so (`alerts`), waking its DAG alert sender. */
  readonly events: { emit(event: 'alerts', source: AlertSource): boolean };
}

export type { DagAttemptArgs } from '../core/dag.js';

export interface DagSummary extends StoredDag {
  tasks: DagTaskSpec[];
  runs: Partial<Record<DagRunStatus, number>>;
  /** The latest runs, newest first, with their task counts. */
  latest: DagRunSummary[];
}

export interface DagRunSummary extends DagRun {
  tasks: Partial<Record<DagTaskStatus, number>>;
}

export interface DagTaskView {
  taskId: string;
  after: string[];
  status: DagTaskStatus;
  attempts: number;
  retriesLeft: number;
  started: Date | null;
  ended: Date | null;
  durationMs: number | null;
  error: string | null;
  result: unknown;
  /** The jobboard task of the current attempt. */
  orreryTask: number | null;
}

export interface DagRunDetail extends DagRun {
  /** Every task of the run, in dependency order. */
  tasks: DagTaskView[];
}

export interface DagAttemptView {
  attempt: number;
  orreryTask: number;
  notBefore: Date;
  /** The runs of the attempt's jobboard task (more than one when a worker was lost), each with its log. */
  runs: Array<TaskRun & { logs: RunLogRecord[] }>;
}

export interface RegisteredDag {
  id: string;
  version: string;
  created: boolean;
  newVersion: boolean;
}

/** Something the scheduler does per DAG step; its task failures, stored as alerts, are logged by the scheduler. */
export interface DagStepOutcome {
  run: DagRun;
  alerts: DagTaskAlert[];
}

/** DAG workflows over the service (SPEC §3): definitions, triggers, restarts, views, and the scheduler's steps. */
export class DagService {
  constructor(private readonly orrery: DagHost) {}

  private get store() {
    return this.orrery.store.dags;
  }

  /** Validates and stores definitions (synced on start); DAG task types are created when missing. */
  async register(given: ReadonlyArray<DagInput | { toInput(): DagInput }>): Promise<RegisteredDag[]> {
    if (!Array.isArray(given)) throw invalid('dags', 'must be an array of DAG definitions');
    const at = this.orrery.now();
    const { validateDags } = await dagInput();
    // A definition from dag(...) is registered as its input (`d.toInput()`), as a handlers file's are.
    const inputs = given.map((x) => (x && typeof (x as { toInput?: unknown }).toInput === 'function' ? (x as { toInput(): DagInput }).toInput() : x));
    const specs = validateDags(inputs);
    await this.prepareTypes(specs);
    const versions = specs.map((spec) => ({ spec, version: dagVersion(spec) }));
    // All the definitions in one transaction: a storage failure stores none of them.
    const saved = await this.store.saveDags(versions, at);
    this.orrery.store.wake({ kind: 'dags-changed' });
    return saved.map((r, i) => ({ id: versions[i]!.spec.id, version: versions[i]!.version, created: r.created, newVersion: r.newVersion }));
  }

  /**
   * Checks every DAG task's type before anything is written (a type of another backend refuses all
   * the definitions, naming the first task that uses it), then creates the missing ones.
   */
  private async prepareTypes(specs: readonly DagSpec[]): Promise<void> {
    const names = [...new Set(specs.flatMap((s) => s.tasks.map((t) => t.type)))];
    const found = new Map((await this.orrery.listTaskTypes(names)).map((t) => [t.name, t]));
    checkDagTaskBackends(specs, (type) => found.get(type)?.backendName);
    for (const name of names) {
      // Unbounded queue: a wide DAG puts many tasks on the jobboard at once.
      if (!found.has(name)) await this.orrery.ensureTaskType({ name, backendName: DAG_BACKEND, description: name === DAG_TASK_TYPE ? 'DAG tasks' : `DAG tasks (${name})`, maxQueueLength: null });
    }
  }

  /** Every DAG with its run counts and its `latest` runs. */
  async list(latest = 5): Promise<DagSummary[]> {
    checkDagLatest(latest);
    const dags = await this.store.getDags();
    const counts = await this.store.dagRunCounts();
    return Promise.all(dags.map((d) => this.summarise(d, counts, latest)));
  }

  /** One DAG with its latest runs and its recorded schedule points (skipped ranges too); `NotFoundError` when unknown. */
  async get(id: string, latest = 10): Promise<DagSummary & { points: DagPoint[] }> {
    checkDagGet(id, latest);
    const [d] = await this.store.getDags([id]);
    if (!d) throw new NotFoundError(`DAG "${shown(id)}" not found`, [{ path: 'id', message: 'unknown DAG' }]);
    const summary = await this.summarise(d, await this.store.dagRunCounts(), latest);
    return { ...summary, points: await this.store.listDagPoints(id, 50) };
  }

  private async summarise(d: StoredDag, counts: Array<{ dag: string; status: DagRunStatus; count: number }>, latest: number): Promise<DagSummary> {
    const runs: Partial<Record<DagRunStatus, number>> = {};
    for (const c of counts) if (c.dag === d.id) runs[c.status] = c.count;
    return { ...d, tasks: (await this.store.getDagVersion(d.id, d.version)) ?? [], runs, latest: await this.runs({ dag: d.id, limit: latest }) };
  }

  /** A DAG's `limit` (default 25, at most 100) latest runs by task, oldest first: Airflow's grid view. */
  grid(id: string, limit = 25): Promise<DagGrid> {
    checkDagId(id);
    return dagGrid(this.store, id, limit);
  }

  /** DAG runs, newest first, with their task counts; page with `beforeId`. */
  async runs(given: { dag?: string; status?: DagRunStatus; limit?: number; beforeId?: number } | string = {}, more: { status?: DagRunStatus; limit?: number; beforeId?: number } = {}): Promise<DagRunSummary[]> {
    // `runs('etl')` is the runs of DAG etl, as `runs({ dag: 'etl' })` (it listed every DAG's runs);
    // `runs('etl', { status })` takes the rest beside the id, as the typed client does.
    // With the filter as an object, the rest belongs in it: a second argument was ignored (limit 1 listed them all).
    const filter = dagRunsFilter(given, more) as { dag?: string; status?: DagRunStatus; limit?: number; beforeId?: number };
    if (filter === null || typeof filter !== 'object' || filter instanceof Date) throw invalid('filter', 'must be a DAG id or an object { dag, status, limit, beforeId }');
    refuseUnknownKeys(filter, ['dag', 'status', 'limit', 'beforeId'], 'filter');
    for (const k of ['dag', 'status'] as const) {
      if (filter[k] !== undefined && typeof filter[k] !== 'string') throw invalid(k, 'must be a string');
      assertText(filter[k], k);
    }
    // An unknown status matched no run: refused, naming the statuses, as the CLI and HTTP refuse it.
    if (filter.status !== undefined && !(DAG_RUN_STATUSES as readonly string[]).includes(filter.status)) throw invalid('status', `must be one of ${DAG_RUN_STATUSES.join(', ')}`);
    if (filter.limit !== undefined) checkCountLimit(filter.limit);
    if (filter.beforeId !== undefined && !(Number.isSafeInteger(filter.beforeId) && filter.beforeId > 0)) throw invalid('beforeId', 'must be a DAG run id (a positive integer)');
    if (filter.dag !== undefined && (await this.store.getDags([filter.dag])).length === 0) {
      throw new NotFoundError(`DAG "${shown(filter.dag)}" not found`, [{ path: 'dag', message: 'unknown DAG' }]);
    }
    const runs = await this.store.listDagRuns(filter);
    const counts = await this.store.dagTaskCounts(runs.map((r) => r.id));
    return runs.map((r) => ({ ...r, tasks: counts.get(r.id) ?? {} }));
  }

  /**
   * Pauses a DAG: no new DAG run is recorded (its schedule points are taken when it resumes, by its
   * catch-up rule) and its active runs start no new task (running attempts finish; their outcome is
   * taken when it resumes). A manual trigger while paused records a run that starts on resume.
   */
  async pause(id: string, opts: { reason?: string } = {}): Promise<StoredDag> {
    opts = knownOptions(opts, ['reason']);
    const d = await this.requireDag(id);
    const reason = validatePauseReason(opts.reason);
    if (d.paused && (opts.reason === undefined || reason === d.paused.reason)) return d;
    const now = this.orrery.now();
    return this.store.setDagPause(id, { at: d.paused?.at ?? now, reason }, now);
  }

  /** Resumes a paused DAG (an unpaused one is returned unchanged). */
  async resume(id: string): Promise<StoredDag> {
    const d = await this.requireDag(id);
    if (!d.paused) return d;
    return this.store.setDagPause(id, null, this.orrery.now());
  }

  private async requireDag(id: string): Promise<StoredDag> {
    checkRequiredDagId(id);
    const [d] = await this.store.getDags([id]);
    if (!d) throw new NotFoundError(`DAG "${shown(id)}" not found`, [{ path: 'id', message: 'unknown DAG' }]);
    return d;
  }

  /** A manual run at now with `params` (a JSON object every task sees). */
  async trigger(id: string, params: unknown = {}): Promise<DagRun> {
    checkDagId(id);
    assertJsonObject(params, 'params');
    const run = await this.store.triggerRun(id, params as Record<string, unknown>, this.orrery.now());
    this.orrery.store.wake({ kind: 'dags-changed' });
    return run;
  }

  /** One DAG run with every task's status, attempts and duration; `NotFoundError` when unknown. */
  async run(runId: number): Promise<DagRunDetail> {
    const run = await this.requireRun(runId);
    const spec = (await this.store.getDagVersion(run.dag, run.version)) ?? [];
    const after = new Map(spec.map((t) => [t.id, t.after]));
    // In dependency order (ties by id): how the run reads, from its roots to its last task.
    const order = new Map(topologicalOrder(spec).map((t, i) => [t.id, i]));
    const tasks = (await this.store.dagRunTasks(runId))
      .map((t) => view(t, after.get(t.taskId) ?? []))
      .sort((a, b) => (order.get(a.taskId) ?? Infinity) - (order.get(b.taskId) ?? Infinity));
    return { ...run, tasks };
  }

  /** A task's attempts in a run, each with its jobboard runs and their logs. */
  async attempts(runId: number, taskId: string): Promise<DagAttemptView[]> {
    checkDagRunId(runId);
    checkDagTaskId(taskId);
    await this.requireRun(runId);
    const tasks = await this.store.dagRunTasks(runId);
    if (!tasks.some((t) => t.taskId === taskId)) throw new NotFoundError(`DAG run ${runId} has no task "${shown(taskId)}"`, [{ path: 'task', message: 'unknown task' }]);
    const out: DagAttemptView[] = [];
    for (const a of await this.store.dagAttempts(runId, taskId)) {
      const live = await this.orrery.store.listRuns(a.orreryTask);
      // Runs archived to the tables (`orrery archive --table`, serve --retention) are read back from there, with their logs.
      const archived = await this.orrery.store.archive.readArchivedRuns({ task: a.orreryTask, limit: 1000 });
      const liveIds = new Set(live.map((r) => r.id));
      const runs = [
        ...archived.filter((x) => !liveIds.has(x.run.id)).map((x) => ({ ...x.run, logs: x.logs })),
        ...(await Promise.all(live.map(async (r) => ({ ...r, logs: await this.orrery.store.getRunLogs(r.backendId) })))),
      ].sort((x, y) => x.id - y.id);
      out.push({ attempt: a.attempt, orreryTask: a.orreryTask, notBefore: a.notBefore, runs });
    }
    return out;
  }

  /** Re-runs a failed run's failed and upstream-failed tasks; successes are kept. */
  async restart(runId: number): Promise<DagRun> {
    for (let tries = 0; tries < 5; tries++) {
      const run = await this.requireRun(runId);
      if (run.status !== 'failed') {
        throw new ConflictError(`DAG run ${runId} is ${run.status}; only a failed run can be restarted`, [{ path: 'run', message: `run is ${run.status}` }]);
      }
      const spec = await this.structure(run);
      const changes = planRestart(spec, instancesOf(await this.store.dagRunTasks(runId)));
      // Running again at once under its DAG's limit on running runs, else waiting as `scheduled` (docs/dags.md).
      const limit = await this.limitOf(run.dag);
      const updated = await this.store.applyDagStep(runId, run.rev, { changes, attempts: [], status: 'running', restart: true, ...(limit === null ? {} : { limit: { running: limit, over: 'scheduled' } }) }, this.orrery.now());
      if (updated) {
        this.orrery.store.wake({ kind: 'dags-changed' });
        return updated;
      }
    }
    throw new ConflictError(`DAG run ${runId} kept changing; try again`);
  }

  /**
   * A DAG's limit on running runs (maxActiveRuns, one at a time under an overlap policy): a restarted
   * run runs again at once while its DAG is under it; otherwise it waits as `scheduled`, as a new run
   * would, and the scheduler starts it in its turn. The store counts in the restart's transaction.
   */
  private async limitOf(dagId: string): Promise<number | null> {
    const [dag] = await this.store.getDags([dagId]);
    return dag ? runningLimit(dag.overlap, dag.maxActiveRuns) : null;
  }

  /**
   * Cancels a run that is waiting or running: its unfinished tasks become `failed` (`cancelled`) and
   * the run `failed` in one step; then each of their live attempts is cancelled (a waiting jobboard run
   * ends at once, a started one is stopped by its worker) and a retry not yet due is disabled. A
   * cancelled run can be restarted like any failed run.
   */
  async cancel(runId: number): Promise<DagRun> {
    for (let tries = 0; tries < 5; tries++) {
      const run = await this.requireRun(runId);
      if (run.status === 'success' || run.status === 'failed') {
        throw new ConflictError(`DAG run ${runId} already ended ${run.status}; nothing to cancel`, [{ path: 'run', message: `run is ${run.status}` }]);
      }
      const rows = await this.store.dagRunTasks(runId);
      const changes = planCancel(instancesOf(rows), this.orrery.now());
      const updated = await this.store.applyDagStep(runId, run.rev, { changes, attempts: [], status: 'failed' }, this.orrery.now());
      if (!updated) continue; // the scheduler moved it meanwhile: plan again
      const stopped = new Set(changes.map((c) => c.taskId));
      await this.stopAttempts(rows.flatMap((row) => (stopped.has(row.taskId) && row.orreryTask !== null ? [row.orreryTask] : [])));
      this.orrery.store.wake({ kind: 'dags-changed' });
      return updated;
    }
    throw new ConflictError(`DAG run ${runId} kept changing; try again`);
  }

  /** `cancelOther`: cancels an earlier run that is still active (one that ended meanwhile is left alone). */
  private async cancelIfActive(runId: number): Promise<void> {
    try {
      await this.cancel(runId);
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
    }
  }

  /**
   * Creates a waiting run (trigger `backfill`, with `params`) for every schedule point of the DAG in
   * [from, to] (both in the past, at most 1,000 points); they start in order, within the DAG's limit
   * on running runs (docs/dags.md#backfill).
   */
  async backfill(id: string, input: { from?: unknown; to?: unknown; params?: unknown }): Promise<DagRun[]> {
    checkDagId(id);
    const range = backfillRange(input, this.orrery.now(), ['from', 'to', 'params']);
    const params = input.params ?? {};
    assertJsonObject(params, 'params');
    const [d] = await this.store.getDags([id]);
    if (!d) throw new NotFoundError(`DAG "${shown(id)}" not found`, [{ path: 'id', message: 'unknown DAG' }]);
    const points = dagPointsBetween(d.schedule, d.start, range);
    const runs = await this.store.backfillRuns(id, points, params as Record<string, unknown>, this.orrery.now());
    this.orrery.store.wake({ kind: 'dags-changed' });
    return runs;
  }

  /** The DAG's next schedule points (count, default 5), in UTC and in its zone, DST changes marked. */
  async next(id: string, opts: { count?: number } = {}): Promise<Preview & { dag: string }> {
    opts = knownOptions(opts, ['count']);
    checkDagId(id);
    const count = previewCount(opts.count);
    const [d] = await this.store.getDags([id]);
    if (!d) throw new NotFoundError(`DAG "${shown(id)}" not found`, [{ path: 'id', message: 'unknown DAG' }]);
    if (d.nextPoint === null) return { dag: d.id, zone: d.schedule.kind === 'cron' ? d.schedule.tz : 'UTC', occurrences: [] };
    return { dag: d.id, ...previewDag(d.schedule, d.start, d.nextPoint, count) };
  }

  /**
   * Cancels the live runs of these attempt tasks together (one transaction per 1,000: a worker holding
   * 200 of them in its buffer did begin those the cancel had not reached yet, one by one), then
   * disables the ones still waiting (a retry not yet due).
   */
  private async stopAttempts(orreryTasks: readonly number[]): Promise<void> {
    if (orreryTasks.length === 0) return;
    // A bulk selection lists at most 10,000 ids; a DAG may have up to 100,000 tasks.
    for (let i = 0; i < orreryTasks.length; i += MAX_SEARCH_IDS) await this.orrery.bulkTasks('cancel', { ids: orreryTasks.slice(i, i + MAX_SEARCH_IDS) });
    const waiting: number[] = [];
    for (const id of orreryTasks) {
      const task = await this.orrery.store.getTask(id);
      if (task && (task.status === 'next_run_not_scheduled' || task.status === 'next_run_scheduled')) waiting.push(id);
    }
    for (let i = 0; i < waiting.length; i += MAX_SEARCH_IDS) await this.orrery.disableTasks(waiting.slice(i, i + MAX_SEARCH_IDS));
  }

  private async requireRun(runId: number): Promise<DagRun> {
    checkDagRunId(runId);
    const run = await this.store.getDagRun(runId);
    if (!run) throw new NotFoundError(`DAG run ${runId} not found`, [{ path: 'run', message: 'unknown DAG run' }]);
    return run;
  }

  private readonly structures = new Map<string, DagTaskSpec[]>();
  private async structure(run: DagRun): Promise<DagTaskSpec[]> {
    const key = `${run.dag}\u0000${run.version}`;
    let s = this.structures.get(key);
    if (!s) {
      s = (await this.store.getDagVersion(run.dag, run.version)) ?? [];
      this.structures.set(key, s);
    }
    return s;
  }

  /**
   * The task types of the DAG's current version, by task id, for a run of another version: an attempt
   * runs as the type its task has now (the workers that serve the DAG's file now serve that type; the
   * type of the run's version may be served by none any more, and its attempts would wait forever).
   */
  private async currentTypes(run: DagRun, current: string | null): Promise<Map<string, string>> {
    if (current === null || current === run.version) return new Map();
    return new Map((await this.structure({ ...run, version: current })).map((t) => [t.id, t.type]));
  }

  // --- the scheduler's steps ------------------------------------------------------------------

  /** Records due schedule points of every DAG; true when a DAG has more due points than one step takes. */
  async schedulePoints(latenessMs?: number): Promise<{ created: DagRun[]; more: boolean; nextAt: Date | null }> {
    const now = this.orrery.now();
    const created: DagRun[] = [];
    let more = false;
    let nextAt: Date | null = null;
    let active: DagRun[] | null = null; // read once, when a DAG with an overlap policy has points due
    for (const d of await this.store.getDags()) {
      if (d.nextPoint === null || d.paused) continue; // a paused DAG's points wait for its resume
      if (d.nextPoint.getTime() > now.getTime()) {
        if (nextAt === null || d.nextPoint < nextAt) nextAt = d.nextPoint;
        continue;
      }
      const due = duePoints({ schedule: d.schedule, nextPoint: d.nextPoint, now, catchUp: d.catchUp, maxRuns: 100, ...(latenessMs !== undefined ? { latenessMs } : {}) });
      let plan: OverlapPlan = { records: due.records, cancel: [] };
      if (d.overlap !== 'allow') {
        active ??= await this.store.activeDagRuns(10_000);
        plan = planOverlap(d.overlap, active.filter((r) => r.dag === d.id), due.records);
      }
      const runs = await this.store.recordPoints(d.id, d.nextPoint, plan.records, due.nextPoint, now);
      if (runs) {
        created.push(...runs);
        for (const id of plan.cancel) await this.cancelIfActive(id);
      }
      if (runs === null || (due.nextPoint !== null && due.nextPoint.getTime() <= now.getTime())) more = true;
      else if (due.nextPoint !== null && (nextAt === null || due.nextPoint < nextAt)) nextAt = due.nextPoint;
    }
    return { created, more, nextAt };
  }

  /** Moves every active run one step; waiting runs start while their DAG is under its active-run limit. */
  async progressAll(): Promise<{ outcomes: DagStepOutcome[]; more: boolean }> {
    const active = await this.store.activeDagRuns(10_000);
    const dagsOf = await this.store.getDags([...new Set(active.map((r) => r.dag))]);
    // With an overlap policy other than `allow`, a DAG runs one run at a time (core/dag-overlap.ts).
    const limits = new Map(dagsOf.map((d) => [d.id, runningLimit(d.overlap, d.maxActiveRuns)]));
    const versions = new Map(dagsOf.map((d) => [d.id, d.version]));
    const paused = new Set(dagsOf.filter((d) => d.paused).map((d) => d.id));
    const running = new Map<string, number>();
    for (const r of active) if (r.status === 'running') running.set(r.dag, (running.get(r.dag) ?? 0) + 1);
    const outcomes: DagStepOutcome[] = [];
    let more = false;
    for (const r of active) {
      if (paused.has(r.dag)) continue; // held where it is until the DAG resumes
      let run = r;
      if (run.status === 'scheduled') {
        const n = running.get(run.dag) ?? 0;
        if (n >= (limits.get(run.dag) ?? 16)) continue;
        running.set(run.dag, n + 1);
      }
      // A start is checked again in its own transaction: another scheduler may have started one meanwhile.
      const outcome = await this.step(run, limits.get(run.dag) ?? 16, versions.get(run.dag) ?? null);
      if (outcome === null) more = true; // another scheduler moved it: look again
      else {
        if (outcome.alerts.length > 0 || outcome.run.status !== run.status) outcomes.push(outcome);
        run = outcome.run;
        if (run.status === 'success' || run.status === 'failed') running.set(run.dag, (running.get(run.dag) ?? 1) - 1);
      }
    }
    return { outcomes, more };
  }

  /**
   * One step of one run, applied if nobody changed the run meanwhile (null otherwise). Starting a
   * `scheduled` run, its DAG's `limit` on running runs is kept (null: another start took the place).
   * `current`: the DAG's current version, as the caller read it (its attempts take their types from it).
   */
  async step(run: DagRun, limit: number, current: string | null): Promise<DagStepOutcome | null> {
    const now = this.orrery.now();
    const spec = await this.structure(run);
    const rows = await this.store.dagRunTasks(run.id);
    let plan = planProgress(spec, instancesOf(rows), now);
    const starting = run.status === 'scheduled';
    if (!starting && plan.changes.length === 0 && plan.attempts.length === 0 && plan.runStatus === null) return { run, alerts: [] };
    const byId = new Map(spec.map((t) => [t.id, t]));
    const types = plan.attempts.length > 0 ? await this.currentTypes(run, current) : new Map<string, string>();
    // An attempt of a task type deleted since the DAG was registered fails its task (docs/operations.md):
    // its insert would refuse the whole step, and the pass, holding up every other DAG's runs.
    const typeOf = (taskId: string) => types.get(taskId) ?? byId.get(taskId)!.type;
    const wanted = [...new Set(plan.attempts.map((a) => typeOf(a.taskId)))];
    const stored = wanted.length > 0 ? new Set((await this.orrery.store.getTaskTypes(wanted)).map((t) => t.name)) : new Set<string>();
    const missing = new Map<string, string>();
    for (const a of plan.attempts) {
      const type = typeOf(a.taskId);
      if (!stored.has(type)) missing.set(a.taskId, `type: unknown task type "${shown(type)}" (deleted since the DAG was registered; register the DAG again to create it)`);
    }
    if (missing.size > 0) plan = planProgress(spec, instancesOf(rows), now, missing);
    const attempts: NewDagAttempt[] = plan.attempts.map((a) => {
      const task = byId.get(a.taskId)!;
      return {
        taskId: a.taskId,
        attempt: a.attempt,
        notBefore: a.notBefore,
        task: attemptTask(run, { ...task, type: types.get(a.taskId) ?? task.type }, a.attempt, a.notBefore, a.upstream),
      };
    });
    const status = plan.runStatus ?? (starting ? 'running' : null);
    // Its alerts are stored with the step (docs/dags.md#alerts); this process's DAG alert sender is woken.
    const alerts = plan.alerts.map((a) => ({ ...a, dag: run.dag, dagRunId: run.id, execTs: run.execTs }));
    const updated = await this.store.applyDagStep(
      run.id,
      run.rev,
      { changes: plan.changes, attempts, status, ...(plan.runEnded ? { ended: plan.runEnded } : {}), alerts, ...(starting && status === 'running' ? { limit: { running: limit, over: null } } : {}) },
      now,
    );
    if (updated && alerts.length > 0) this.orrery.events.emit('alerts', 'dag');
    return updated ? { run: updated, alerts } : null;
  }
}

function instancesOf(rows: readonly DagTaskRow[]): Map<string, TaskInstance> {
  return new Map(rows.map((r) => [r.taskId, r]));
}

function view(t: DagTaskRow, after: string[]): DagTaskView {
  const durationMs = t.started && t.ended ? t.ended.getTime() - t.started.getTime() : null;
  return {
    taskId: t.taskId,
    after,
    status: t.status,
    attempts: t.attempt,
    retriesLeft: t.retriesLeft,
    started: t.started,
    ended: t.ended,
    durationMs,
    error: t.error,
    result: t.result,
    orreryTask: t.orreryTask,
  };
}

/** The one-shot jobboard task of an attempt: no jobboard retries (the DAG retries), deduplicated by attempt. */
function attemptTask(run: DagRun, spec: DagTaskSpec, attempt: number, notBefore: Date, upstream: Record<string, unknown>): NewTask {
  const marker: DagAttemptArgs = {
    dag: run.dag,
    version: run.version,
    run: run.id,
    task: spec.id,
    attempt,
    execTs: run.execTs.toISOString(),
    params: run.params,
    upstream,
    timeoutMs: spec.timeoutMs,
  };
  return {
    type: spec.type,
    arguments: { args: [], kwargs: { [DAG_ATTEMPT_KEY]: marker } },
    policy: 'oneshot',
    schedule: { kind: 'adaptive' },
    nextRun: notBefore,
    currentIntervalMs: null,
    retriesLeft: 0,
    priority: null,
    priorityRank: priorityRank(null),
    dedupeKey: `dag:${run.id}:${spec.id}:${attempt}`,
  };
}

