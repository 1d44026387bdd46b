import { useRef, useState } from 'preact/hooks';
import type { TaskType } from '../core/model.js';
import { api } from './api.js';
import { ConfirmButton } from './components.js';
import { errorText, instant } from './format.js';

/** A task type's state with its pause or resume action (docs/dashboard.md). */
export function PauseControl(props: { type: TaskType; onChange: () => void }) {
  const { type } = props;
  if (type.paused) {
    const since = new Date(type.paused.at);
    return (
      <span class="pause-control">
        <span class="badge paused" data-testid="paused" title={`since ${instant(since)}${type.paused.reason ? `: ${type.paused.reason}` : ''}`}>
          paused
        </span>{' '}
        <ConfirmButton
          label="Resume"
          question={`Resume ${type.name}? Its due tasks are scheduled and claimed again at once.`}
          action={async () => {
            await api.client.resumeTaskType(type.name);
            props.onChange();
            return `${type.name} resumed.`;
          }}
        />
      </span>
    );
  }
  return <PauseButton name={type.name} onChange={props.onChange} />;
}

function PauseButton(props: { name: string; onChange: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const pause = async () => {
    ref.current?.close();
    setBusy(true);
    setError(null);
    try {
      await api.call((c) => c.pauseTaskType(props.name, reason.trim() ? { reason: reason.trim() } : {}));
      setReason('');
      props.onChange();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="pause-control">
      <button type="button" disabled={busy} onClick={() => ref.current?.showModal()}>
        {busy ? 'Pause…' : 'Pause'}
      </button>
      <dialog ref={ref} aria-label={`Pause ${props.name}`}>
        <form method="dialog" onSubmit={(e) => (e.preventDefault(), void pause())}>
          <p>
            Pause {props.name}? No new runs of it are scheduled or claimed; runs already started finish.
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
