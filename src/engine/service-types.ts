/** The shapes the service (`Orrery`, service.ts) takes and answers, beside its class. */
import type { Context } from '@opentelemetry/api';
import type { Task, TaskRun } from '../core/model.js';
import type { WorkerLiveness } from '../core/worker-liveness.js';
import type { WorkerActivity } from '../store/store.js';
import type { Clock } from './clock.js';

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

/** A worker as the dashboard shows it: its activity, its latest sign of life and its liveness. */
export interface WorkerView extends WorkerActivity {
  /** The latest of its last heartbeat and its last ended run. */
  lastSeen: Date | null;
  /** From the age of `lastSeen` at the reading: alive (30 s or less), stale (5 min or less), gone. */
  liveness: WorkerLiveness;
}
