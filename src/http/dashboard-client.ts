import { knownOptions } from '../core/options.js';
import { windowMinutes } from '../core/call-checks.js';
import { NotFoundError } from '../core/errors.js';
import { checkDate } from '../core/instants.js';
import { checkTypeName } from '../core/storable.js';
import type { RunSeries, RunSeriesPoint, SeriesRange } from '../core/run-series.js';
import type { DueStats, QueueStats, RunRate } from '../store/store.js';
import type { WorkerView } from '../engine/service.js';
import type { WaitingAlerts } from '../store/alert-store.js';

type Call = <T>(method: 'GET', path: string) => Promise<T>;
type Json<T> = { [K in keyof T]: unknown };
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

/** The dashboard views over HTTP (`/api/stats/...`, `/api/workers`), mirroring the service's. */
export class StatsClient {
  constructor(private readonly call: Call) {}

  /** Every task type's queue now. */
  async queues(): Promise<QueueStats[]> {
    const rows = await this.call<Array<Json<QueueStats>>>('GET', '/stats/queues');
    return rows.map((r) => ({ ...(r as unknown as QueueStats), oldestScheduled: dateOrNull(r.oldestScheduled) }));
  }

  /** Types with due tasks that no run serves yet: how many (`capped`: at least that many) and the oldest due instant. */
  async due(): Promise<Array<DueStats & { capped: boolean }>> {
    const rows = await this.call<Array<Json<DueStats & { capped: boolean }>>>('GET', '/stats/due');
    return rows.map((r) => ({ ...(r as unknown as DueStats & { capped: boolean }), oldestDue: new Date(r.oldestDue as unknown as string) }));
  }

  /** Runs ended per type, status and minute over the last `minutes` (default 60). */
  async runRates(minutes?: number): Promise<{ since: Date; at: Date; rates: RunRate[] }> {
    // As the library: 0 or a fraction refused (0 was read as the default 60).
    if (minutes !== undefined) windowMinutes(minutes);
    const r = await this.call<{ since: string; at: string; rates: Array<Json<RunRate>> }>('GET', `/stats/run-rates${minutes !== undefined ? `?minutes=${minutes}` : ''}`);
    return { since: new Date(r.since), at: new Date(r.at), rates: r.rates.map((x) => ({ ...(x as unknown as RunRate), minute: new Date(x.minute as string) })) };
  }

  /** Runs ended per bucket and final status over `range` (default `1h`), with their start latency; of one `type` or all. */
  async series(opts: { range?: SeriesRange; type?: string; at?: Date } = {}): Promise<RunSeries> {
    // The library's runSeries options (a misspelt `rang` was dropped: the default range); `at` is checked, not sent.
    opts = knownOptions(opts, ['at', 'range', 'type']);
    checkDate(opts.at, 'at');
    if (opts.type !== undefined) checkTypeName(opts.type, 'type', true);
    // No type has an empty name: unknown, as the library answers (it was every type's runs).
    if (opts.type === '') throw new NotFoundError('unknown task type ""', [{ path: 'type', message: 'unknown task type' }]);
    const q = new URLSearchParams();
    if (opts.range !== undefined) q.set('range', opts.range);
    if (opts.type !== undefined) q.set('type', opts.type);
    const r = await this.call<Json<RunSeries> & { points: Array<Json<RunSeriesPoint>> }>('GET', `/stats/series${q.size ? `?${q}` : ''}`);
    return {
      ...(r as unknown as RunSeries),
      since: new Date(r.since as string),
      until: new Date(r.until as string),
      points: r.points.map((p) => ({ ...(p as unknown as RunSeriesPoint), at: new Date(p.at as string) })),
    };
  }

  /** `GET /api/alerts`: alerts (task and DAG) stored and not yet delivered (docs/guide.md#alerts), read at the server's instant `at`. */
  async alerts(): Promise<WaitingAlerts & { at: Date }> {
    const r = await this.call<Json<WaitingAlerts & { at: Date }>>('GET', '/alerts');
    return { at: new Date(r.at as string), waiting: r.waiting as number, failing: r.failing as number, oldest: dateOrNull(r.oldest) };
  }

  /** `GET /api/workers`: workers registered and seen, holding runs, or that ended runs in the last `minutes` (default 60), with their liveness. */
  async workers(minutes?: number): Promise<WorkerView[]> {
    if (minutes !== undefined) windowMinutes(minutes); // as the library: 0 was read as the default 60
    const rows = await this.call<Array<Json<WorkerView>>>('GET', `/workers${minutes !== undefined ? `?minutes=${minutes}` : ''}`);
    return rows.map((w) => ({
      ...(w as unknown as WorkerView),
      lastHeartbeat: dateOrNull(w.lastHeartbeat),
      lastEnded: dateOrNull(w.lastEnded),
      lastSeen: dateOrNull(w.lastSeen),
      startedAt: dateOrNull(w.startedAt),
      stoppedAt: dateOrNull(w.stoppedAt),
    }));
  }
}
