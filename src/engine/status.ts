import { RUN_END_STATUSES, type RunEndStatus } from '../core/model.js';
import { WORKER_LIVENESS, type WorkerLiveness } from '../core/worker-liveness.js';
import type { TaskType } from '../core/model.js';
import type { DueStats, QueueStats, RunRate } from '../store/store.js';
import type { WaitingAlerts } from '../store/alert-store.js';
import type { Orrery, WorkerView } from './service.js';

/** One task type's line of `orrery status` (docs/cli.md#status). */
export interface TypeStatus {
  type: string;
  /** The type is paused (its runs are not claimed). */
  paused: boolean;
  /** Runs waiting to be claimed (`scheduled`). */
  waiting: number;
  /** Runs in workers' buffers (`claimed`). */
  claimed: number;
  /** Runs whose handler has begun (`started`). */
  running: number;
  /** The `scheduled` instant of the oldest waiting run, or null. */
  oldestWaiting: Date | null;
  /** Due tasks no run serves yet (counted up to 100,000). */
  due: number;
  /** The earliest `nextRun` among them, or null. */
  oldestDue: Date | null;
  /** Tasks in the dead-letter bin. */
  deadLettered: number;
  /** Tasks whose schedule is paused. */
  pausedTasks: number;
  /** Runs ended in the window, by final status. */
  ended: Record<RunEndStatus, number>;
}

/** What `orrery status` shows: every task type's queue and recent ends, and the workers by liveness. */
export interface StatusReport {
  at: Date;
  /** The window of `ended` and of the workers counted. */
  minutes: number;
  types: TypeStatus[];
  workers: Record<WorkerLiveness, number>;
  /** Alerts (task and DAG) stored and not yet delivered (docs/guide.md#alerts). */
  alerts: WaitingAlerts;
}

/** What a status report is made of: the readings of one service, local or over HTTP. */
export interface StatusReadings {
  at: Date;
  minutes: number;
  types: readonly TaskType[];
  queues: readonly QueueStats[];
  due: readonly DueStats[];
  rates: readonly RunRate[];
  workers: readonly WorkerView[];
  alerts: WaitingAlerts;
}

/** The status of every task type (or of `types`), read at `at`; ended runs and workers over the last `minutes`. */
export async function statusReport(orrery: Orrery, opts: { at?: Date; minutes?: number; types?: readonly string[] } = {}): Promise<StatusReport> {
  const at = opts.at ?? orrery.now();
  const minutes = opts.minutes ?? 60;
  const [types, queues, due, rates, workers, alerts] = await Promise.all([
    orrery.listTaskTypes(opts.types),
    orrery.queueStats({ at }),
    orrery.dueStats({ at }),
    orrery.runRates({ at, minutes }),
    orrery.listWorkers({ at, minutes }),
    orrery.store.alerts.waitingAlerts(),
  ]);
  return assembleStatus({ at, minutes, types, queues, due, rates: rates.rates, workers, alerts });
}

/** One line per type from the readings, and the workers by liveness. */
export function assembleStatus(r: StatusReadings): StatusReport {
  const queueOf = new Map(r.queues.map((q) => [q.type, q]));
  const dueOf = new Map(r.due.map((d) => [d.type, d]));
  const endedOf = new Map<string, Record<RunEndStatus, number>>();
  for (const x of r.rates) {
    const counts = endedOf.get(x.type) ?? endedOf.set(x.type, zeros(RUN_END_STATUSES)).get(x.type)!;
    counts[x.status] += x.count;
  }
  const byLiveness = zeros(WORKER_LIVENESS);
  for (const w of r.workers) byLiveness[w.liveness]++;
  return {
    at: r.at,
    minutes: r.minutes,
    types: r.types.map((t) => {
      const q = queueOf.get(t.name);
      const d = dueOf.get(t.name);
      return {
        type: t.name,
        paused: t.paused !== null,
        waiting: q?.scheduled ?? 0,
        claimed: q?.claimed ?? 0,
        running: q?.running ?? 0,
        oldestWaiting: q?.oldestScheduled ?? null,
        due: d?.due ?? 0,
        oldestDue: d?.oldestDue ?? null,
        deadLettered: q?.deadLettered ?? 0,
        pausedTasks: q?.pausedTasks ?? 0,
        ended: endedOf.get(t.name) ?? zeros(RUN_END_STATUSES),
      };
    }),
    workers: byLiveness,
    alerts: r.alerts,
  };
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}
