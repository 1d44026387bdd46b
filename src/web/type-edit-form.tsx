import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { formatDuration } from '../core/durations.js';
import type { ErrorDetail } from '../core/errors.js';
import { problemsByField } from '../core/field-problems.js';
import type { TaskType } from '../core/model.js';
import type { TaskTypeEdit } from '../core/task-type-edit.js';
import { api } from './api.js';
import { keepFocusNear } from './components.js';

type Kind = 'text' | 'duration' | 'optional-duration' | 'number' | 'count' | 'optional-count' | 'rate' | 'fair' | 'bool';

/** The editable settings of a task type, as the form shows them (docs/operations.md#pause-edit-and-delete-task-types). */
/** `none`: how an empty (null) setting reads. */
const FIELDS: ReadonlyArray<{ key: keyof TaskTypeEdit; label: string; kind: Kind; hint: string; none?: string }> = [
  { key: 'description', label: 'Description', kind: 'text', hint: '' },
  { key: 'defaultIntervalMs', label: 'Default interval', kind: 'optional-duration', hint: 'first interval of a new recurring task, e.g. 1d; empty: none', none: 'none' },
  { key: 'minIntervalMs', label: 'Min interval', kind: 'optional-duration', hint: 'empty: the default interval', none: 'the default' },
  { key: 'maxIntervalMs', label: 'Max interval', kind: 'optional-duration', hint: 'empty: the default interval', none: 'the default' },
  { key: 'backoffFactor', label: 'Backoff factor', kind: 'number', hint: '> 0; 1 = no adaptation' },
  { key: 'maxQueueLength', label: 'Max queue length', kind: 'optional-count', hint: 'runs waiting in the jobboard; empty: unbounded', none: 'unbounded' },
  { key: 'numRetries', label: 'Retries', kind: 'count', hint: 'of a failed run' },
  { key: 'retryDelayMs', label: 'Retry delay', kind: 'duration', hint: 'e.g. 1h, 90s' },
  { key: 'timeoutMs', label: 'Timeout', kind: 'optional-duration', hint: 'empty: none', none: 'none' },
  { key: 'leaseMs', label: 'Lease', kind: 'duration', hint: 'at least 1s' },
  { key: 'maxAbandons', label: 'Max abandons', kind: 'count', hint: 'lost runs in a row before the dead-letter bin' },
  { key: 'maxRunning', label: 'Max running', kind: 'optional-count', hint: 'across all workers; empty: unbounded', none: 'unbounded' },
  { key: 'maxRunningPerKey', label: 'Max running per key', kind: 'optional-count', hint: 'per concurrency key; empty: unbounded', none: 'unbounded' },
  { key: 'rateLimit', label: 'Rate limit', kind: 'rate', hint: 'COUNT/DURATION, e.g. 100/1m; empty: none', none: 'none' },
  { key: 'rateLimitPerKey', label: 'Rate per key', kind: 'rate', hint: 'per concurrency key, COUNT/DURATION, e.g. 10/1s; empty: none', none: 'none' },
  { key: 'fairShare', label: 'Fair shares', kind: 'fair', hint: 'keys take turns: on, or weights KEY=N, KEY=N; empty: claim order', none: 'off (claim order)' },
  { key: 'fifoPerKey', label: 'FIFO per key', kind: 'bool', hint: 'one run per key at a time, keys in turn', none: 'off' },
];

/** A setting as the form's text. */
function shown(t: TaskType, key: keyof TaskTypeEdit): string {
  const v = t[key as keyof TaskType];
  if (v === null || v === undefined) return '';
  if (key === 'rateLimit' || key === 'rateLimitPerKey') {
    const r = v as { count: number; perMs: number };
    return `${r.count}/${formatDuration(r.perMs)}`;
  }
  if (key === 'fairShare') {
    const w = Object.entries((v as { weights: Record<string, number> }).weights);
    return w.length === 0 ? 'on' : w.map(([k, n]) => `${k}=${n}`).join(', ');
  }
  if (key === 'fifoPerKey') return v ? 'on' : '';
  if (key.endsWith('Ms')) return formatDuration(v as number);
  return String(v);
}

/** The form's text as the value PATCH takes (durations and rate limits as text: the server parses and validates them). */
function parsed(kind: Kind, text: string): { value?: unknown; problem?: string } {
  const v = text.trim();
  if (kind === 'text') return { value: text };
  if (kind === 'bool') return { value: v === 'on' };
  if (kind === 'fair') {
    if (v === '') return { value: null };
    if (/^on$/i.test(v)) return { value: true };
    const weights: Record<string, number> = {};
    for (const part of v.split(',')) {
      const m = /^(.+)=\s*(\d+)$/.exec(part.trim());
      if (!m) return { problem: 'on, or KEY=N, KEY=N' };
      weights[m[1]!.trim()] = Number(m[2]);
    }
    return { value: { weights } };
  }
  if (v === '') {
    if (kind === 'duration' || kind === 'number' || kind === 'count') return { problem: 'required' };
    return { value: null };
  }
  if (kind === 'number') return Number.isFinite(Number(v)) ? { value: Number(v) } : { problem: 'must be a number' };
  if (kind === 'count' || kind === 'optional-count') return /^\d+$/.test(v) ? { value: Number(v) } : { problem: 'must be a whole number' };
  return { value: v };
}

