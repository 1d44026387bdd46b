import type { DagTaskAlert } from '../core/dag-progress.js';
import type { DagRunStatus, DagRunTrigger, DagSchedule, DagSpec, DagTaskSpec, DagTaskStatus } from '../core/dag.js';
import type { InstanceChange, TaskInstance } from '../core/dag-progress.js';
import type { DagPointKind, PointRecord } from '../core/dag-schedule.js';
import type { NewTask } from '../core/validation.js';
import type { TypePause } from '../core/model.js';
import type { DagOverlap } from '../core/dag-overlap.js';

/** A DAG as stored: its current definition (without functions) and where its schedule stands. */
export interface StoredDag {
  id: string;
  description: string;
  version: string;
  schedule: DagSchedule;
  start: Date;
  catchUp: boolean;
  maxActiveRuns: number;
  /** What a schedule point does while an earlier run is active (`allow` by default). */
  overlap: DagOverlap;
  /** The first schedule point not yet recorded; null when there are no more. */
  nextPoint: Date | null;
  created: Date;
  updated: Date;
  /** Set while the DAG is paused (`orrery dag pause`): no new DAG run, no new task of its active runs. */
  paused: TypePause | null;
}

export interface DagRun {
  id: number;
  dag: string;
  /** The structure version the run started with, kept for its whole life (restarts included). */
  version: string;
  execTs: Date;
  trigger: DagRunTrigger;
  status: DagRunStatus;
  params: Record<string, unknown>;
  rev: number;
  restarts: number;
  created: Date;
  started: Date | null;
  ended: Date | null;
}

export interface DagPoint {
  id: number;
  dag: string;
  kind: DagPointKind;
  execTs: Date;
  /** A range of skipped points ends here (null for one point). */
  untilTs: Date | null;
  count: number;
  run: number | null;
  recorded: Date;
}

/** A task of a DAG run as stored, with its current attempt's jobboard task and that task's state. */
export interface DagTaskRow extends TaskInstance {
  /** The jobboard task of the current attempt (null before the first attempt). */
  orreryTask: number | null;
}

/** One attempt of a DAG task: its jobboard task and the runs that task had (logs are per run). */
export interface DagAttempt {
  run: number;
  taskId: string;
  attempt: number;
  orreryTask: number;
  notBefore: Date;
  created: Date;
}

export interface NewDagAttempt {
  taskId: string;
  attempt: number;
  notBefore: Date;
  task: NewTask;
}

/** One step of a run, applied atomically if the run is still at the revision it was computed from. */
export interface DagStep {
  changes: readonly InstanceChange[];
  attempts: readonly NewDagAttempt[];
  status: DagRunStatus | null;
  /** A restart: the run goes back to `running` (or `scheduled`, its DAG at its limit on running runs) and its restart count grows. */
  restart?: boolean;
  /** The run's end when `status` ends it (default: the step's instant). */
  ended?: Date;
  /** DAG task failures to alert of (docs/dags.md#alerts): stored in the step's transaction, recorded at its instant. */
  alerts?: readonly DagTaskAlert[];
  /**
   * With `status` running: the DAG's limit on running runs, checked with its other running runs
   * counted in the step's transaction (core startStatus; PostgreSQL under the DAG's row lock, so
   * starts and restarts made at once keep to it). Over it, `over`: the run is stored `scheduled`
   * (a restart), or the step is not applied (null: a start that lost its turn).
   */
  limit?: { running: number; over: 'scheduled' | null };
}

export interface DagRunFilter {
  dag?: string;
  status?: DagRunStatus;
  /** Only runs with a smaller id (pagination, newest first). */
  beforeId?: number;
  limit?: number;
}

/** DAG storage (SPEC §3), part of the Store port; both stores implement it. */
export interface DagStore {
  /**
   * Stores definitions, all in one transaction (all or none): for each, creates the DAG, or updates its description, schedule and options. A new
   * structure becomes a new version (kept, so older runs keep theirs). A changed schedule or start
   * moves the next point to the first point of the new schedule after the last recorded one.
   */
  saveDags(items: ReadonlyArray<{ spec: DagSpec; version: string }>, at: Date): Promise<Array<{ dag: StoredDag; created: boolean; newVersion: boolean }>>;
  getDags(ids?: readonly string[]): Promise<StoredDag[]>;
  getDagVersion(dag: string, version: string): Promise<DagTaskSpec[] | null>;
  /**
   * Records schedule points if the DAG's next point is still `expected` (else null: another scheduler
   * did it): a run (status `scheduled`, every task `pending`) per `scheduled` or `caught_up` point, then
   * the DAG's next point becomes `nextPoint`.
   */
  recordPoints(dag: string, expected: Date | null, records: readonly PointRecord[], nextPoint: Date | null, at: Date): Promise<DagRun[] | null>;
  /** A manual run at `at` with `params`, on the DAG's current version. */
  triggerRun(dag: string, params: Record<string, unknown>, at: Date): Promise<DagRun>;
  /** A waiting run (trigger `backfill`) per point, in order, with `params`, on the DAG's current version. */
  backfillRuns(dag: string, points: readonly Date[], params: Record<string, unknown>, at: Date): Promise<DagRun[]>;
  getDagRun(id: number): Promise<DagRun | null>;
  /** Newest first. */
  listDagRuns(filter: DagRunFilter): Promise<DagRun[]>;
  /** Runs waiting (`scheduled`) or `running`, by DAG and point. */
  activeDagRuns(limit: number): Promise<DagRun[]>;
  dagRunTasks(runId: number): Promise<DagTaskRow[]>;
  /** Count of each task status, per run. */
  dagTaskCounts(runIds: readonly number[]): Promise<Map<number, Partial<Record<DagTaskStatus, number>>>>;
  /** Applies a step if the run is still at `rev`; returns the updated run, or null when it moved on. */
  applyDagStep(runId: number, rev: number, step: DagStep, at: Date): Promise<DagRun | null>;
  /** Newest first. */
  listDagPoints(dag: string, limit: number): Promise<DagPoint[]>;
  dagAttempts(runId: number, taskId?: string): Promise<DagAttempt[]>;
  /** Pauses (`pause` set) or resumes (null) a DAG; NotFoundError for an unknown id. */
  setDagPause(id: string, pause: TypePause | null, at: Date): Promise<StoredDag>;
  /** Runs per DAG and status. */
  dagRunCounts(): Promise<Array<{ dag: string; status: DagRunStatus; count: number }>>;
}
