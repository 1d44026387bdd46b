import { abandonGivesBack } from '../core/run-end.js';
import type { EndRunResult, Store } from '../store/store.js';

/**
 * An abandon of a run its worker holds `claimed` and reports no start for: SPEC §1.3's give-back
 * (`claimed → scheduled`, no retry used, no abandon counted), through `releaseRuns` and its rules for
 * a paused or disabled task or an asked cancellation. Answers as an end would: the run as given back
 * and its task, untouched (`taskUpdated: false`), with a note; null when the rule does not apply (the
 * abandon then ends the run `lost`).
 */
export async function giveBackUnbegun(
  store: Pick<Store, 'getRun' | 'getTask'>,
  release: (backendIds: string[]) => Promise<number>,
  backendId: string,
  worker: string,
): Promise<EndRunResult | null> {
  const run = await store.getRun(backendId);
  if (run === null || !abandonGivesBack(run, worker)) return null;
  const queued = await release([backendId]);
  const after = await store.getRun(backendId);
  const task = await store.getTask(run.task);
  if (task === null) return null;
  if (queued === 1 && after !== null) {
    return { run: after, task, taskUpdated: false, note: 'given back to the queue: its handler never began (no retry used, no abandon counted)' };
  }
  // Not queued again: its task was paused (the run taken back, as a pause takes a waiting run) or
  // disabled, or its cancellation was asked (it ended lost). Anything else (reaped and claimed by
  // another worker meanwhile, or ended): the abandon goes on as an end, which refuses it as such.
  if (after !== null) return after.status === 'lost' && (after.worker === worker || after.worker === null) ? { run: after, task, taskUpdated: false, note: 'given back unrun: it ended lost (cancelled)' } : null;
  return { run: { ...run, status: 'scheduled', worker: null, leaseExpiresAt: null }, task, taskUpdated: false, note: 'taken back: its task is paused (the run was removed, as a pause takes back a waiting run)' };
}