/** Each field's label by its name, for the problems the server names (`must be <= Max interval`). */
const LABELS: Record<string, string> = Object.fromEntries(FIELDS.map((f) => [f.key, f.label]));

/** Why a save was refused: a heading, and each field's problems in the form's order, then the rest. */
interface Refusal {
  heading: string;
  lines: string[];
}

function refusal(fields: Record<string, string[]>, other: string[], message: string | null): Refusal {
  const lines = [...FIELDS.filter((f) => fields[f.key]).map((f) => `${f.label}: ${fields[f.key]!.join('; ')}`), ...other];
  const count = Object.values(fields).reduce((n, p) => n + p.length, 0) + other.length;
  return { heading: message ?? `Not saved: ${count} problem${count === 1 ? '' : 's'}.`, lines };
}

/**
 * Edits a task type's settings: sends only the fields changed (`PATCH /api/task-types/{name}`); the
 * server validates the type as a whole and names every problem, each shown beside its field (all of
 * a field's problems, in the server's order) and listed in the alert. A field the browser already
 * knows is bad (`x` for a count) is sent as typed, so the server still checks all the others at once
 * and refuses the edit; beside it the browser's own problem is shown. Taken into account from the
 * next claim or end.
 */
export function TypeEditForm(props: { type: TaskType; onSaved: (t: TaskType) => void; onCancel: () => void }) {
  const { type } = props;
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(FIELDS.map((f) => [f.key, shown(type, f.key)])));
  const [problems, setProblems] = useState<Record<string, string[]>>({});
  const [error, setError] = useState<Refusal | null>(null);
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  // Opened, the form takes the focus on its first field; closed, the focus goes back to its section
  // (the Edit settings button), not to the body. Focused as the form is drawn, before the browser
  // paints it: an effect ran later, and typing begun in another field in between (a quick user, a
  // loaded test's fill of Fair shares) went on in the first (the description became `tenant-a=0`).
  useLayoutEffect(() => form.current?.querySelector<HTMLElement>('input')?.focus(), []);
  const leaving = () => keepFocusNear(form.current);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const edit: Record<string, unknown> = {};
    const local: Record<string, string[]> = {};
    for (const f of FIELDS) {
      if (values[f.key] === shown(type, f.key)) continue;
      const p = parsed(f.kind, values[f.key] ?? '');
      if (p.problem) (local[f.key] = [p.problem]), (edit[f.key] = values[f.key] ?? '');
      else edit[f.key] = p.value;
    }
    setProblems(local);
    if (Object.keys(edit).length === 0) {
      setError({ heading: 'Nothing changed.', lines: [] });
      return;
    }
    setBusy(true);
    try {
      const saved = await api.call((c) => c.updateTaskType(type.name, edit as TaskTypeEdit));
      leaving();
      props.onSaved(saved);
    } catch (x) {
      // A refusal of the edit names its problems; any other (the type deleted meanwhile, the server
      // away) is told by its message.
      const { code, details } = x as { code?: string; details?: ErrorDetail[] };
      const named = code === 'validation_error' && (details ?? []).length > 0;
      const server = problemsByField(named ? details! : [], LABELS);
      // A field the browser found bad keeps the browser's problem (the server's says it is not a number).
      const fields = { ...server.fields, ...local };
      setProblems(fields);
      setError(refusal(fields, server.other, named ? null : (x as Error).message));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={form} class="type-edit panel" onSubmit={submit} aria-label={`Edit ${type.name}`} noValidate>
      <div class="fields">
        {FIELDS.map((f) => (
          // The hint is the field's description, not part of its name: the name is the label alone.
          <div key={f.key} class={`field ${problems[f.key] ? 'invalid' : ''}`}>
            <label class="field-name" for={`edit-${f.key}`}>
              {f.label}
            </label>
            {f.kind === 'bool' ? (
              <input
                type="checkbox"
                id={`edit-${f.key}`}
                name={f.key}
                checked={values[f.key] === 'on'}
                aria-describedby={`${f.key}-hint`}
                onChange={(e) => { const on = (e.target as HTMLInputElement).checked; setValues((v) => ({ ...v, [f.key]: on ? 'on' : '' })); }}
              />
            ) : (
              <input
                type="text"
                id={`edit-${f.key}`}
                name={f.key}
                value={values[f.key]}
                spellcheck={false}
                aria-invalid={problems[f.key] ? true : undefined}
                aria-describedby={`${f.key}-hint`}
                onInput={(e) => { const value = (e.target as HTMLInputElement).value; setValues((v) => ({ ...v, [f.key]: value })); }}
              />
            )}
            <small id={`${f.key}-hint`} class={problems[f.key] ? 'error' : 'muted'}>
              {problems[f.key]?.join('; ') ?? f.hint}
            </small>
          </div>
        ))}
      </div>
      {error && (
        <div class="error" role="alert">
          <p>{error.heading}</p>
          {error.lines.length > 0 && (
            <ul>
              {error.lines.map((l, i) => (
                <li key={i}>{l}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div class="actions">
        <button type="button" onClick={() => (leaving(), props.onCancel())}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save changes'}
        </button>
      </div>
    </form>
  );
}

/** The settings as label/value pairs for the type page. */
export function settingsOf(t: TaskType): Array<[string, string]> {
  return FIELDS.filter((f) => f.key !== 'description').map((f) => [f.label, shown(t, f.key) || (f.none ?? '—')]);
}
