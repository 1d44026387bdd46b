import { useState } from 'preact/hooks';
import type { DisabledReason, Task } from '../../core/model.js';
import { api } from '../api.js';
import { ConfirmButton, Empty, ErrorNote, LoadFailed, Loading } from '../components.js';
import { args, instant, withInstants } from '../format.js';
import { useApi } from '../hooks.js';
import { firstOfReason, LIMIT } from '../dead-letter-search.js';

const REASONS: DisabledReason[] = ['dead_letter', 'retries_exhausted', 'permfailed'];

interface Letter {
  task: Task;
  lastError: string | null;
  lastEnded: Date | null;
}

/** Tasks disabled by failure (not by hand), with the error of their last run; DAG attempts belong to their DAG runs, not here. */
export function DeadLetters() {
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const { data, error, reload } = useApi(
    async (c) => {
      const pages = await Promise.all(REASONS.map((r) => firstOfReason(c, r)));
      const tasks = pages.flatMap((p) => p.tasks).sort((a, b) => b.id - a.id);
      const letters: Letter[] = await Promise.all(
        tasks.map(async (task) => {
          // Its newest run only (a disabled task's newest run has ended): not its whole history.
          const [last] = await c.listRuns(task.id, { last: 1 });
          return { task, lastError: last?.error ?? null, lastEnded: last?.ended ?? null };
        }),
      );
      return { letters, truncated: pages.some((p) => p.nextCursor !== null) };
    },
    [],
    { live: (e) => e.event === 'ended', pollMs: 30_000 },
  );
  if (!data) return error ? <LoadFailed title="Dead-letter bin" error={error} notFound={false} onRetry={reload} /> : <Loading what="the dead-letter bin" />;
  const ids = data.letters.map((l) => l.task.id);
  const chosen = ids.filter((id) => selected.has(id));
  const toggle = (id: number, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(id);
    else next.delete(id);
    setSelected(next);
  };
  return (
    <>
      <h1>Dead-letter bin</h1>
      <p class="muted">Tasks disabled as <code>dead_letter</code>, <code>retries_exhausted</code> or <code>permfailed</code>, DAG attempts aside (a failed DAG task is restarted with its DAG run). Respawning re-enables them, due now, with their retries reset.</p>
      <ErrorNote error={error} onRetry={reload} />
      {data.letters.length === 0 ? (
        <Empty>The bin is empty.</Empty>
      ) : (
        <>
          <div class="toolbar" role="group" aria-label="Bulk actions">
            <ConfirmButton
              label={`Respawn selected (${chosen.length})`}
              disabled={chosen.length === 0}
              question={`Respawn ${chosen.length} task${chosen.length === 1 ? '' : 's'} (${chosen.map((i) => `#${i}`).join(', ')}), due now?`}
              confirmLabel="Respawn"
              action={async () => {
                const out = await api.client.respawnTasks(chosen);
                setSelected(new Set());
                reload();
                return `Respawned ${out.length} task${out.length === 1 ? '' : 's'}.`;
              }}
            />
          </div>
          <div class="scroll">
            <table class="letters">
              <thead>
                <tr>
                  <th scope="col">
                    <input
                      type="checkbox"
                      aria-label="Select all"
                      checked={chosen.length === ids.length}
                      onChange={(e) => setSelected(new Set((e.target as HTMLInputElement).checked ? ids : []))}
                    />
                  </th>
                  <th scope="col" class="num">Task</th>
                  <th scope="col">Type</th>
                  <th scope="col">Arguments</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Last run ended</th>
                </tr>
              </thead>
              <tbody>
                {data.letters.map(({ task, lastError, lastEnded }) => (
                  <tr key={task.id} data-task={task.id}>
                    <td>
                      <input type="checkbox" aria-label={`Select task ${task.id}`} checked={selected.has(task.id)} onChange={(e) => toggle(task.id, (e.target as HTMLInputElement).checked)} />
                    </td>
                    <td class="num"><a href={`/tasks/${task.id}`}>#{task.id}</a></td>
                    <td class="name">{task.type}</td>
                    <td class="args"><code>{args(task.arguments)}</code></td>
                    <td>{task.disabledReason?.replace(/_/g, ' ')}</td>
                    <td class="error-cell" title={lastError ? withInstants(lastError.split('\n')[0]!) : undefined}><div class="clamp">{lastError ? withInstants(lastError.split('\n')[0]!) : '—'}</div></td>
                    <td>{instant(lastEnded)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {data.truncated && <p class="muted">Showing the first {LIMIT} tasks of each reason; respawn some to see more.</p>}
        </>
      )}
    </>
  );
}
