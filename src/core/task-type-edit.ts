import { checkEditObject } from './call-checks.js';
import { formatDuration } from './durations.js';
import { invalid, ValidationError, type ErrorDetail } from './errors.js';
import type { TaskType } from './model.js';
import { fromDetails, namedAsGiven, SPEC_DURATION_NAMES, validateTaskType, withDurationNames, type TaskTypeInput } from './validation.js';

export { MAX_PAUSE_REASON, validatePauseReason } from './json-checks.js';

/** The fields of a task type that can be changed at runtime (docs/operations.md). */
export const EDITABLE_TYPE_FIELDS = [
  'description',
  'defaultIntervalMs',
  'minIntervalMs',
  'maxIntervalMs',
  'backoffFactor',
  'maxQueueLength',
  'numRetries',
  'retryDelayMs',
  'timeoutMs',
  'leaseMs',
  'maxAbandons',
  'maxRunning',
  'maxRunningPerKey',
  'rateLimit',
  'rateLimitPerKey',
  'fairShare',
  'fifoPerKey',
] as const;
export type EditableTypeField = (typeof EDITABLE_TYPE_FIELDS)[number];
/** An edit: the editable fields, durations by either name (`leaseMs: 45000` or `lease: '45s'`), as a type is created. */
export type TaskTypeEdit = Partial<Pick<TaskTypeInput, EditableTypeField | 'defaultInterval' | 'minInterval' | 'maxInterval' | 'retryDelay' | 'timeout' | 'lease'>>;

const EDITABLE = new Set<string>(EDITABLE_TYPE_FIELDS);
const FIXED: Record<string, string> = {
  name: 'cannot be changed (create a new type)',
  backendName: 'cannot be changed: it names the handler that runs the tasks (create a new type)',
};


/**
 * The type an edit leaves: the current type with the edit's fields replaced, validated as a whole
 * like a new type (so an edit cannot leave min > max, a lease under 1 s, ...). Every problem is
 * reported at once; a field that is not editable is named. The pause is kept as it is.
 */
export function editTaskType(current: TaskType, given: unknown): TaskType {
  checkEditObject(given);
  const { value, used } = withDurationNames(given); // SPEC §1.1's names (lease, timeout...) as their Ms fields
  const edit = value as object;
  const problems: ErrorDetail[] = [];
  for (const key of Object.keys(edit)) {
    if (Object.hasOwn(FIXED, key)) problems.push({ path: key, message: FIXED[key]! });
    else if (!EDITABLE.has(key)) problems.push({ path: key, message: `is not a field of a task type that can be edited (one of ${EDITABLE_TYPE_FIELDS.join(', ')})` });
  }
  if (problems.length > 0) throw fromDetails(problems);
  if (Object.keys(edit).length === 0) throw invalid('', `nothing to change: give at least one of ${EDITABLE_TYPE_FIELDS.join(', ')}`);
  const { paused, ...fields } = current;
  try {
    const next = validateTaskType({ ...fields, ...(edit as TaskTypeEdit) });
    return { ...next, paused: paused ?? null };
  } catch (e) {
    // An edit in the specification's names (`lease`) hears of every duration field by those names, as a creation does.
    throw namedAsGiven(withCurrentBounds(e, current, edit), used.size > 0 ? SPEC_DURATION_NAMES : used);
  }
}

/**
 * A bound the edit left as it is, named by a problem, says its value: a type given only its default
 * interval got its bounds from it, so raising the default alone is refused on a bound the user never
 * set (`maxIntervalMs: must be >= defaultIntervalMs (it is 1h: change it in the same edit)`).
 */
function withCurrentBounds(e: unknown, current: TaskType, edit: object): unknown {
  if (!(e instanceof ValidationError)) return e;
  const kept = (f: 'minIntervalMs' | 'maxIntervalMs') => !Object.hasOwn(edit, f) && current[f] !== null;
  const details = e.details.map((d) =>
    (d.path === 'minIntervalMs' || d.path === 'maxIntervalMs') && kept(d.path)
      ? { ...d, message: `${d.message} (it is ${formatDuration(current[d.path]!)}: change it in the same edit)` }
      : d,
  );
  return details.some((d, i) => d !== e.details[i]) ? fromDetails(details) : e;
}

