/** Orrery's public API. */
export { openOrrery, Orrery, type OpenOptions, type TaskWithRuns, type EndRunOptions } from './engine/service.js';
export { Runner, type RunnerOptions } from './engine/runner.js';
export { Reaper, type ReaperOptions } from './engine/reaper.js';
export { Worker, type WorkerOptions } from './engine/worker.js';
export { Daemon, type DaemonOptions } from './engine/daemon.js';
export { ManualClock, systemClock, type Clock } from './engine/clock.js';
export { createLogger, type Logger } from './engine/logger.js';
export { loadHandlers } from './worker/load-handlers.js';
export type { Handler, HandlerContext, HandlerResult, HandlersModule } from './worker/handlers.js';
export {
  OrreryError,
  ValidationError,
  NotFoundError,
  ConflictError,
  InvalidTransitionError,
  LeaseLostError,
  SchemaTooNewError,
  StorageError,
  PermanentFailure,
  RetryAfter,
  type ErrorDetail,
} from './core/errors.js';
export * from './core/model.js';
export { parseDuration, formatDuration } from './core/durations.js';
export { parseInstant } from './core/instants.js';
export { endOfRun, adaptInterval, type EndOfRunInput, type TaskUpdate, type EndCause } from './core/end-of-run.js';
export { nextOccurrence } from './core/schedule.js';
export type { TaskInput, TaskTypeInput } from './core/validation.js';
export type { Store, StoreCapabilities, TaskFilter, ClaimedRun, EndRunResult, CreatedTask } from './store/store.js';
export { openStore, DEFAULT_DB_URL } from './store/open-store.js';
export type { Jobboard } from './engine/jobboard.js';
export type { RunEvent } from './engine/service.js';
export { OrreryClient, type TaskPage } from './http/client.js';
export { createHttpApp, type HttpOptions } from './http/app.js';
export { createMetrics } from './http/metrics.js';
