import type { OrreryError, ErrorDetail } from '../core/errors.js';
import type { RunLogRecord, TaskRun } from '../core/model.js';
import type { ClaimOptions, Jobboard } from '../engine/jobboard.js';
import { MAX_HTTP_CLAIM } from '../core/claim-ahead.js';
import { utf8Length } from '../core/storable.js';
import { checkMs, knownOptions, refuseUnknownKeys, requireOptions } from '../core/options.js';
import { ANSWER_WITHIN, END_OPTIONS, HEARTBEAT_OPTIONS, MAX_REQUEST_END_ITEMS, MAX_REQUEST_HEARTBEAT_RUNS, MAX_REQUEST_RELEASE_RUNS, UNKNOWN_END_FIELD, oneItemPerRun, unknownEndField } from '../core/jobboard-options.js';
import { checkDate } from '../core/instants.js';
import { MAX_LOG_APPEND, checkLogRecords } from '../core/run-logs.js';
import { checkAbandon, checkClaimOptions, checkHeartbeatRunsOptions, checkReleaseOptions, requireEndItem, requireRunId } from '../engine/service-checks.js';
import { invalid } from '../core/errors.js';
import { workerInfo, type RegisteredWorker, type WorkerInfo } from '../core/worker-registry.js';
import type { EndRunOptions } from '../engine/service.js';
import type { CancelRunResult, ClaimedRun, EndRunResult, HeartbeatAnswer, HeartbeatItem, HeartbeatRunsAnswer } from '../store/store.js';

import { DagClient } from './dag-client.js';
import { ScheduleClient } from './schedule-client.js';
import { StatsClient } from './dashboard-client.js';
import { VisitClient } from './visit-client.js';
import { closedError, runPath, toError } from './client-transport.js';
import { TaskClient } from './task-client.js';

export { DEFAULT_CLIENT_TIMEOUT_MS, serverBase, type OrreryClientOptions } from './client-transport.js';
export type { RunPage, TaskPage, TaskQueryFilter } from './task-client.js';

/**
 * The most bytes of items one `POST /api/jobboard/end` or `/jobboard/logs` carries: the server's body
 * limit is 4 MB, so a batch past this goes in several requests.
 */
export const MAX_ITEMS_REQUEST = 3 * 1024 * 1024;

/** A jobboard call's options object, required (as the library requires it): the object, for its keys to be checked. */
function requireObject<T>(opts: T): T & object {
  requireOptions(opts, '{ worker, ... }');
  return opts as T & object;
}

/** About how many bytes an end item takes in a request: its result, error and metadata, plus the rest (at most a few hundred). */
function endItemSize(i: { result?: unknown; error?: string | null; metadata?: Record<string, unknown> }): number {
  let n = 512;
  if (i.result !== undefined && i.result !== null) n += utf8Length(JSON.stringify(i.result) ?? '');
  if (typeof i.error === 'string') n += utf8Length(JSON.stringify(i.error));
  if (i.metadata && Object.keys(i.metadata).length > 0) n += utf8Length(JSON.stringify(i.metadata));
  return n;
}

/** About how many bytes a log record takes in a request. */
function logRecordSize(r: RunLogRecord): number {
  return 128 + utf8Length(JSON.stringify(r.message)) + (r.attributes ? utf8Length(JSON.stringify(r.attributes)) : 0);
}

/**
 * `items` cut into runs of consecutive items whose sizes add up to at most MAX_ITEMS_REQUEST (one item
 * at least each), and at most `maxCount` items each (the route's bound).
 */
