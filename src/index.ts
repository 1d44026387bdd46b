/** Orrery's public API: everything of `orrery/worker` (src/worker-entry.ts), and the rest. */
export * from './worker-entry.js';
export { ManualClock, systemClock, type Clock, type Timer, type TimerOptions } from './engine/clock.js';
export { VirtualClock, type VirtualClockOptions } from './engine/virtual-clock.js';
export {
  simulate,
  runSimulation,
  type SimulateOptions,
  type SimulationProgress,
  type SimulationSummary,
  type SimulationResult,
  type SeriesRow,
  type LagSummary,
} from './simulate/simulate.js';
export { parseScenario, type Scenario, type ScenarioInput, type HandlerModel } from './simulate/scenario.js';
export { writeSimulation, seriesCsv, summaryJson } from './simulate/outputs.js';
export { parseDuration, formatDuration } from './core/durations.js';
export { parseInstant } from './core/instants.js';
export { MAX_LOG_PAGE, type RunLogQuery } from './core/run-logs.js';
export { endOfRun, adaptInterval, type EndOfRunInput, type TaskUpdate, type EndCause } from './core/end-of-run.js';
export { nextOccurrence } from './core/schedule.js';
export type { TaskInput, TaskTypeInput } from './core/validation.js';
export { EDITABLE_TYPE_FIELDS, type TaskTypeEdit } from './core/task-type-edit.js';
export type { Store, TaskFilter, ClaimedRun, EndRunResult, CreatedTask } from './store/store.js';
export { openStore, DEFAULT_DB_URL } from './store/open-store.js';
export { copySqliteToPostgres, type CopyOptions, type CopyProgress, type CopySummary } from './store/copy/sqlite-to-postgres.js';
export { copyPostgresToSqlite, type CopyToSqliteOptions } from './store/copy/postgres-to-sqlite.js';
export { Archiver, type ArchiverOptions } from './engine/archiver.js';
export type { WorkerView } from './engine/service.js';
export { WORKER_REFRESH_MS, WORKER_KEEP_MS, type WorkerInfo, type RegisteredWorker } from './core/worker-registry.js';
export { WORKER_LIVENESS, workerLiveness, type WorkerLiveness } from './core/worker-liveness.js';
export type { RunEvent } from './engine/service.js';
export type { WaitForTaskOptions } from './engine/task-wait.js';
export { taskFinished, type TaskWait } from './core/task-wait.js';
export type { TaskBatchSummary, TaskImportSummary, ImportOptions, ImportProgress } from './engine/task-import.js';
export type { ImportSource } from './core/call-checks.js';
export { OrreryClient, DEFAULT_CLIENT_TIMEOUT_MS, type OrreryClientOptions, type TaskPage, type RunPage, type TaskQueryFilter } from './http/client.js';
export { TASK_SCAN_LIMIT, ARGS_MATCHES, type TaskSearchInput, type TaskSearchPage, type ArgsMatch } from './core/task-search.js';
export type { RunSearchInput } from './core/run-search.js';
export { BULK_ACTIONS, BULK_SKIPS, type BulkAction, type BulkResult, type BulkSkip } from './core/bulk.js';
export type { BulkSelectionInput } from './core/bulk.js';
export { createHttpApp, type HttpOptions } from './http/app.js';
export { createMetrics, type OrreryMetrics, type MetricsOptions } from './http/metrics.js';
export { startServer, type ServerOptions, type ServerHttpOptions, type ServerWorkerOptions, type RunningServer } from './http/start-server.js';
export type { IsolationMode } from './worker/isolation/protocol.js';
export { dag, dagHandler, DagDefinition, type DagTaskContext, type DagTaskFn, type DagOptions, type DagTaskOptions } from './worker/dag-definition.js';
export { DagScheduler, type DagSchedulerOptions } from './engine/dag-scheduler.js';
export { VisitScheduler, DEFAULT_METRICS_EVERY_MS, type VisitSchedulerOptions, type VisitQueue, type VisitPassResult } from './engine/visit-scheduler.js';
export { logNotifier, webhookNotifier, combineNotifiers, type DagNotifier, type DagTaskAlert, type Delivering, type WebhookOptions } from './engine/dag-notifier.js';
export { taskLogNotifier, taskWebhookNotifier, combineTaskNotifiers, type TaskNotifier, type TaskAlert } from './engine/task-notifier.js';
export type { DagService, DagSummary, DagRunSummary, DagRunDetail, DagTaskView, DagAttemptView, RegisteredDag } from './engine/dag-service.js';
export { validateDag, type DagInput, type DagTaskInput } from './core/dag-input.js';
export { DAG_RUN_STATUSES, DAG_TASK_STATUSES, type DagSpec, type DagRunStatus, type DagTaskStatus } from './core/dag.js';
export type { DagRun, DagPoint, StoredDag } from './store/dag-store.js';
export { ScheduleService, previewOf, type PreviewInput, type BackfillProgress } from './engine/schedule-service.js';
export type { Preview, PreviewEntry, DstMark } from './core/schedule-preview.js';
export type { TaskBackfill, BackfillStatus, CaughtUpTask, ScheduleStore } from './store/schedule-store.js';
export { CATCH_UP_POLICIES, type CatchUp, type CalendarOptions, type CalendarOptionsInput } from './core/schedule-options.js';
export { DAG_OVERLAP_POLICIES, type DagOverlap } from './core/dag.js';
export { UNIQUE_BY, type UniqueBy } from './core/flow-control.js';
