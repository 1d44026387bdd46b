import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { errorText } from './format.js';

/** A status as text with a colour and a shape: never colour alone. */
export function Status({ value, title }: { value: string; title?: string }) {
  return (
    <span class={`status status-${value}`} title={title}>
      <span class="dot" aria-hidden="true" />
      {value.replace(/_/g, ' ')}
    </span>
  );
}

export function ErrorNote({ error, onRetry }: { error: string | null; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error} {onRetry && <button type="button" class="link" onClick={onRetry}>Retry</button>}
    </p>
  );
}

/**
 * A page whose subject could not be loaded: its heading (the page's title), `Not found` for an unknown
 * id (no retry: it will not come), else the error with a retry.
 */
export function LoadFailed({ title, error, notFound, onRetry }: { title: string; error: string; notFound: boolean; onRetry: () => void }) {
  return (
    <section>
      <h1>{notFound ? 'Not found' : title}</h1>
      <ErrorNote error={error} {...(notFound ? {} : { onRetry })} />
    </section>
  );
}

export function Loading({ what }: { what: string }) {
  return <p class="muted" role="status">Loading {what}…</p>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="muted empty">{children}</p>;
}

export interface SparkSeries {
  label: string;
  cls: string;
  values: number[];
}

/** Runs per minute as small lines, one per outcome; the label says the totals in words. */
export function Sparkline({ series, label }: { series: SparkSeries[]; label: string }) {
  const w = 120;
  const h = 28;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i: number) => (n === 1 ? 0 : (i / (n - 1)) * w);
  const y = (v: number) => h - 2 - (v / max) * (h - 4);
  return (
    <svg class="spark" viewBox={`0 0 ${w} ${h}`} width={w} height={h} role="img" aria-label={label}>
      <title>{label}</title>
      <line x1="0" x2={w} y1={h - 2} y2={h - 2} class="spark-base" />
      {series.map((s) =>
        s.values.some((v) => v > 0) ? (
          <polyline key={s.label} class={`spark-line ${s.cls}`} fill="none" points={s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')} />
        ) : null,
      )}
    </svg>
  );
}

/**
 * A button that asks before it acts (a modal dialog naming what will happen), then runs `action`
 * and reports its outcome.
 */
export function ConfirmButton(props: {
  label: string;
  question: string;
  confirmLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  action: () => Promise<string | void>;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const run = async () => {
    ref.current?.close();
    setBusy(true);
    setNote(null);
    const control = button.current;
    let said = '';
    try {
      said = (await api.call(() => props.action())) || 'Done.';
      setNote({ ok: true, text: said });
    } catch (e) {
      said = errorText(e);
      setNote({ ok: false, text: said });
    } finally {
      setBusy(false);
      keepFocusNear(control, said);
    }
  };
  return (
    <span class="confirm">
      {/* Busy, it is aria-disabled, not disabled: it keeps the focus the dialog gives back to it. */}
      <button
        ref={button}
        type="button"
        class={props.danger ? 'danger' : ''}
        disabled={props.disabled}
        aria-disabled={busy ? true : undefined}
        onClick={() => !busy && ref.current?.showModal()}
      >
        {busy ? `${props.label}…` : props.label}
      </button>
      <dialog ref={ref} aria-label={props.label}>
        <form method="dialog" onSubmit={(e) => (e.preventDefault(), void run())}>
          <p>{props.question}</p>
          <div class="actions">
            {/* A destructive action starts on Cancel: a stray Enter does not confirm it. */}
            <button type="button" onClick={() => ref.current?.close()} autofocus={props.danger === true}>
              Cancel
            </button>
            <button type="submit" class={props.danger ? 'danger' : 'primary'} autofocus={props.danger !== true}>
              {props.confirmLabel ?? props.label}
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

/** Asks for the API token when the server answered 401; kept in this tab's session storage. */
export function TokenDialog() {
  const ref = useRef<HTMLDialogElement>(null);
  const [, tick] = useState(0);
  const [value, setValue] = useState('');
  useEffect(() => api.onChange(() => tick((n) => n + 1)), []);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (api.needsToken && !d.open) d.showModal();
    if (!api.needsToken && d.open) d.close();
  });
  return (
    <dialog
      ref={ref}
      class="token"
      aria-labelledby="token-title"
      onCancel={(e) => e.preventDefault()}
      // A browser closes a modal dialog on a second Escape whatever cancel says: the pages still wait
      // for a token (they stayed on "Loading…" for good), so it opens again.
      onClose={() => {
        if (api.needsToken) setTimeout(() => ref.current && !ref.current.open && api.needsToken && ref.current.showModal(), 0);
      }}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) api.setToken(value.trim());
          setValue('');
        }}
      >
        <h2 id="token-title">API token</h2>
        <p>This server needs its API token (<code>--token</code> or <code>ORRERY_API_TOKEN</code>). It is kept for this browser tab only.</p>
        {api.tokenProblem !== null ? (
          <p class="error" role="alert">
            That token cannot be sent: it {api.tokenProblem}.
          </p>
        ) : (
          api.tokenRejected && <p class="error" role="alert">The server refused that token.</p>
        )}
        <label>
          Token
          <input type="password" name="token" autocomplete="current-password" required value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        </label>
        <div class="actions">
          <button type="submit" class="primary">Use token</button>
        </div>
      </form>
    </dialog>
  );
}

