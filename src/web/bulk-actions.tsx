import { useRef, useState } from 'preact/hooks';
import type { BulkAction, BulkResult } from '../core/bulk.js';
import type { BulkSelectionInput } from '../core/bulk.js';
import { api } from './api.js';
import { errorText } from './format.js';

const PAST: Record<BulkAction, string> = { respawn: 'Respawned', redrive: 'Redriven', disable: 'Disabled', cancel: 'Cancelled the runs of', delete: 'Deleted' };
const n = (x: number) => x.toLocaleString('en-US');
const tasks = (x: number) => `${n(x)} task${x === 1 ? '' : 's'}`;

/** What a bulk action's result says in words. */
export function resultText(r: BulkResult): string {
  const left = Object.entries(r.skipped);
  const count = left.reduce((a, [, c]) => a + c, 0);
  return `${PAST[r.action]} ${tasks(r.changed)}.${count > 0 ? ` Left ${n(count)} alone (${left.map(([k, c]) => `${k.replace(/_/g, ' ')}: ${n(c)}`).join(', ')}).` : ''}`;
}

/**
 * A bulk action button: it first asks the server how many tasks the action would take (a dry run),
 * then shows that count in a confirmation dialog, and acts only once confirmed.
 */
export function BulkButton(props: {
  action: BulkAction;
  label: string;
  /** The verb of the question and of the confirm button (default: the label). */
  verb?: string;
  /** The selection, read when the button is pressed (the current filter, or the selected rows). */
  selection: () => BulkSelectionInput;
  /** Says what is selected, after the count: "matching this filter". */
  what: string;
  danger?: boolean;
  disabled?: boolean;
  /** Said on hover (why it is off). */
  title?: string | undefined;
  onDone?: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState<'counting' | 'acting' | null>(null);
  const [count, setCount] = useState<number | null>(null);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const selection = useRef<BulkSelectionInput | null>(null);

  const ask = async () => {
    setNote(null);
    setBusy('counting');
    try {
      selection.current = props.selection();
      const dry = await api.call((c) => c.bulkTasks(props.action, selection.current!, { dryRun: true }));
      if (dry.matched === 0) setNote({ ok: true, text: `Nothing to ${(props.verb ?? props.label).toLowerCase()}: no task ${props.what} that it applies to.` });
      else {
        setCount(dry.matched);
        ref.current?.showModal();
      }
    } catch (e) {
      setNote({ ok: false, text: errorText(e) });
    } finally {
      setBusy(null);
    }
  };
  const act = async () => {
    ref.current?.close();
    setBusy('acting');
    try {
      const r = await api.call((c) => c.bulkTasks(props.action, selection.current!));
      setNote({ ok: true, text: resultText(r) });
      props.onDone?.();
    } catch (e) {
      setNote({ ok: false, text: errorText(e) });
    } finally {
      setBusy(null);
    }
  };
  return (
    <span class="confirm">
      {/* Busy, it is aria-disabled, not disabled: it keeps the focus, which the dialog gives back to it when it closes. */}
      <button
        type="button"
        class={props.danger ? 'danger' : ''}
        disabled={props.disabled}
        title={props.title}
        aria-disabled={busy !== null ? true : undefined}
        onClick={() => busy === null && void ask()}
      >
        {busy === 'counting' ? 'Counting…' : busy === 'acting' ? `${props.label}…` : props.label}
      </button>
      <dialog ref={ref} aria-label={props.label}>
        <form method="dialog" onSubmit={(e) => (e.preventDefault(), void act())}>
          <p data-testid="bulk-question">
            {props.verb ?? props.label} <strong>{tasks(count ?? 0)}</strong> {props.what}?
          </p>
          <p class="muted">Tasks that change before they are reached are left alone and counted.</p>
          <div class="actions">
            {/* A destructive action starts on Cancel: a stray Enter does not confirm it. */}
            <button type="button" onClick={() => ref.current?.close()} autofocus={props.danger === true}>
              Cancel
            </button>
            <button type="submit" class={props.danger ? 'danger' : 'primary'} autofocus={props.danger !== true}>
              {props.verb ?? props.label} {tasks(count ?? 0)}
            </button>
          </div>
        </form>
      </dialog>
      {note && (
        <span class={note.ok ? 'ok-note' : 'error'} role={note.ok ? 'status' : 'alert'}>
          {note.text}
        </span>
      )}
    </span>
  );
}
