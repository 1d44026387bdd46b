import { useRef, useState } from 'preact/hooks';
import type { TaskType, TypePause } from '../core/model.js';
import type { OrreryClient } from '../http/client.js';
import { api } from './api.js';
import { ConfirmButton, keepFocusNear } from './components.js';
import { errorText, instant } from './format.js';

/** What can be paused from the dashboard: a task type, a task's schedule or a DAG. */
export interface Pausable {
  /** How it is named in questions ("load-git", "task #12", "DAG nightly"). */
  label: string;
  paused: TypePause | null | undefined;
  /** What pausing does, in one sentence (the dialog's question). */
  effect: string;
  /** What resuming does, in one sentence. */
  resumeEffect: string;
  pause(c: OrreryClient, reason: string | undefined): Promise<unknown>;
  resume(c: OrreryClient): Promise<unknown>;
}

/** A task type's state with its pause or resume action (docs/dashboard.md). */
export function PauseControl(props: { type: TaskType; onChange: () => void }) {
  const { type } = props;
  return (
    <PauseToggle
      onChange={props.onChange}
      subject={{
        label: type.name,
        paused: type.paused,
        effect: 'No new runs of it are scheduled or claimed; runs already started finish.',
        resumeEffect: 'Its due tasks are scheduled and claimed again at once.',
        pause: (c, reason) => c.pauseTaskType(type.name, reason ? { reason } : {}),
        resume: (c) => c.resumeTaskType(type.name),
      }}
    />
  );
}

/** The paused badge with Resume, or a Pause button asking for a reason (docs/dashboard.md). */
export function PauseToggle(props: { subject: Pausable; onChange: () => void }) {
  const { subject } = props;
  if (subject.paused) {
    const since = new Date(subject.paused.at);
    return (
      <span class="pause-control">
        <span class="badge paused" data-testid="paused" title={`since ${instant(since)}${subject.paused.reason ? `: ${subject.paused.reason}` : ''}`}>
          paused
        </span>{' '}
        <ConfirmButton
          label="Resume"
          question={`Resume ${subject.label}? ${subject.resumeEffect}`}
          action={async () => {
            await api.call((c) => subject.resume(c));
            props.onChange();
            return `${subject.label} resumed.`;
          }}
        />
      </span>
    );
  }
  return <PauseButton subject={subject} onChange={props.onChange} />;
}

function PauseButton(props: { subject: Pausable; onChange: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const button = useRef<HTMLButtonElement>(null);
  const pause = async () => {
    ref.current?.close();
    setBusy(true);
    setError(null);
    const control = button.current;
    let said = '';
    try {
      await api.call((c) => props.subject.pause(c, reason.trim() || undefined));
      setReason('');
      said = `${props.subject.label} paused.`;
      props.onChange();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
      keepFocusNear(control, said);
    }
  };
  return (
    <span class="pause-control">
      <button ref={button} type="button" aria-disabled={busy ? true : undefined} onClick={() => !busy && ref.current?.showModal()}>
        {busy ? 'Pause…' : 'Pause'}
      </button>
      <dialog ref={ref} aria-label={`Pause ${props.subject.label}`}>
        <form method="dialog" onSubmit={(e) => (e.preventDefault(), void pause())}>
          <p>
            Pause {props.subject.label}? {props.subject.effect}
          </p>
          <label>
            Reason (optional){' '}
            <input type="text" maxLength={1000} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
          </label>
          <div class="actions">
            <button type="button" onClick={() => ref.current?.close()}>Cancel</button>
            <button type="submit" class="danger">Pause</button>
          </div>
        </form>
      </dialog>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
