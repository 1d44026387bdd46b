/**
 * The options each jobboard call knows, for the service in process (engine/board-calls.ts) and the
 * typed HTTP client alike: another key is refused, naming it (a misspelt `withdrawnonly` would give
 * back every run instead of letting go of the withdrawn ones). `answerWithinMs` is a remote board's
 * bound on its answer, which the service in process takes and ignores.
 */
export const CLAIM_OPTIONS = ['at', 'worker', 'types', 'limit', 'startNow', 'due', 'answerWithinMs'];
export const END_OPTIONS = ['at', 'status', 'worker', 'metadata', 'result', 'error', 'retryAfterMs', 'throttle', 'startedAt', 'held'];
export const ANSWER_WITHIN = ['answerWithinMs'];
export const HEARTBEAT_RUNS_OPTIONS = ['at', 'worker', 'runs', 'answerWithinMs'];
export const RELEASE_OPTIONS = ['at', 'worker', 'backendIds', 'withdrawnOnly', 'answerWithinMs'];
export const HEARTBEAT_OPTIONS = ['at', 'worker', 'answerWithinMs'];
export const ABANDON_OPTIONS = ['at', 'worker', 'reason', 'startedAt', 'answerWithinMs'];

const END_ITEM_KEYS = new Set(['backendId', ...END_OPTIONS]);

/**
 * The first key of an `endRuns` item that no end knows (given a value), or null. Checked key by key,
 * without allocating: one item per run end, on the worker's hot path.
 */
export function unknownEndField(item: object): string | null {
  for (const k in item) if (!END_ITEM_KEYS.has(k) && (item as Record<string, unknown>)[k] !== undefined) return k;
  return null;
}

/** The message of an `endRuns` item's unknown field. */
export const UNKNOWN_END_FIELD = `unknown field (one of ${[...END_ITEM_KEYS].join(', ')})`;
