import type { LogLevel, TaskRun } from '../../core/model.js';

/** Where handlers run (SPEC §2.4): the worker's event loop, a worker thread, or a child process. */
export const ISOLATION_MODES = ['inline', 'thread', 'process'] as const;
export type IsolationMode = (typeof ISOLATION_MODES)[number];

/** An error as it crosses to the parent: enough to rebuild what `outcomeOfError` reads. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  delayMs?: number;
  /** A RetryAfter's throttle signal. */
  throttle?: boolean;
}

/** Parent -> isolate. */
export type ToIsolate =
  | { type: 'run'; id: number; backendName: string; args: unknown[]; kwargs: Record<string, unknown>; run: TaskRun }
  | { type: 'abort'; id: number; reason: WireError }
  | { type: 'heartbeat-done'; seq: number; error?: WireError };

/** Isolate -> parent. */
export type FromIsolate =
  | { type: 'ready'; backends: string[] }
  | { type: 'load-failed'; error: WireError }
  | { type: 'log'; id: number; level: LogLevel; message: string; attributes?: Record<string, unknown> }
  | { type: 'heartbeat'; id: number; seq: number }
  /**
   * The handler returned. `invalid`: the run's error when what it returned cannot end the run as given
   * (not a valid outcome, a result that is not JSON), decided in the isolate by the inline rules
   * (handlers.ts outcomeOfSettled, assertJson), so the parent stores the same text as inline.
   */
  | { type: 'done'; id: number; value: unknown; invalid?: string }
  | { type: 'failed'; id: number; error: WireError }
  /** An uncaught exception outside any handler's promise: the isolate is about to exit. */
  | { type: 'crash'; error: WireError };

export function toWire(e: unknown): WireError {
  return readableWire(e) ?? { name: 'Error', message: 'a value that could not be read' };
}

/** The error as it crosses, or null when reading it throws (a getter, a conversion that throws). */
export function readableWire(e: unknown): WireError | null {
  try {
    if (e instanceof Error) {
      const delay = (e as { delayMs?: unknown }).delayMs;
      const throttle = (e as { throttle?: unknown }).throttle === true;
      const w: WireError = { name: String(e.name), message: String(e.message), ...(e.stack ? { stack: String(e.stack) } : {}), ...(typeof delay === 'number' ? { delayMs: delay } : {}), ...(throttle ? { throttle } : {}) };
      return w;
    }
    return { name: 'Error', message: String(e) };
  } catch {
    return null;
  }
}

export function fromWire(w: WireError): Error {
  const e = new Error(w.message);
  e.name = w.name;
  // Without a stack of its own (a thrown value that is not an Error), not this process's frames.
  e.stack = w.stack ?? '';
  if (w.delayMs !== undefined) Object.assign(e, { delayMs: w.delayMs });
  if (w.throttle) Object.assign(e, { throttle: true });
  return e;
}
