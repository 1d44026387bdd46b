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

/**
 * The most items one HTTP request of each batch call carries (its route refuses more). The typed client
 * sends a longer batch in as many requests as it takes, as the library takes any length: a remote worker
 * holding more than 10,000 runs had every heartbeat refused, and all its runs were reaped.
 */
export const MAX_REQUEST_HEARTBEAT_RUNS = 10_000;
export const MAX_REQUEST_RELEASE_RUNS = 10_000;
export const MAX_REQUEST_END_ITEMS = 1000;

/**
 * A heartbeat's runs with one item per run: a run given twice keeps the earliest start reported (the
 * stores differed on such a batch), no later than `at` when given.
 */
export function oneItemPerRun<T extends { backendId: string; startedAt?: Date | undefined }>(runs: readonly T[], at?: Date): Array<{ backendId: string; startedAt?: Date }> {
  const items = new Map<string, { backendId: string; startedAt?: Date }>();
  for (const r of runs) {
    const before = items.get(r.backendId)?.startedAt;
    const started = before && (!r.startedAt || before < r.startedAt) ? before : r.startedAt;
    items.set(r.backendId, started ? { backendId: r.backendId, startedAt: at && started > at ? at : started } : { backendId: r.backendId });
  }
  return [...items.values()];
}

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
