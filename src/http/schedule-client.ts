import { knownOptions } from '../core/options.js';
import { checkPreviewShape, checkRangeKeys, previewFrom } from '../core/call-checks.js';
import { invalid } from '../core/errors.js';
import { checkId } from '../core/task-ids.js';
import { checkDate } from '../core/instants.js';
import { iso } from './client-json.js';
import type { Preview } from '../core/schedule-preview.js';
import type { BackfillProgress, PreviewInput } from '../engine/schedule-service.js';
import type { TaskBackfill } from '../store/schedule-store.js';

/** How the schedule client reaches the server: the owning client's request function (instants revived). */
export type ScheduleCall = <T>(method: 'GET' | 'POST', path: string, body?: unknown) => Promise<T>;

/** `client.schedules`: the HTTP mirror of `orrery.schedules`, under /api/schedules, /api/tasks/{id} and /api/backfills. */
export class ScheduleClient {
  constructor(private readonly call: ScheduleCall) {}

  /** The next occurrences of a cron expression or rrule, in UTC and in the schedule's zone, DST changes marked. */
  async preview(input: PreviewInput): Promise<Preview> {
    checkPreviewShape(input); // as the library: an object of the preview's fields (null was a TypeError)
    if (input.from !== undefined) previewFrom(input.from, new Date()); // as the library (an Invalid Date was a RangeError here)
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(input)) {
      if (v === undefined) continue;
      // Text, a count or a Date: anything else has no form in a query (a deeply nested array overflowed the stack).
      // A Date only as `from` (a Date as the cron or the zone, an invalid one, was a RangeError here).
      if (typeof v !== 'string' && typeof v !== 'number' && !(v instanceof Date && k === 'from')) throw invalid(k, k === 'count' ? 'must be an integer from 1 to 1000' : 'must be text');
      q.set(k, v instanceof Date ? iso(v, k) : String(v));
    }
    return this.call('GET', `/schedules/preview?${q}`);
  }
  /** A task's next occurrences (default 5), with their due instants. */
  async next(taskId: number, opts: { count?: number; at?: Date } = {}): Promise<Preview & { task: number }> {
    opts = knownOptions(opts, ['count', 'at']);
    checkId(taskId); // as the library (anything else went into the path as text)
    const q = new URLSearchParams();
    if (opts.count !== undefined) q.set('count', String(opts.count));
    if (opts.at !== undefined) q.set('at', iso(opts.at, 'at'));
    return this.call('GET', `/tasks/${taskId}/next${q.size ? `?${q}` : ''}`);
  }
  /** Runs every occurrence of a cron or rrule task in [from, to] once, in order, one at a time. */
  async backfill(taskId: number, range: { from: string | Date; to: string | Date }, opts: { at?: Date } = {}): Promise<TaskBackfill> {
    // As the library: an object of from and to only (a misspelt key, or `dryRun`, made a real backfill).
    checkId(taskId);
    checkRangeKeys(range, ['from', 'to']);
    const at = knownOptions(opts, ['at']).at;
    const atField = at !== undefined ? { at: iso(at, 'at') } : {};
    // Text goes as given, for the server to read as the library does (a zone-less instant is UTC; it was
    // read here in the process's zone), and Dates as ISO text (an invalid one refused, naming it).
    return this.call('POST', `/tasks/${taskId}/backfill`, { from: range.from, to: range.to, ...atField });
  }
  /** A backfill with the runs it made so far. */
  async progress(backfillId: number): Promise<BackfillProgress> {
    checkId(backfillId, 'id', 'backfill');
    return this.call('GET', `/backfills/${backfillId}`);
  }
  /** A task's backfills, newest first. */
  async backfills(taskId: number): Promise<TaskBackfill[]> {
    checkId(taskId);
    return this.call('GET', `/tasks/${taskId}/backfills`);
  }
  /** Stops a running backfill. */
  async cancelBackfill(backfillId: number, opts: { at?: Date } = {}): Promise<TaskBackfill> {
    checkDate(knownOptions(opts, ['at']).at, 'at'); // the library's at, checked; the server's clock stamps the end
    checkId(backfillId, 'id', 'backfill');
    return this.call('POST', `/backfills/${backfillId}/cancel`);
  }
}
