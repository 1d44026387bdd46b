import type { WhyAnswer } from '../core/why.js';
import { ErrorNote, Loading } from './components.js';
import { instant, withInstants } from './format.js';
import { useApi } from './hooks.js';

const MARK: Record<string, string> = { pass: 'ok', hold: 'holds', skip: '—' };

/** "Why isn't it running?" on the task page: every gate in order, the one that holds the task (docs/operations.md). */
export function WhyPanel({ id }: { id: number }) {
  const { data, error, reload } = useApi((c) => c.whyTask(id), [id], { live: (e) => e.run.task === id, pollMs: 15_000 });
  return (
    <section aria-labelledby="why-title" data-testid="why">
      <h2 id="why-title">Why is it (not) running?</h2>
      {!data ? (
        error ? <ErrorNote error={error} onRetry={reload} /> : <Loading what="the gates" />
      ) : (
        <Answer a={data} />
      )}
    </section>
  );
}

function Answer({ a }: { a: WhyAnswer }) {
  // The server writes its instants in UTC ISO form: shown in the dashboard's chosen zone and form.
  const summary = withInstants(a.summary);
  const until = a.until ? instant(new Date(a.until)) : null;
  return (
    <>
      <p class={`why-summary ${a.heldBy ? 'held' : ''}`} data-state={a.state}>
        <strong>{a.state}</strong>: {summary}
        {until && !summary.includes(until) && <> (until <time dateTime={new Date(a.until!).toISOString()}>{until}</time>)</>}
      </p>
      <div class="scroll">
        <table class="why">
          <thead>
            <tr>
              <th scope="col">Gate</th>
              <th scope="col">Verdict</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {a.gates.map((g) => (
              <tr key={g.gate} data-gate={g.gate} class={g.verdict}>
                <th scope="row">{g.gate}</th>
                <td>{MARK[g.verdict]}</td>
                <td>{withInstants(g.detail)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
