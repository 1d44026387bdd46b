import { earlier } from './instants.js';
import { invalid } from './errors.js';
import { INT4_MAX, textProblem } from './storable.js';
import { compareCodePoints } from './text-order.js';

/**
 * The worker registry (docs/operations.md#workers): every worker process (a daemon's worker,
 * `orrery worker`, `orrery serve`, a remote `orrery worker --url` through the HTTP jobboard) registers
 * at start, refreshes its row every WORKER_REFRESH_MS from its own timer, busy or idle, and marks
 * itself stopped on a graceful stop. So an idle live worker is told apart from a stopped one.
 */

/** How often a worker refreshes its registry row (`lastSeen`), busy or idle. */
export const WORKER_REFRESH_MS = 10_000;
/** Registry rows last seen longer ago than this are deleted when a worker registers (a new id, or one marked stopped). */
export const WORKER_KEEP_MS = 7 * 24 * 3_600_000;

/** What a worker says about itself when it registers or refreshes its row. */
export interface WorkerInfo {
  /** The worker id recorded on the runs it claims (`--id`; default `host:pid:random`). */
  id: string;
  /** The machine it runs on (`os.hostname()`). */
  host: string;
  /** Its process id. */
  pid: number;
  /** The task types it handles: its `types`, or every type whose backend it has a handler for (paused ones too). */
  types: string[];
  /** Runs it executes at once. */
  concurrency: number;
}

/** A worker's registry row. */
export interface RegisteredWorker extends WorkerInfo {
  /** When it registered (a worker marked stopped that registers again under the same id starts anew). */
  startedAt: Date;
  /** Its latest registration or refresh (or its stop). */
  lastSeen: Date;
  /** When it marked itself stopped (a graceful stop); null while it runs, or when it died without saying so. */
  stoppedAt: Date | null;
}

/** The instant before which registry rows are deleted, when a worker registers at `at`. */
export function workerPruneBefore(at: Date): Date {
  return earlier(at, WORKER_KEEP_MS);
}

/** Longest worker id: the registry's limit (the jobboard's routes take up to 256 characters). */
export const MAX_WORKER_ID = 200;
/** The most task types a worker row lists: far above any catalogue seen (2,000 types serve fine), a bound on the row only. */
export const MAX_WORKER_TYPES = 100_000;

/** The refusal of a worker id of blanks alone where a jobboard call names its worker (library and HTTP alike). */
export const BLANK_WORKER_ID = 'a worker id is required (blanks alone name no worker)';

/** What is wrong with a worker id (`--id`, a registry row), or null when it is fine. */
export function workerIdProblem(id: string): string | null {
  // Blanks alone name no worker (listings and `run start --worker ' '` showed an empty holder).
  if (id.trim() === '' || id.length > MAX_WORKER_ID) return `must be a non-empty string of at most ${MAX_WORKER_ID} characters`;
  return textProblem(id);
}

/** Validates what a worker says about itself, naming the field of the first problem (a ValidationError). */
export function workerInfo(input: unknown): WorkerInfo {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw invalid('', 'a worker must be an object');
  const w = input as Record<string, unknown>;
  for (const k of Object.keys(w)) if (!['id', 'host', 'pid', 'types', 'concurrency'].includes(k)) throw invalid(k, 'unknown field');
  const text = (k: string, max: number): string => {
    const v = w[k];
    if (typeof v !== 'string' || v === '' || v.length > max) throw invalid(k, `must be a non-empty string of at most ${max} characters`);
    const problem = textProblem(v);
    if (problem) throw invalid(k, problem);
    return v;
  };
  if (typeof w.id !== 'string') throw invalid('id', `must be a non-empty string of at most ${MAX_WORKER_ID} characters`);
  const idProblem = workerIdProblem(w.id);
  if (idProblem) throw invalid('id', idProblem);
  const id = w.id;
  const host = text('host', 255);
  // Both stores keep them as 4-byte integers (storable.ts's rule for counts).
  if (!Number.isSafeInteger(w.pid) || (w.pid as number) < 0 || (w.pid as number) > INT4_MAX) throw invalid('pid', `must be an integer from 0 to ${INT4_MAX}`);
  if (!Number.isSafeInteger(w.concurrency) || (w.concurrency as number) < 1 || (w.concurrency as number) > INT4_MAX) {
    throw invalid('concurrency', `must be an integer from 1 to ${INT4_MAX}`);
  }
  if (!Array.isArray(w.types) || w.types.length > MAX_WORKER_TYPES) throw invalid('types', `must be a list of at most ${MAX_WORKER_TYPES} task type names`);
  w.types.forEach((t, i) => {
    if (typeof t !== 'string' || t === '' || t.length > 128 || textProblem(t)) throw invalid(`types[${i}]`, 'must be a task type name');
  });
  return { id, host, pid: w.pid as number, types: [...new Set(w.types as string[])].sort(compareCodePoints), concurrency: w.concurrency as number };
}
