/** The shapes the service (`Orrery`, service.ts) takes and answers, beside its class. */
import type { Context } from '@opentelemetry/api';
import type { Task, TaskRun } from '../core/model.js';
import type { WorkerLiveness } from '../core/worker-liveness.js';
import type { WorkerActivity } from '../store/store.js';
import type { Clock } from './clock.js';
import type { EventEmitter } from 'node:events';
import type { CaughtUpTask } from '../store/schedule-store.js';
import type { AlertSource } from '../store/alert-store.js';

/** The service's events (`Orrery.events`): runs of this process, workers seen, late tasks caught up, alert sources that changed. */
export type OrreryEvents = EventEmitter<{ run: [RunEvent]; worker: [string]; caughtUp: [CaughtUpTask[]]; alerts: [AlertSource] }>;

export interface RunEvent {
  /** What happened to the run in this process. */
  event: 'scheduled' | 'claimed' | 'started' | 'ended';
  /** The run as stored after the change. */
  run: TaskRun;
  /** Set on runs the reaper ended because their lease expired. */
  reaped?: boolean;
}

export interface OpenOptions {
  /** Database URL (`sqlite:PATH`, `sqlite::memory:`, `postgres://user:pass@host:port/db`); defaults to `ORRERY_DB` or `sqlite:./orrery.db`. */
  db?: string;
  /**
   * Where "now" and the loops' timers come from (default the system clock; `ManualClock` in tests and
   * replays; `VirtualClock` for simulated time, which then also waits for every store call in flight).
   */
  clock?: Clock;
}

export interface At {
  at?: Date;
}

/** Options of task creation. */
export interface CreateOptions extends At {
  /** The creation instant (default: the clock's now). */
  at?: Date;
  /**
   * The OpenTelemetry context the creation's `orrery.create` span is a child of (default: the active
   * context); the HTTP API passes the one of its request's `traceparent` header (docs/tracing.md).
   */
  traceContext?: Context;
}

export interface TaskWithRuns extends Task {
  /** The task's runs, oldest first. */
  runs: TaskRun[];
}

/**
 * A worker as the listing shows it (`orrery worker list`, GET /api/workers, the dashboard): its registry
 * row, its activity from the runs, its latest sign of life and its liveness.
 */
export interface WorkerView extends WorkerActivity {
  /** The latest of its registry refresh, its last heartbeat and its last ended run. */
  lastSeen: Date | null;
  /** `stopped` when it said so on a graceful stop; otherwise from the age of `lastSeen` at the reading: alive (30 s or less), stale (5 min or less), gone. */
  liveness: WorkerLiveness;
  /** Whether the registry holds it; false for a worker known only by its runs (`orrery run start --worker W`, or a board that keeps no registry), whose registry fields are null. */
  registered: boolean;
  /** The machine it runs on. */
  host: string | null;
  /** Its process id. */
  pid: number | null;
  /** The task types it handles. */
  types: string[] | null;
  /** Runs it executes at once. */
  concurrency: number | null;
  /** When it registered. */
  startedAt: Date | null;
  /** When it marked itself stopped (graceful stop). */
  stoppedAt: Date | null;
}