export function KeyValues({ items }: { items: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="kv">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * A select of a filter form: it keeps what the user chose until the form is submitted (a live refresh
 * of the page no longer writes the URL's value back over it); the form's key remounts it, with the
 * URL's value, when the search changes.
 */
export function FilterSelect({ name, initial, children }: { name: string; initial: string; children: ComponentChildren }) {
  const [value, setValue] = useState(initial);
  return (
    <select name={name} value={value} onChange={(e) => setValue((e.target as HTMLSelectElement).value)}>
      {children}
    </select>
  );
}

/**
 * Says a text through the page's live region (main.tsx), so the outcome of an action is heard even
 * when the control that did it is replaced by the page's next state (Disable by Respawn, Pause by
 * Resume) and its own note with it.
 */
export function announce(text: string): void {
  const el = document.getElementById('announcer');
  if (!el) return;
  el.textContent = '';
  setTimeout(() => (el.textContent = text), 50);
}

/**
 * Keeps keyboard focus near a control whose action may replace it: while the page settles (5 s), if
 * the focus falls to the body because the control was removed, it goes to the first enabled button of
 * the control's table cell when it is in one and the cell stays (a type's Pause in the overview's row:
 * its Resume, not the first row's Pause), else of the control's group (the task's actions, say), else
 * to the main region. If the control is removed, its outcome (`said`), which its own note can no
 * longer show, is announced (once).
 */
export function keepFocusNear(control: HTMLElement | null, said = ''): void {
  const cell = control?.closest<HTMLElement>('td') ?? null;
  const group = control?.closest<HTMLElement>('[role="group"], .toolbar, section') ?? document.getElementById('main');
  if (!group) return;
  const firstButton = (in_: HTMLElement) => (in_.isConnected ? in_.querySelector<HTMLElement>('button:not([disabled]):not([aria-disabled="true"])') : null);
  let announced = false;
  const settle = () => {
    if (said && !announced && control && !control.isConnected) {
      announced = true;
      announce(said);
    }
    if (document.activeElement && document.activeElement !== document.body && document.activeElement.isConnected) return;
    const next = (cell ? firstButton(cell) : null) ?? firstButton(group);
    (next ?? document.getElementById('main'))?.focus();
  };
  const watch = new MutationObserver(settle);
  // Attributes too: the control itself disabled by the reload (Run now, once its task is due) loses the focus.
  watch.observe(group.isConnected ? group : document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['disabled', 'aria-disabled'] });
  setTimeout(() => watch.disconnect(), 5_000);
  settle();
}