function chunks<T>(items: readonly T[], sizeOf: (x: T) => number, maxCount: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let size = 0;
  for (const x of items) {
    const n = sizeOf(x);
    if (cur.length > 0 && (size + n > MAX_ITEMS_REQUEST || cur.length >= maxCount)) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(x);
    size += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** The signals of the server's event stream a client subscribes to. */
type ClientSignal = 'work' | 'cancel' | 'types';

/**
 * A typed client of the HTTP API (`new OrreryClient(url, token)`), mirroring the library: task types,
 * tasks (enqueue = create a one-shot task, dequeue = disable it), runs, and the jobboard, so an
 * `orrery worker --url` runs handlers without reaching the database. The task side is TaskClient's,
 * the transport ClientTransport's.
 */
export class OrreryClient extends TaskClient implements Jobboard {
  /** The jobboard's limit per claim (`POST /api/jobboard/claim`): a worker asks for no more. */
  readonly maxClaim = MAX_HTTP_CLAIM;
  private readonly controllers = new Set<AbortController>();
  /** The subscriptions to the server's event stream, and the stream while any is open. */
  private readonly eventListeners: Record<ClientSignal, Set<() => void>> = { work: new Set(), cancel: new Set(), types: new Set() };
  private events: AbortController | null = null;

  /** Listers, listed origins, visits and metrics, mirroring `orrery.visits`. */
  readonly visits: VisitClient = new VisitClient(<T>(method: 'GET' | 'POST', path: string, body?: unknown) => this.call<T>(method, path, body));
  /** Dashboard views: queues, run rates, workers. */
  readonly stats: StatsClient = new StatsClient(<T>(method: 'GET', path: string) => this.call<T>(method, path));
  /** Schedules: previews and task backfills, mirroring `orrery.schedules`. */
  readonly schedules: ScheduleClient = new ScheduleClient(<T>(method: 'GET' | 'POST', path: string, body?: unknown) => this.call<T>(method, path, body));
  /** DAGs and DAG runs, mirroring `orrery.dags`. */
  readonly dags: DagClient = new DagClient(<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) => this.call<T>(method, path, body));

  /** The client's clock (the jobboard's instant; the server stamps its own). */
  now(): Date {
    return new Date();
  }

  // --- runs -------------------------------------------------------------------------------------
  /**
   * `POST /api/runs/{backendId}/start`: marks a scheduled run started from outside (an external
   * backend), as the library's `startRun`: `worker` (default `external`), `metadata`, `at`.
   */
  async startRun(backendId: string, opts: { worker?: string; metadata?: Record<string, unknown>; at?: Date } = {}): Promise<TaskRun> {
    opts = knownOptions(opts, ['at', 'worker', 'metadata']);
    checkDate(opts.at, 'at'); // sent: text would be read by the server where the library refuses it
    const body = { ...(opts.worker !== undefined ? { worker: opts.worker } : {}), ...(opts.metadata != null ? { metadata: opts.metadata } : {}), ...(opts.at ? { at: opts.at } : {}) };
    return this.call('POST', runPath(backendId, '/start'), body);
  }
  /** Cancels a run: a scheduled one ends at once, a started one's worker is asked to stop it (`at`: the library's, checked, not sent). */
  async cancelRun(backendId: string, opts: { at?: Date } = {}): Promise<CancelRunResult> {
    opts = knownOptions(opts, ['at']);
    const path = runPath(backendId, '/cancel');
    checkDate(opts.at, 'at');
    return this.call('POST', path, {});
  }
  /** `POST /api/runs/{backendId}/end`: ends a run and applies the end-of-run formula to its task. */
  async endRun(backendId: string, opts: EndRunOptions): Promise<EndRunResult> {
    const path = runPath(backendId, '/end');
    // As the library: the options are an object of the fields an end knows (null was a TypeError).
    requireOptions(opts, '{ status, worker?, ... }');
    refuseUnknownKeys(opts, END_OPTIONS, 'options');
    checkDate(opts.at, 'at');
    checkDate(opts.startedAt, 'startedAt'); // a Date, as the library takes it (text was sent)
    // `held` (the run and task a claim returned) serves in-process ends only: the server reads its own.
    const { at, held: _held, startedAt, ...rest } = opts;
    // A null startedAt is none, as the library reads it (and as endRuns and abandonRun send it).
    return this.call('POST', path, { ...rest, ...(at ? { at: at } : {}), ...(startedAt ? { startedAt } : {}) });
  }

  // --- the jobboard -----------------------------------------------------------------------------
  /** `POST /api/jobboard/claim`: claims waiting runs for a worker, each under a lease. */
  async claimRuns(opts: ClaimOptions & { due?: boolean }): Promise<ClaimedRun[]> {
    checkClaimOptions(opts); // the library's checks (a limit given as text claimed); `at` is checked, not sent
    if (opts.limit === 0 || opts.types.length === 0) return []; // as the library (the route refuses an empty list of types)
    const body = {
      worker: opts.worker,
      types: opts.types,
      limit: Math.min(opts.limit, MAX_HTTP_CLAIM),
      ...(opts.startNow !== undefined ? { startNow: Math.min(opts.startNow, MAX_HTTP_CLAIM) } : {}),
      ...(opts.due !== undefined ? { due: opts.due } : {}), // `due: false` claims waiting runs only (it claimed due tasks too)
    };
    // The answer is waited for no longer than the worker asks (a lost answer is recovered through heldRuns).
    return this.call('POST', '/jobboard/claim', body, this.within(opts.answerWithinMs));
  }
  /** The request timeout, or `answerWithinMs` when the caller asks for less. */
  private within(answerWithinMs: number | undefined): number | null {
    if (answerWithinMs === undefined) return this.timeoutMs;
    // A bad bound would time every request out at once (NaN) or never: refused, named.
    checkMs(answerWithinMs, 'answerWithinMs', 1);
    return this.timeoutMs === null ? answerWithinMs : Math.min(this.timeoutMs, answerWithinMs);
  }
  /** `POST /api/jobboard/heartbeat-runs`: renews all of a worker's held runs at once. */
  async heartbeatRuns(opts: { worker: string; runs: readonly HeartbeatItem[]; answerWithinMs?: number }): Promise<HeartbeatRunsAnswer> {
    checkHeartbeatRunsOptions(opts); // the library's checks: each item's keys and start, before the items are rebuilt
    // Waited for no longer than the worker asks: a lost answer must leave time for another heartbeat before the leases end.
    // One item per run, as the library takes them; sent MAX_REQUEST_HEARTBEAT_RUNS at a time (the route's bound), the answers added up.
    const runs = oneItemPerRun(opts.runs);
    const answer: HeartbeatRunsAnswer = { renewed: 0, lost: [], cancelRequested: [] };
    for (let i = 0; i === 0 || i < runs.length; i += MAX_REQUEST_HEARTBEAT_RUNS) {
      const part = runs.slice(i, i + MAX_REQUEST_HEARTBEAT_RUNS);
      const a = await this.call<HeartbeatRunsAnswer>('POST', '/jobboard/heartbeat-runs', { worker: opts.worker, runs: part }, this.within(opts.answerWithinMs));
      answer.renewed += a.renewed;
      answer.lost.push(...a.lost);
      answer.cancelRequested.push(...a.cancelRequested);
    }
    return answer;
  }
  /** `POST /api/jobboard/release`: gives claimed runs that never began back to the queue. */
  async releaseRuns(opts: { worker: string; backendIds: readonly string[]; withdrawnOnly?: boolean; answerWithinMs?: number }): Promise<number> {
    // A misspelt withdrawnOnly would give back every run instead of letting go of the withdrawn ones.
    checkReleaseOptions(opts); // the library's checks, the worker's too, before an empty list answers 0
    if (opts.backendIds.length === 0) return 0; // as the library
    // Sent MAX_REQUEST_RELEASE_RUNS at a time (the route's bound), as the library takes any number.
    let released = 0;
    for (let i = 0; i < opts.backendIds.length; i += MAX_REQUEST_RELEASE_RUNS) {
      const body = { worker: opts.worker, backendIds: opts.backendIds.slice(i, i + MAX_REQUEST_RELEASE_RUNS), ...(opts.withdrawnOnly ? { withdrawnOnly: true } : {}) };
      released += (await this.call<{ released: number }>('POST', '/jobboard/release', body, this.within(opts.answerWithinMs))).released;
    }
    return released;
  }
  /** `POST /api/jobboard/held`: the claimed and started runs a worker holds. */
  async heldRuns(worker: string, opts: { answerWithinMs?: number } = {}): Promise<ClaimedRun[]> {
    opts = knownOptions(opts, ANSWER_WITHIN);
    return this.call('POST', '/jobboard/held', { worker }, this.within(opts.answerWithinMs));
  }
  /** `POST /api/jobboard/heartbeat`: renews one run's lease; the answer says whether its cancellation was asked for. */
  async heartbeat(backendId: string, opts: { worker: string }): Promise<HeartbeatAnswer> {
    refuseUnknownKeys(requireObject(opts), HEARTBEAT_OPTIONS, 'options');
    checkDate((opts as { at?: unknown }).at, 'at');
    const a = await this.call<{ leaseExpiresAt: Date; cancelRequested?: boolean }>('POST', '/jobboard/heartbeat', { backendId, worker: opts.worker });
    return { leaseExpiresAt: a.leaseExpiresAt, cancelRequested: a.cancelRequested === true };
  }
  /** `POST /api/jobboard/end`: ends many runs; each gets its result or the error that refused it. */
  async endRuns(items: ReadonlyArray<{ backendId: string } & EndRunOptions>, opts: { answerWithinMs?: number } = {}): Promise<Array<EndRunResult | OrreryError>> {
    opts = knownOptions(opts, ANSWER_WITHIN);
    if (!Array.isArray(items)) throw invalid('items', 'must be an array of { backendId, status, ... }'); // as the library (it was a TypeError)
    if (items.length === 0) return []; // as the library
    // An item with a field no end knows is refused alone, as the library refuses it (the server would refuse the request whole).
    const refused = items.map((item, i) => {
      try {
        requireEndItem(item, i); // null, or not an object: that item refused, as the library refuses it
      } catch (e) {
        return e as OrreryError;
      }
      const unknown = unknownEndField(item);
      return unknown === null ? null : invalid(`items[${i}].${unknown}`, UNKNOWN_END_FIELD);
    });
    // The server's clock stamps the end: remote worker clocks do not decide instants.
    const sent = items
      .filter((_, i) => refused[i] === null)
      .map(({ at: _at, held: _held, startedAt, ...rest }) => ({ ...rest, worker: rest.worker ?? undefined, ...(startedAt ? { startedAt: startedAt } : {}) }));
    // Sent in requests of at most MAX_ITEMS_REQUEST bytes of items (the server takes bodies of 4 MB) and
    // MAX_REQUEST_END_ITEMS items: a batch of ends with large results, or of 1,001 ends, was refused whole.
    const out: Array<EndRunResult | OrreryError> = [];
    for (const part of chunks(sent, endItemSize, MAX_REQUEST_END_ITEMS)) {
      const { outcomes } = await this.call<{ outcomes: Array<{ ok: EndRunResult } | { error: { code: string; message: string; details: ErrorDetail[] } }> }>('POST', '/jobboard/end', { items: part }, this.within(opts.answerWithinMs));
      for (const o of outcomes) out.push('ok' in o ? o.ok : (toError(o, 400) as OrreryError));
    }
    let next = 0;
    return refused.map((r) => r ?? out[next++]!);
  }
  /** `POST /api/jobboard/abandon`: its worker gives a held run up: a started one (or one given `startedAt`, when its handler began) ends `lost`, a claimed one goes back to the queue. */
  async abandonRun(backendId: string, opts: { worker: string; reason?: string; startedAt?: Date | null; answerWithinMs?: number }): Promise<EndRunResult> {
    checkAbandon(backendId, opts); // the library's checks: a start given as text is refused, not sent
    const body = { backendId, worker: opts.worker, ...(opts.reason ? { reason: opts.reason } : {}), ...(opts.startedAt ? { startedAt: opts.startedAt } : {}) };
    return this.call('POST', '/jobboard/abandon', body, this.within(opts.answerWithinMs));
  }
  /** `POST /api/jobboard/logs`: appends handler log records to a run. */
  async appendRunLogs(backendId: string, records: readonly RunLogRecord[], opts: { answerWithinMs?: number } = {}): Promise<void> {
    opts = knownOptions(opts, ANSWER_WITHIN);
    requireRunId(backendId);
    checkLogRecords(records); // as the library: not an array, a misspelt field or an instant as text is refused, not sent
    // In requests of at most MAX_ITEMS_REQUEST bytes of records, as ends: one large record never takes the others down.
    for (const part of chunks(records, logRecordSize, MAX_LOG_APPEND)) await this.call('POST', '/jobboard/logs', { backendId, records: part.map((r) => ({ ...r, at: r.at })) }, this.within(opts.answerWithinMs));
  }

  /** `POST /api/jobboard/workers`: registers a worker, or refreshes its registry row (docs/operations.md#workers). */
  async registerWorker(worker: WorkerInfo, opts: { answerWithinMs?: number } = {}): Promise<RegisteredWorker> {
    opts = knownOptions(opts, ANSWER_WITHIN);
    // Checked as the library checks it (core workerInfo) before it is sent: a Date as the id was sent as
    // its text and registered a worker of that name.
    workerInfo(worker);
    return this.call('POST', '/jobboard/workers', worker, this.within(opts.answerWithinMs));
  }
  /** `POST /api/jobboard/workers/stop`: marks a registered worker stopped (its graceful stop). */
  async stopWorker(id: string, opts: { answerWithinMs?: number } = {}): Promise<RegisteredWorker> {
    opts = knownOptions(opts, ANSWER_WITHIN);
    return this.call('POST', '/jobboard/workers/stop', { id }, this.within(opts.answerWithinMs));
  }

  /** Listens to the server's event stream; scheduled runs and created tasks call `listener` (reconnects after failures). */
  onRunsScheduled(listener: () => void): () => void {
    return this.onEvent('work', listener);
  }

  /** Listens to the server's event stream; a cancel asked for (a run, a task disabled) calls `listener`, as on a database jobboard. */
  onCancelRequested(listener: () => void): () => void {
    return this.onEvent('cancel', listener);
  }

  /** Listens to the server's event stream; a task type edited, paused or resumed calls `listener`, as on a database jobboard. */
  onTypesChanged(listener: () => void): () => void {
    return this.onEvent('types', listener);
  }

  /** One event stream (`GET /api/events`) for every subscription of this client, open while any is. */
  private onEvent(kind: ClientSignal, listener: () => void): () => void {
    // A closed client subscribes nothing: said, not a listener left that never hears (client audit).
    if (this.closing.signal.aborted) throw closedError();
    this.eventListeners[kind].add(listener);
    if (!this.events) this.events = this.openEvents();
    return () => {
      this.eventListeners[kind].delete(listener);
      if (Object.values(this.eventListeners).every((set) => set.size === 0) && this.events) {
        this.events.abort();
        this.controllers.delete(this.events);
        this.events = null;
      }
    };
  }

  private openEvents(): AbortController {
    const controller = new AbortController();
    this.controllers.add(controller);
    const call = (kind: ClientSignal) => {
      for (const l of [...this.eventListeners[kind]]) l();
    };
    const loop = async () => {
      while (!controller.signal.aborted) {
        try {
          const res = await fetch(`${this.base}/api/events`, { headers: this.authHeader(), signal: controller.signal });
          if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
          const decoder = new TextDecoder();
          let buffer = '';
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            buffer += decoder.decode(chunk, { stream: true });
            let i: number;
            while ((i = buffer.indexOf('\n\n')) >= 0) {
              const frame = buffer.slice(0, i);
              buffer = buffer.slice(i + 2);
              if (/^event: work$/m.test(frame) || (/^event: run$/m.test(frame) && /"event":"scheduled"/.test(frame))) call('work');
              else if (/^event: cancel$/m.test(frame)) call('cancel');
              else if (/^event: types$/m.test(frame)) call('types');
            }
          }
        } catch {
          // server restarting or unreachable: polling and heartbeats cover the gap
        }
        if (!controller.signal.aborted) await new Promise((r) => setTimeout(r, 1000));
      }
    };
    void loop();
    return controller;
  }

  /**
   * Stops the wake-up stream (`onRunsScheduled`, `onCancelRequested`, `onTypesChanged`) and aborts the requests in flight: they, and every
   * later call, reject with an OrreryError of code `client_closed`. Stop a worker before closing its client.
   */
  close(): void {
    for (const c of this.controllers) c.abort();
    this.controllers.clear();
    this.events = null;
    for (const set of Object.values(this.eventListeners)) set.clear();
    this.closing.abort();
  }
}
