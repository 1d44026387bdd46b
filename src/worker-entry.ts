/**
 * `orrery/worker`: what a process that runs Orrery's loops needs (the service, the daemon and its
 * loops, handler types, errors), without the HTTP server, the dashboard, metrics, simulations or the
 * DAG definition API. Nothing here loads zod, hono, prom-client or pino at import: the parsers of
 * user input are loaded on first use (engine/input-parsers.ts) and pino only by `createLogger`. A
 * worker process importing this entry is about 19 MiB smaller than one importing `orrery`
 * (docs/operations.md#memory-of-a-worker-process); a test keeps it so (test/worker-entry.test.ts).
 */
export { openOrrery, Orrery, type OpenOptions, type TaskWithRuns, type EndRunOptions, type CreateOptions } from './engine/service.js';
export { Runner, type RunnerOptions } from './engine/runner.js';
export { Reaper, type ReaperOptions } from './engine/reaper.js';
export { Worker, type WorkerOptions } from './engine/worker.js';
export { Daemon, type DaemonOptions } from './engine/daemon.js';
export { systemClock, type Clock, type Timer, type TimerOptions } from './engine/clock.js';
export { createLogger, type Logger } from './engine/logger.js';
export { loadHandlers } from './worker/load-handlers.js';
export type { Handler, HandlerContext, HandlerResult, HandlersModule } from './worker/handlers.js';
export {
  OrreryError,
  ValidationError,
  NotFoundError,
  ConflictError,
  TaskConflictError,
  InvalidTransitionError,
  LeaseLostError,
  LeaseLost,
  StaleDataError,
  StaleData,
  SchemaTooNewError,
  CycleError,
  StorageError,
  StorageUnavailableError,
  StorageReadOnlyError,
  isStorageUnavailable,
  PermanentFailure,
  RetryAfter,
  type ErrorDetail,
} from './core/errors.js';
export * from './core/model.js';
export type { TaskInput, TaskTypeInput } from './core/validation.js';
export type { ClaimedRun, EndRunResult, CreatedTask } from './store/store.js';
export type { Jobboard } from './engine/jobboard.js';
