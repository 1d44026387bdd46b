import { randomUUID } from 'node:crypto';
import { sha256 } from './dedupe-key.js';
import { invalid } from './errors.js';
import type { Task, TaskArguments } from './model.js';

/**
 * Flow control at task creation (docs/limits.md#unique-within-a-window, #debounce): which creates
 * match, and what a matching create does. Pure: the stores look the match up and write what these
 * functions decide.
 */

/** What a `unique` create compares: the task's `key`, or its arguments. */
export const UNIQUE_BY = ['key', 'arguments'] as const;
export type UniqueBy = (typeof UNIQUE_BY)[number];

/** A create's uniqueness window, validated: the hash it matches by, and the window. */
export interface UniqueWindow {
  /** Hash of (type, by, key or arguments): equal for creates that match. */
  key: string;
  forMs: number;
  /**
   * The create's instant is the clock's reading (no `at` was given): a task of the key created after
   * it, by a concurrent create that took the key's lock first, is matched too (docs/limits.md: two
   * processes never both create). A create at a given `at` (a replay) matches only `(at - for, at]`.
   */
  clocked?: boolean;
}

/** A create's debounce, validated. */
export interface Debounce {
  /** Hash of (type, debounce key). */
  key: string;
  periodMs: number;
}

/** The hash `unique` creates are matched by: the type, what is compared, and its value. */
export function uniqueKeyOf(type: string, by: UniqueBy, key: string | null, argumentsJson: string): string {
  return sha256(`["unique",${JSON.stringify(type)},${JSON.stringify(by)},${by === 'key' ? JSON.stringify(key) : argumentsJson}]`);
}

/** The hash debounced creates are matched by: the type and the debounce key. */
export function debounceKeyOf(type: string, key: string): string {
  return sha256(`["debounce",${JSON.stringify(type)},${JSON.stringify(key)}]`);
}

/**
 * The identity of a debounced task: its own, random (a new debounced task never collides with another
 * task's identity, not even one created by the same key at the same instant, in one batch or by
 * another process; creates collapse through the debounce key instead, planDebounce).
 */
export function debouncedIdentity(debounceKey: string): string {
  return sha256(`["debounced",${JSON.stringify(debounceKey)},${JSON.stringify(randomUUID())}]`);
}

/**
 * Whether a task created at `created` is within a create's window at `at`, `(at - forMs, at]`: created at
 * `at` or less than `forMs` before it, so a window of zero never matches, a task created exactly `forMs`
 * before does not, and neither does one created after `at` (a create replayed with an earlier `--at`),
 * but for a create at the clock's reading (`clocked`): one created less than min(forMs, 60 s) after it,
 * by a concurrent create that took the key's lock first, matches too.
 */
export function withinUniqueWindow(created: Date, at: Date, forMs: number, clocked = false): boolean {
  const age = at.getTime() - created.getTime();
  if (age >= 0) return age < forMs;
  // Created after the create's instant: only by a create that took the key's lock while this one waited.
  return -age < aheadAllowance(forMs, clocked);
}

/**
 * How long after a create's clock reading a task of its key may have been created and still match:
 * the time the create may have waited for the key's lock, at most CLOCKED_AHEAD_MS and never more
 * than the window itself (`for: 0` never matches). Zero for a create at a given `at` (a replay).
 */
function aheadAllowance(forMs: number, clocked: boolean): number {
  return clocked ? Math.min(forMs, CLOCKED_AHEAD_MS) : 0;
}

/** The longest wait for a unique key's lock a create at the clock's reading is allowed for (UniqueWindow.clocked). */
export const CLOCKED_AHEAD_MS = 60_000;

/** The latest `created` a unique create looks at: its instant, plus the lock wait allowed to a create at the clock's reading. */
export function uniqueLookupBound(u: UniqueWindow, at: Date): Date {
  return new Date(at.getTime() + aheadAllowance(u.forMs, u.clocked === true));
}

/**
 * A debounced create at `at` and the latest waiting task of its debounce key (null if none): it
 * collapses into that task while the task's period runs (the task is still waiting and not yet due),
 * which takes the create's arguments and is due a period after it; otherwise it creates a new task.
 * The due instant never moves back: a create that read its clock before another's but reached the
 * task after it (concurrent creates, or another process's clock a little behind) keeps the later one.
 */
export function planDebounce<U extends { nextRun: Date }>(existing: Pick<Task, 'status' | 'nextRun'> | null, at: Date, incoming: U): { action: 'create' } | { action: 'collapse'; update: U } {
  if (existing === null || existing.status !== 'next_run_not_scheduled' || existing.nextRun.getTime() <= at.getTime()) return { action: 'create' };
  return { action: 'collapse', update: incoming.nextRun < existing.nextRun ? { ...incoming, nextRun: existing.nextRun } : incoming };
}

/** The flow-control fields of a task input, after the schema (durations in milliseconds). */
export interface FlowControlInput {
  unique?: { for: number; by?: UniqueBy } | undefined;
  debounce?: { key: string; period: number } | undefined;
}

/** What the rest of a create looks like, for the rules that combine flow control with other fields. */
interface CreateShape {
  type: string;
  key: string | null;
  policyGiven: boolean;
  policy: string;
  nextRunGiven: boolean;
  scheduleGiven: boolean;
  arguments: TaskArguments;
}

/**
 * Validates a create's `unique` and `debounce` against its other fields (naming the field that is
 * wrong) and returns them ready for the store. A debounced create is one-shot (its policy defaults
 * to `oneshot`), due `period` after it, and has no `nextRun`, `schedule`, `key` or `unique`.
 */
export function flowControlOf(input: FlowControlInput, t: CreateShape, argumentsJson: string, path: string): { unique?: UniqueWindow; debounce?: Debounce } {
  const f = (name: string) => (path ? `${path}.${name}` : name);
  const out: { unique?: UniqueWindow; debounce?: Debounce } = {};
  if (input.unique !== undefined) {
    const by = input.unique.by ?? (t.key !== null ? 'key' : 'arguments');
    if (by === 'key' && t.key === null) throw invalid(f('unique.by'), '"key" needs the task to have a key');
    out.unique = { key: uniqueKeyOf(t.type, by, t.key, argumentsJson), forMs: input.unique.for };
  }
  if (input.debounce !== undefined) {
    if (input.unique !== undefined) throw invalid(f('unique'), 'cannot be combined with debounce');
    if (t.key !== null) throw invalid(f('key'), 'cannot be combined with debounce (debounced tasks are matched by their debounce key)');
    if (t.policyGiven && t.policy !== 'oneshot') throw invalid(f('policy'), 'a debounced task is one-shot');
    if (t.nextRunGiven) throw invalid(f('nextRun'), 'a debounced task is due its debounce period after the last create');
    if (t.scheduleGiven) throw invalid(f('schedule'), 'a debounced task is one-shot and has no schedule');
    out.debounce = { key: debounceKeyOf(t.type, input.debounce.key), periodMs: input.debounce.period };
  }
  return out;
}
