import type { DagOverlap, DagRunStatus } from './dag.js';
import type { PointRecord } from './dag-schedule.js';

export { DAG_OVERLAP_POLICIES, type DagOverlap } from './dag.js';

/** How many of a DAG's runs may be `running` at once under its overlap policy. */
export function runningLimit(overlap: DagOverlap, maxActiveRuns: number): number {
  return overlap === 'allow' ? maxActiveRuns : 1;
}

/**
 * What a run asked to start becomes, its DAG having `othersRunning` other runs running: `running`
 * while under its limit (runningLimit); otherwise `over` (`scheduled`: a restart waits its turn), or
 * null (a start that lost its turn is not made). The stores count in the start's own transaction.
 */
export function startStatus(othersRunning: number, limit: number, over: 'scheduled' | null): 'running' | 'scheduled' | null {
  return othersRunning < limit ? 'running' : over;
}

export interface OverlapPlan {
  /** The points to record: some that would have had a run are skipped instead. */
  records: PointRecord[];
  /** Active runs to cancel before the new ones start (`cancelOther`). */
  cancel: number[];
}

const getsRun = (r: PointRecord) => r.kind === 'scheduled' || r.kind === 'caught_up';

/**
 * Applies a DAG's overlap policy to the points due now (`duePoints`), given its active runs (waiting
 * or running, any trigger): which points still get a run, which are skipped, which runs to cancel.
 * Points of one call count as active for the ones after them.
 */
export function planOverlap(policy: DagOverlap, active: ReadonlyArray<{ id: number; status: DagRunStatus }>, records: readonly PointRecord[]): OverlapPlan {
  if (policy === 'allow' || !records.some(getsRun)) return { records: [...records], cancel: [] };
  let activeCount = active.length;
  let waiting = active.filter((r) => r.status === 'scheduled').length;
  const lastRun = records.reduce((last, r, i) => (getsRun(r) ? i : last), -1);
  const out = records.map((r, i): PointRecord => {
    if (!getsRun(r)) return r;
    let keep: boolean;
    if (policy === 'skip') keep = activeCount === 0;
    else if (policy === 'cancelOther') keep = i === lastRun;
    else {
      keep = activeCount === 0 || waiting === 0;
      if (keep && activeCount > 0) waiting += 1;
    }
    if (!keep) return { kind: 'skipped', execTs: r.execTs, untilTs: null, count: 1 };
    activeCount += 1;
    return r;
  });
  return { records: joinSkipped(out), cancel: policy === 'cancelOther' ? active.map((r) => r.id) : [] };
}

/** Consecutive skipped records become one range (as duePoints records them). */
export function joinSkipped(records: readonly PointRecord[]): PointRecord[] {
  const out: PointRecord[] = [];
  for (const r of records) {
    const last = out[out.length - 1];
    if (r.kind === 'skipped' && last && last.kind === 'skipped') {
      out[out.length - 1] = { ...last, untilTs: r.untilTs ?? r.execTs, count: last.count + r.count };
    } else out.push({ ...r });
  }
  return out;
}
