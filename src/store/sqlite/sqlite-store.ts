import type Database from 'better-sqlite3';
import { setTaskPauseInTx } from './sqlite-pause.js';
import { settleGivenBack } from './sqlite-give-back.js';
import type { GiveBackOutcome } from '../../core/give-back.js';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { ConflictError, LeaseLostError, NotFoundError, OrreryError, ValidationError, shown } from '../../core/errors.js';
import { DAG_BACKEND } from '../../core/dag.js';
import { CANCELLED_ERROR } from '../../core/model.js';
import type { RunLogRecord, StoredRunLogRecord, Task, TaskRun, TaskType, TypePause } from '../../core/model.js';
import { externalStartInstant, holderEffect, planRunEnd } from '../../core/run-end.js';
import type { NewTask } from '../../core/validation.js';
import { NotifyHub } from '../notify-hub.js';
import { TypeCache, unknownType } from '../task-types.js';
import { SqliteTaskTypes } from './sqlite-task-types.js';
import { SqliteAdaptiveRates } from './sqlite-adaptive-rates.js';
import { SqliteTypeLoad } from './sqlite-type-load.js';
import { SqliteRunSearch } from './sqlite-run-search.js';
import type { RunSearch } from '../../core/run-search.js';
import type { RunSeriesBucket } from '../../core/run-series.js';
import type { TypeLoadFacts } from '../../core/why.js';
import type { AdaptiveRateRow, RunLogQuery, ThrottledRate, TypeLoadRequest } from '../store.js';
import { wakeUps, type StoreChange } from '../../core/wake-ups.js';
import { freshClaim, queueSlots, SCHEDULE_BATCH } from '../../core/limits.js';
import { WakeFiles } from '../wake-files.js';
import { SqliteFileIdentity } from './sqlite-file-identity.js';
import { claimedFromRow, runFromRow, storedLogFromRow, taskFromRow, taskTypeFromRow, type Row } from '../rows.js';
import type {
  CancelRunResult,
  Channel,
  ClaimOutcome,
  ClaimRequest,
  ClaimedRun,
  ChunkSink,
  CreatedTask,
  HeartbeatAnswer,
  HeartbeatItem,
  HeartbeatRunsAnswer,
  ScheduleDueOptions,
  EndRunItem,
  EndRunRequest,
  EndRunResult,
  QueueStats,
  DueStats,
  RunRate,
  RunSeriesQuery,
  BulkTaskOutcome,
  BulkTaskRequest,
  StartRunRequest,
  Store,
  TaskFilter,
  WorkerActivity,
} from '../store.js';
import { openSqlite } from './sqlite-connection.js';
import { WalCheckpointer } from './sqlite-checkpointer.js';
import { translateSqliteError } from './sqlite-errors.js';
import { SUB_STORES, translatingErrors } from '../error-translation.js';
import { dueRow, prepare, typeParams } from './sqlite-queries.js';
import { SqliteVisitStore } from './sqlite-visits.js';
import { SqliteDags } from './sqlite-dags.js';
import type { DagStore } from '../dag-store.js';
import { SqliteArchive } from './sqlite-archive.js';
import { CATCH_UP_BATCH } from '../../core/catch-up.js';
import { SqliteSchedules } from './sqlite-schedules.js';
import { SqliteAlerts } from './sqlite-alerts.js';
import { SqliteWorkers } from './sqlite-workers.js';
import type { ArchiveStore } from '../archive-store.js';
import { SqliteClaims } from './sqlite-claims.js';
import { SqliteTaskWrites } from './sqlite-tasks.js';
import { SqliteStats } from './sqlite-stats.js';
import { SqliteHeldRuns, taskParams } from './sqlite-held-ends.js';
import { claimOrder, runnerCutoff } from '../../core/claim-ahead.js';
import { SqliteTaskActions } from './sqlite-task-actions.js';
import { SqliteTaskSearch } from './sqlite-task-search.js';
import { respawnError, tasksWritten } from '../task-actions.js';
import type { TaskSearch, TaskSearchRows } from '../../core/task-search.js';
import { timeOrderedUuid } from '../run-ids.js';

/** Tasks from which an import's WAL is checkpointed on a thread (10,000 tasks: about 4 MB of WAL, a few tens of ms to copy). */
const OFF_THREAD_CHECKPOINT = 10_000;

/** Lets timers and I/O run (setImmediate comes after the poll phase). */
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

export { QUEUE_STATS_SQL } from './sqlite-queries.js';

/** The embedded store: one SQLite file in WAL mode; writes take the write lock up front (BEGIN IMMEDIATE). */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly hub: NotifyHub;
  private readonly wakeFiles: WakeFiles | null;
  private readonly stmts: ReturnType<typeof prepare>;
  private readonly typeCache = new TypeCache();
  /** Whether this store forgets its types on another process's `types` wake-up (forgetTypesOnChange). */
  private typesWatched = false;
  /** One end inside the batch's transaction, as a savepoint: a refused end leaves the others alone. */
  private readonly endNested: (item: EndRunItem) => EndRunResult;
  private readonly inWriteTx: Database.Transaction<(fn: () => unknown) => unknown>;
  /** The file opened, checked before each write (a file deleted under the process). */
  private readonly file: SqliteFileIdentity | null;
  readonly dags: DagStore;
  readonly archive: ArchiveStore;
  readonly visits: SqliteVisitStore;
  readonly schedules: SqliteSchedules;
  /** Claims of due tasks catch late cron and rrule tasks up in their own transaction. */
  readonly catchesUpInClaims = true;
  readonly workers: SqliteWorkers;
  readonly alerts: SqliteAlerts;
  private readonly claims: SqliteClaims;
  private readonly taskWrites: SqliteTaskWrites;
  private readonly held: SqliteHeldRuns;
  /** Set while importTasks holds the write lock across turns of the event loop; other writes wait for it. */
  private importing: Promise<void> | null = null;
  /** Checkpoints the WAL on a thread, so commits here do not wait for it (null in memory). */
  private readonly checkpointer: WalCheckpointer | null;
  private readonly taskTypes: SqliteTaskTypes;
  private readonly typeLoads: SqliteTypeLoad;
  private readonly actions: SqliteTaskActions;
  private readonly adaptive: SqliteAdaptiveRates;

  constructor(readonly url: string, private readonly path: string) {
    this.db = openSqlite(path);
    // Another process's write lock is waited for asynchronously (write): SQLite's own busy wait holds
    // the event loop, and a server waiting 15 s for the lock answered nothing meanwhile, /healthz
    // included. A statement waits at most BUSY_SPIN_MS itself.
    if (path !== ':memory:') this.db.pragma(`busy_timeout = ${BUSY_SPIN_MS}`);
    this.hub = new NotifyHub(path === ':memory:' ? `memory:${randomUUID()}` : `sqlite:${resolve(path)}`);
    // A wake-up is written at once unless a transaction is open: this connection's, or an import's on a
    // connection of its own (importTasks), which spans turns of the event loop.
    this.wakeFiles = path === ':memory:' ? null : new WakeFiles(resolve(path), (channel) => this.hub.notify(channel), () => !this.db.inTransaction && !this.importing);
    this.checkpointer = path === ':memory:' ? null : new WalCheckpointer(this.db, path);
    this.file = path === ':memory:' ? null : new SqliteFileIdentity(path);
    this.stmts = prepare(this.db);
    this.claims = new SqliteClaims(this.db, (name) => this.typeOrNull(name), (type, at, limit) => this.pickDue(type, at, limit));
    this.taskWrites = new SqliteTaskWrites(this.db);
    this.taskTypes = new SqliteTaskTypes(this.db);
    this.typeLoads = new SqliteTypeLoad(this.db);
    this.adaptive = new SqliteAdaptiveRates(this.db);
    this.held = new SqliteHeldRuns(this.db, (name) => this.typesOf([name])[0]!);
    this.actions = new SqliteTaskActions({
      db: this.db,
      stmts: this.stmts,
      taskWrites: this.taskWrites,
      typeOf: (name) => this.typesOf([name])[0]!,
      endInTx: (run, req) => this.endInTx(run, req),
    });
    // One transaction function for every write (making one per call costs about 15 us: better-sqlite3
    // builds its wrappers each time).
    this.inWriteTx = this.db.transaction((fn: () => unknown) => fn());
    this.endNested = this.db.transaction((item: EndRunItem) => this.endInTx(this.requireRun(item.backendId), item.req));
    this.dags = new SqliteDags({ db: this.db, write: (fn) => this.write(fn), insertTasks: (t, at) => this.insertTasksInTx(t, at), insertAlert: (a) => this.alerts.insertInTx(a), wake: (c) => this.wake(c) });
    this.archive = new SqliteArchive(this.db, (fn) => this.write(fn));
    this.alerts = new SqliteAlerts(this.db, (fn) => this.write(fn), (name) => this.typesOf([name])[0]!);
    this.schedules = new SqliteSchedules({ db: this.db, write: (fn) => this.write(fn), wake: (c) => this.wake(c) });
    this.workers = new SqliteWorkers(this.db, (fn) => this.write(fn));
    this.visits = new SqliteVisitStore({ db: this.db, write: (fn) => this.write(fn), insertTasks: (t, at) => this.insertTasksInTx(t, at), wake: (c) => this.wake(c) });
    // Every error out of the store and its sub-stores goes through the translation (sqlite-errors.ts).
    return translatingErrors(this, translateSqliteError, SUB_STORES, () => !this.db.open);
  }

  async close(): Promise<void> {
    await this.checkpointer?.close();
    this.wakeFiles?.close();
    this.hub.close();
    if (this.db.open) this.db.close();
  }

  async assertWritable(): Promise<void> {
    if (this.path === ':memory:') return;
    while (this.importing) await this.importing;
    // A write of a row as it is, rolled back: SQLite answers SQLITE_READONLY at the write itself.
    await whenUnlocked(() => this.db.exec('BEGIN IMMEDIATE'));
    try {
      this.db.prepare('UPDATE orrery_migrations SET name = name WHERE version = (SELECT max(version) FROM orrery_migrations)').run();
    } finally {
      this.db.exec('ROLLBACK');
    }
  }

  /**
   * Runs `fn` in a write transaction (BEGIN IMMEDIATE). While an import holds the write lock for its
   * chunked transaction (importTasks), writes wait for it here, asynchronously: the event loop runs on.
   */
  private async write<T>(fn: () => T): Promise<T> {
    while (this.importing) await this.importing;
    this.file?.assertSame();
    let out: T;
    try {
      out = this.inWriteTx.immediate(fn) as T;
    } catch (e) {
      // Another process holds the write lock (BEGIN IMMEDIATE failed before fn ran): wait for it
      // with the event loop running, up to the 15 s SQLite's own wait had.
      if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
      out = await whenUnlocked(() => this.inWriteTx.immediate(fn) as T, true);
    }
    this.checkpointer?.afterCommit();
    return out;
  }

  async createTaskType(type: TaskType, at: Date): Promise<TaskType> {
    try {
      await this.write(() => this.stmts.insertType.run({ ...typeParams(type), created: at.getTime() }));
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new ConflictError(`task type "${type.name}" already exists`, [{ path: 'name', message: 'already exists' }]);
      }
      throw e;
    }
    return { ...type, paused: null };
  }

  async updateTaskType(name: string, change: (current: TaskType) => TaskType | null, at: Date): Promise<TaskType> {
    // In the write transaction: the type read and the edit written are one step among concurrent edits.
    const out = await this.write(() => {
      const row = this.stmts.typesByName.get(JSON.stringify([name])) as Row | undefined;
      if (!row) throw unknownType(name);
      const current = taskTypeFromRow(row);
      const next = change(current);
      if (next === null) return { type: current, changed: false };
      this.taskTypes.updateInTx(next, at);
      return { type: next, changed: true };
    });
    if (out.changed) {
      this.typeCache.forget(name);
      this.wake({ kind: 'type-changed', paused: Boolean(out.type.paused) });
    }
    return out.type;
  }

  async deleteTaskType(name: string, _at: Date): Promise<void> {
    await this.write(() => this.taskTypes.deleteInTx(name));
    this.typeCache.forget(name);
  }

  async typeLoad(req: TypeLoadRequest): Promise<TypeLoadFacts> {
    return this.typeLoads.read(req);
  }

  async getTaskTypes(names?: readonly string[]): Promise<TaskType[]> {
    const rows = names === undefined ? this.stmts.allTypes.all() : this.stmts.typesByName.all(JSON.stringify(names));
    return (rows as Row[]).map(taskTypeFromRow);
  }

  async createTasks(tasks: readonly NewTask[], at: Date): Promise<CreatedTask[]> {
    const out = await this.write(() => this.insertTasksInTx(tasks, at));
    this.wake(tasksWritten(out));
    return out;
  }

  /**
   * One transaction over many turns of the event loop: BEGIN IMMEDIATE, a chunk's inserts, a yield,
   * the next chunk ... COMMIT. On a database file it runs on a connection of its own, so this process's
   * reads keep seeing committed rows only; its other writes wait in `write` (asynchronously) until the
   * commit, and other processes' writes wait for the lock as for any transaction (busy timeout 15 s).
   * `chunks()` is read once: with one writer at a time, no two imports deadlock.
   */
  async importTasks(chunks: () => AsyncIterable<readonly NewTask[]>, at: Date, sink: ChunkSink): Promise<void> {
    while (this.importing) await this.importing;
    // Its connection is its own: once this store is closed, nothing may write through it (the error is translated: the store is closed).
    if (!this.db.open) throw new TypeError('The database connection is not open');
    this.file?.assertSame(); // its connection opens the path: a deleted file would be made anew there
    let release!: () => void;
    this.importing = new Promise<void>((r) => (release = r));
    let db: Database.Database | null = null;
    let changed = 0;
    try {
      db = this.path === ':memory:' ? this.db : openSqlite(this.path);
      if (db !== this.db) {
        // Pages spill to the WAL as chunks are written (a small cache), so the commit writes little;
        // the WAL is copied back into the database by a thread (WalCheckpointer), not by the commit.
        db.pragma('cache_size = -8192');
        db.pragma('wal_autocheckpoint = 0');
        db.pragma(`busy_timeout = ${BUSY_SPIN_MS}`);
      }
      const writes = db === this.db ? this.taskWrites : new SqliteTaskWrites(db);
      // Another process's write lock is waited for with the event loop running, as every write does.
      const begin = db.prepare('BEGIN IMMEDIATE');
      await whenUnlocked(() => begin.run());
      let written = 0;
      for await (const chunk of chunks()) {
        written += chunk.length;
        const out = writes.insertTasksInTx(chunk, at);
        for (const c of out) if (c.created || c.replaced) changed++;
        await sink.chunk(out);
        await nextTurn();
      }
      db.prepare('COMMIT').run();
      if (db !== this.db) {
        db.close();
        // Before other writes, whose commits would checkpoint here; a small WAL is left to them.
        if (written >= OFF_THREAD_CHECKPOINT) await this.checkpointer?.checkpoint();
      }
    } catch (e) {
      if (db?.inTransaction) db.prepare('ROLLBACK').run();
      changed = 0;
      throw e;
    } finally {
      if (db && db !== this.db && db.open) db.close();
      this.importing = null;
      release();
    }
    this.wake({ kind: 'tasks-written', count: changed });
  }

  /** Inserts tasks inside the caller's write transaction; an equal active task is returned instead. */
  private insertTasksInTx(tasks: readonly NewTask[], at: Date): CreatedTask[] {
    return this.taskWrites.insertTasksInTx(tasks, at);
  }

  async getTask(id: number): Promise<Task | null> {
    const row = this.stmts.taskById.get(id) as Row | undefined;
    return row ? taskFromRow(row) : null;
  }

  async searchTasks(f: TaskFilter): Promise<Task[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      where.push(sql);
      params.push(v);
    };
    if (f.type !== undefined) add('type = ?', f.type);
    if (f.status !== undefined) add('status = ?', f.status);
    if (f.priority === null) where.push('priority IS NULL');
    else if (f.priority !== undefined) add('priority = ?', f.priority);
    if (f.policy !== undefined) add('policy = ?', f.policy);
    if (f.disabledReason !== undefined) add('disabled_reason = ?', f.disabledReason);
    if (f.dagAttempts !== undefined) add(`type ${f.dagAttempts ? 'IN' : 'NOT IN'} (SELECT name FROM task_types WHERE backend_name = ?)`, DAG_BACKEND);
    if (f.afterId !== undefined) add('id > ?', f.afterId);
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
    return (this.db.prepare(sql).all(...params, f.limit ?? -1) as Row[]).map(taskFromRow);
  }

  async listPending(type: string, at: Date, limit: number): Promise<Task[]> {
    return this.pickDue(type, at.getTime(), limit).map(taskFromRow);
  }

  /** Due tasks of a type in runner order: one index range per priority rank, so idle tasks cost nothing. */
  private pickDue(type: string, at: number, limit: number): Row[] {
    return (this.stmts.dueOfType.all(type, at, limit) as unknown[][]).map(dueRow);
  }

  async disableTasks(ids: readonly number[], at: Date): Promise<{ tasks: Task[]; withdrawn: TaskRun[] }> {
    let stopping = 0;
    const withdrawn: TaskRun[] = [];
    const tasks = await this.write(() =>
      ids.map((id) => {
        const task = this.requireTask(id);
        if (task.status === 'disabled') return task;
        const done = this.actions.disable(id, at);
        stopping += done.stopping;
        withdrawn.push(...done.withdrawn);
        return done.task;
      }),
    );
    this.wake({ kind: 'tasks-disabled', stopping });
    return { tasks, withdrawn };
  }

  async setTaskPause(id: number, pause: TypePause | null, at: Date): Promise<Task> {
    const task = await this.write(() => setTaskPauseInTx(this.db, id, pause, at, this.schedules));
    this.wake({ kind: 'tasks-written', count: 1 });
    return task;
  }

  async respawnTasks(ids: readonly number[], nextRun: Date, at: Date): Promise<Task[]> {
    const out = await this.write(() =>
      ids.map((id) => {
        const task = this.requireTask(id);
        const refusal = this.actions.respawnRefusal(task, at);
        if (refusal) throw respawnError(task, refusal);
        return this.actions.respawn(task, nextRun, at);
      }),
    );
    this.wake({ kind: 'tasks-written', count: out.length });
    return out;
  }

  async findTasks(search: TaskSearch): Promise<TaskSearchRows<Task>> {
    return (this.taskSearch ??= new SqliteTaskSearch(this.db)).find(search);
  }
  private taskSearch: SqliteTaskSearch | null = null;

  async bulkTasks(req: BulkTaskRequest): Promise<BulkTaskOutcome> {
    const { stopping, cancelsHeld, ...out } = await this.write(() => this.actions.batch(req));
    if (req.action === 'disable') this.wake({ kind: 'tasks-disabled', stopping });
    if (req.action === 'respawn' || req.action === 'redrive') this.wake({ kind: 'tasks-written', count: out.changed.length });
    if (req.action === 'cancel' && (stopping > 0 || cancelsHeld)) this.wake({ kind: 'cancel-requested' });
    if (out.ended.length > 0) this.wake({ kind: 'runs-ended', results: out.ended, leftQueue: true });
    return out;
  }

  async scheduleDue(type: string, at: Date, opts: ScheduleDueOptions = {}): Promise<TaskRun[]> {
    const limit = opts.limit;
    let now = at.getTime();
    if (opts.graceMs) {
      const t = this.typeOrNull(type);
      if (t === null) throw new NotFoundError(`unknown task type "${shown(type)}"`, [{ path: 'type', message: 'unknown task type' }]);
      const marker = (this.stmts.directClaimOf.get(type) as { t: number | null } | undefined)?.t ?? null;
      const cutoff = runnerCutoff(t, at, marker === null ? null : new Date(marker), opts.graceMs, opts.holdUnlimited);
      if (cutoff === null) return [];
      now = cutoff.getTime();
    }
    if (!this.stmts.anyDue.get(type, now)) return [];
    if (opts.minFree !== undefined && opts.minFree > 1) {
      const [t] = this.typesOf([type]);
      if (t!.maxQueueLength !== null) {
        const queued = (this.stmts.queuedOfType.get(type) as { n: number }).n;
        if (queued > 0 && t!.maxQueueLength - queued < opts.minFree) return [];
      }
    }
    const runs = await this.write(() => {
      const typeRow = this.stmts.typesByName.get(JSON.stringify([type])) as Row | undefined;
      if (!typeRow) throw new NotFoundError(`unknown task type "${shown(type)}"`, [{ path: 'type', message: 'unknown task type' }]);
      if (typeRow.paused_at !== null) return []; // a paused type's tasks wait (docs/operations.md)
      const max = typeRow.max_queue_length as number | null;
      const queued = max === null ? 0 : (this.stmts.queuedOfType.get(type) as { n: number }).n;
      const slots = queueSlots(max, queued, limit ?? SCHEDULE_BATCH);
      if (slots <= 0) return [];
      return this.pickDue(type, now, slots).map((task) => {
        const run = this.stmts.insertRun.get({
          task: task.id,
          type,
          backend_id: timeOrderedUuid(at.getTime()),
          rank: task.priority_rank,
          scheduled: at.getTime(),
          attempt: task.next_attempt,
          ckey: task.concurrency_key ?? null,
          scheduled_for: task.scheduled_for ?? task.next_run,
        }) as Row;
        this.stmts.markScheduled.run(run.id, task.id);
        return runFromRow(run);
      });
    });
    this.wake({ kind: 'runs-queued', count: runs.length });
    return runs;
  }

  async nextDueAt(): Promise<Date | null> {
    const row = this.stmts.nextDue.get() as { t: number | null };
    return row.t === null ? null : new Date(row.t);
  }

  async typesDue(at: Date): Promise<string[]> {
    return (this.stmts.typesDue.all(at.getTime()) as Array<{ name: string }>).map((r) => r.name);
  }

  async claimRuns(req: ClaimRequest): Promise<ClaimOutcome> {
    if (req.limit <= 0 || req.types.length === 0) return { runs: [], heldBack: false, retryAt: null };
    let caughtUp = 0;
    const outcome = await this.write(() => {
      const fresh = freshClaim(req); // the instant once the write lock is held, not before the wait for it
      // Late cron and rrule tasks first, so that a due task claimed here serves the occurrence its policy says.
      if (fresh.due) caughtUp = this.schedules.catchUpInTx(fresh.at, CATCH_UP_BATCH).length;
      return this.claims.claimInTx(fresh);
    });
    if (caughtUp > 0) this.wake({ kind: 'tasks-written', count: caughtUp });
    outcome.runs.sort(claimOrder);
    this.wake({ kind: 'runs-claimed', fromQueue: outcome.runs.length - (outcome.created?.length ?? 0) });
    return outcome;
  }

  async throttleRate(type: string, key: string | null, at: Date): Promise<ThrottledRate | null> {
    const t = this.typeOrNull(type);
    return t === null ? null : this.write(() => this.adaptive.throttleInTx(t, key, at));
  }

  async adaptiveRates(types?: readonly string[]): Promise<AdaptiveRateRow[]> {
    return this.adaptive.read(types);
  }

  async heldRuns(worker: string): Promise<ClaimedRun[]> {
    return (this.stmts.heldBy.all(worker) as Row[]).map(claimedFromRow);
  }

  async startRun(backendId: string, req: StartRunRequest): Promise<TaskRun> {
    const run = await this.write(() => {
      const current = this.requireRun(backendId);
      if (current.status !== 'scheduled') {
        throw new ConflictError(`run ${backendId} is ${current.status}, not scheduled; nothing changed`, [
          { path: 'backendId', message: `run is ${current.status}` },
        ]);
      }
      const at = externalStartInstant(current, req.at);
      const row = this.stmts.startRun.get({
        backend_id: backendId,
        worker: req.worker,
        at: at.getTime(),
        metadata: JSON.stringify({ ...current.metadata, ...(req.metadata ?? {}) }),
      }) as Row;
      this.claims.recordExternalStart(this.typesOf([current.type])[0]!, at, (row.concurrency_key ?? null) as string | null);
      return runFromRow(row);
    });
    this.wake({ kind: 'runs-claimed', fromQueue: 1 });
    return run;
  }

  async heartbeatRuns(worker: string, items: readonly HeartbeatItem[], at: Date): Promise<HeartbeatRunsAnswer> {
    if (items.length === 0) return { renewed: 0, lost: [], cancelRequested: [] };
    return this.write(() => this.held.heartbeatInTx(worker, items, at));
  }

  async releaseRuns(worker: string, backendIds: readonly string[], at: Date, withdrawnOnly = false): Promise<GiveBackOutcome<EndRunResult>> {
    if (backendIds.length === 0) return { queued: 0, ended: [], withdrawn: [], disabled: [] };
    const back = await this.write(() => settleGivenBack(this.db, this.held.releaseInTx(worker, backendIds, withdrawnOnly), at, (run, req) => this.endInTx(run, req), false));
    this.wakeGivenBack(back);
    return back;
  }

  async releaseExpiredClaims(at: Date, limit = 500): Promise<GiveBackOutcome<EndRunResult>> {
    const back = await this.write(() => settleGivenBack(this.db, this.held.releaseExpiredInTx(at, limit), at, (run, req) => this.endInTx(run, req), true));
    this.wakeGivenBack(back);
    return back;
  }

  /** The wake-ups of a give-back: runs queued again, and the ends of the ones it cancelled. */
  private wakeGivenBack(back: GiveBackOutcome<EndRunResult>): void {
    this.wake({ kind: 'runs-queued', count: back.queued });
    if (back.ended.length > 0) this.wake({ kind: 'runs-ended', results: back.ended, leftQueue: true });
  }

  async heartbeat(backendId: string, worker: string, at: Date): Promise<HeartbeatAnswer> {
    const row = await this.write(() => this.stmts.heartbeat.get({ backend_id: backendId, worker, at: at.getTime() }) as Row | undefined);
    if (!row) {
      this.requireRun(backendId); // an unknown run is not_found, not a lost lease
      throw new LeaseLostError(`run ${backendId} is not held by worker ${worker}`); // never held, or no longer: as an end says it
    }
    return { leaseExpiresAt: new Date(Number(row.lease_expires_at)), cancelRequested: row.cancel_requested === 1 };
  }

  async cancelRun(backendId: string, at: Date): Promise<CancelRunResult> {
    let cancelsHeld = false;
    const out = await this.write((): CancelRunResult => {
      const run = this.requireRun(backendId);
      if (run.status === 'claimed') cancelsHeld = true; // its worker drops it from its buffer at its next heartbeat
      if (run.status === 'started') {
        const row = this.stmts.requestCancel.get(run.id) as Row;
        return { outcome: 'requested', run: runFromRow(row), task: this.requireTask(run.task), taskUpdated: false };
      }
      if (run.status !== 'scheduled' && run.status !== 'claimed') {
        throw new ConflictError(`run ${backendId} already ended ${run.status}; nothing to cancel`, [{ path: 'backendId', message: `run is ${run.status}` }]);
      }
      const r = this.endInTx(run, { status: 'lost', at, cause: 'cancel', error: CANCELLED_ERROR });
      // Its worker may be beginning it: the lease is kept until that worker lets go of it (releaseRuns).
      if (run.status === 'claimed') this.stmts.keepLease.run({ id: run.id, lease: run.leaseExpiresAt?.getTime() ?? null });
      return { outcome: 'ended', run: { ...r.run, leaseExpiresAt: run.status === 'claimed' ? run.leaseExpiresAt : r.run.leaseExpiresAt }, task: r.task, taskUpdated: r.taskUpdated };
    });
    if (out.outcome === 'requested' || cancelsHeld) this.wake({ kind: 'cancel-requested' });
    if (out.outcome === 'ended') this.wake({ kind: 'runs-ended', results: [out], leftQueue: true });
    return out;
  }

  async endRun(backendId: string, req: EndRunRequest): Promise<EndRunResult> {
    let tell = false;
    const result = await this.write((): EndRunResult => {
      const run = this.requireRun(backendId);
      const r = this.endInTx(run, req);
      // Ended by someone else than its holder: the worker is told; a buffered run keeps its lease until it lets go.
      const effect = holderEffect(run, req);
      tell = effect.tellWorker;
      if (!effect.keepLease) return r;
      this.stmts.keepLease.run({ id: run.id, lease: run.leaseExpiresAt!.getTime() });
      return { ...r, run: { ...r.run, leaseExpiresAt: run.leaseExpiresAt } };
    });
    if (tell) this.wake({ kind: 'cancel-requested' });
    this.wake({ kind: 'runs-ended', results: [result] });
    return result;
  }

  async endRuns(items: readonly EndRunItem[]): Promise<Array<EndRunResult | OrreryError>> {
    if (items.length === 0) return [];
    const seen = new Map<string, number>();
    for (const { backendId } of items) seen.set(backendId, (seen.get(backendId) ?? 0) + 1);
    const out = await this.write(() =>
      items.map((item) => {
        try {
          // A held run ends from its claim's snapshot (guarded, no reads); a run ended twice in one batch,
          // or one the guard refuses, takes the careful path: nested, a savepoint, so a refused end
          // leaves the others in the batch alone.
          const held = seen.get(item.backendId) === 1 ? this.held.endInTx(item) : null;
          if (held === null) return this.endNested(item);
          this.alerts.recordInTx(held);
          return held;
        } catch (e) {
          if (e instanceof OrreryError) return e;
          throw e;
        }
      }),
    );
    this.wake({ kind: 'runs-ended', results: out.filter((r): r is EndRunResult => !(r instanceof OrreryError)) });
    return out;
  }

  private endInTx(run: TaskRun, req: EndRunRequest): EndRunResult {
    const taskRow = this.stmts.taskById.get(run.task) as Row;
    const task = taskFromRow(taskRow);
    const [type] = this.typesOf([task.type]);
    const plan = planRunEnd(run, task, type!, taskRow.current_run === null ? null : Number(taskRow.current_run), req);
    const runRow = this.stmts.endRun.get({
      id: run.id,
      started: plan.run.started ? plan.run.started.getTime() : null,
      status: plan.run.status,
      ended: plan.run.ended!.getTime(),
      metadata: JSON.stringify(plan.run.metadata),
      result: plan.run.result === null || plan.run.result === undefined ? null : JSON.stringify(plan.run.result),
      error: plan.run.error,
    }) as Row;
    if (plan.task === null) return { run: runFromRow(runRow), task, taskUpdated: false, ...(plan.note ? { note: plan.note } : {}) };
    const updated = this.stmts.updateTaskAfterRun.get(taskParams(task.id, plan.task)) as Row;
    const result = { run: runFromRow(runRow), task: taskFromRow(updated), taskUpdated: true };
    this.alerts.recordInTx(result);
    return result;
  }

  async reapExpired(at: Date, limit = 500): Promise<EndRunResult[]> {
    const results = await this.write(() =>
      (this.stmts.expired.all(at.getTime(), limit) as Row[]).map((r) => {
        const run = runFromRow(r);
        return this.endInTx(run, {
          status: 'lost',
          at,
          cause: 'lease-expired',
          error: `lease expired at ${run.leaseExpiresAt!.toISOString()} (worker ${run.worker ?? '?'} stopped heartbeating)`,
        });
      }),
    );
    this.wake({ kind: 'runs-ended', results: results });
    return results;
  }

  async nextLeaseExpiry(): Promise<Date | null> {
    const row = this.stmts.nextLease.get() as { t: number | null };
    return row.t === null ? null : new Date(row.t);
  }

  async dueStats(at: Date, cap: number): Promise<DueStats[]> {
    return this.stats.dueStats(at, cap);
  }

  async queueStats(_at: Date): Promise<QueueStats[]> {
    // A deferred transaction: one consistent snapshot for every type.
    const rows = this.db.transaction(() => this.stmts.queueStats.all() as Row[])();
    return rows.map((r) => ({
      type: r.type as string,
      scheduled: Number(r.scheduled),
      running: Number(r.running),
      claimed: Number(r.claimed),
      oldestScheduled: r.oldest === null ? null : new Date(Number(r.oldest)),
      deadLettered: Number(r.dead),
      pausedTasks: Number(r.paused),
    }));
  }

  private statsReads: SqliteStats | null = null;
  private get stats(): SqliteStats {
    return (this.statsReads ??= new SqliteStats(this.db));
  }

  async runRates(since: Date, at: Date): Promise<RunRate[]> {
    return this.stats.runRates(since, at);
  }

  async runSeries(query: RunSeriesQuery): Promise<RunSeriesBucket[]> {
    return this.stats.runSeries(query);
  }

  async workerActivity(since: Date, at: Date): Promise<WorkerActivity[]> {
    return this.stats.workerActivity(since, at);
  }

  async getRun(backendId: string): Promise<TaskRun | null> {
    const row = this.stmts.runByBackendId.get(backendId) as Row | undefined;
    return row ? runFromRow(row) : null;
  }

  async searchRuns(search: RunSearch): Promise<TaskRun[]> {
    return (this.runSearch ??= new SqliteRunSearch(this.db)).search(search);
  }
  private runSearch: SqliteRunSearch | null = null;

  async listRuns(taskId: number, last?: number): Promise<TaskRun[]> {
    const rows = last === undefined ? this.stmts.runsOfTask.all(taskId) : this.stmts.lastRunsOfTask.all(taskId, last);
    return (rows as Row[]).map(runFromRow);
  }

  async appendRunLogs(backendId: string, records: readonly RunLogRecord[]): Promise<void> {
    if (records.length === 0) {
      this.requireRun(backendId); // an unknown run is refused whatever the records
      return;
    }
    await this.write(() => {
      const run = this.requireRun(backendId);
      for (const r of records) {
        this.stmts.insertLog.run(run.id, r.at.getTime(), r.level, r.message, JSON.stringify(r.attributes ?? {}));
      }
    });
  }

  async getRunLogs(backendId: string, opts: RunLogQuery = {}): Promise<StoredRunLogRecord[]> {
    const run = this.requireRun(backendId);
    return (this.stmts.logsOfRun.all(run.id, opts.after ?? 0, opts.limit ?? -1) as Row[]).map(storedLogFromRow);
  }

  wake(change: StoreChange): void {
    for (const channel of wakeUps(change)) this.signal(channel);
  }

  private signal(channel: Channel): void {
    this.hub.notify(channel);
    if (channel !== 'ended') this.wakeFiles?.touch(channel); // 'ended' only serves in-process observers
  }

  /**
   * A process that listens for wake-ups lives long and serves others (a remote worker's claims go
   * through its cache): a type changed by another process is forgotten as soon as its `types` wake-up
   * arrives, not up to TYPE_CACHE_MS later (a type that gained limits was claimed as unlimited meanwhile).
   */
  private forgetTypesOnChange(): void {
    if (this.typesWatched) return;
    this.typesWatched = true;
    this.listen('types', () => this.typeCache.clear());
  }

  listen(channel: Channel, listener: () => void): () => void {
    this.forgetTypesOnChange();
    if (channel !== 'ended') this.wakeFiles?.watch(channel);
    // A process whose loops listen lives long: its checkpoint thread starts now, not in the middle of work.
    this.checkpointer?.prestart();
    return this.hub.listen(channel, listener);
  }

  private requireTask(id: number): Task {
    const row = this.stmts.taskById.get(id) as Row | undefined;
    if (!row) throw new NotFoundError(`task ${id} not found`, [{ path: 'id', message: `no task ${id}` }]);
    return taskFromRow(row);
  }

  private requireRun(backendId: string): TaskRun {
    const row = this.stmts.runByBackendId.get(backendId) as Row | undefined;
    if (!row) throw new NotFoundError(`run ${shown(backendId)} not found`, [{ path: 'backendId', message: `no run ${shown(backendId)}` }]);
    return runFromRow(row);
  }

  /** A type by name (cached), or null for a name no type has. */
  private typeOrNull(name: string): TaskType | null {
    const cached = this.typeCache.get(name);
    if (cached) return cached;
    const row = this.stmts.typesByName.get(JSON.stringify([name])) as Row | undefined;
    if (!row) return null;
    const type = taskTypeFromRow(row);
    this.typeCache.set(type);
    return type;
  }

  /** A type by name, read at most once per TYPE_CACHE_MS (types are edited at runtime). */
  private typesOf(names: string[]): TaskType[] {
    return names.map((n) => {
      const type = this.typeOrNull(n);
      if (!type) throw new ValidationError(`unknown task type "${shown(n)}"`);
      return type;
    });
  }

}

/** How long one statement waits for another process's lock by itself (SQLite's busy wait, which holds the event loop). */
const BUSY_SPIN_MS = 20;
/** How long a write waits in all for another process's write lock before it is refused (storage_unavailable). */
const BUSY_WAIT_MS = 15_000;

/**
 * Runs `begin` (a BEGIN IMMEDIATE, or a transaction that starts with one) until it gets the write
 * lock (`busyAlready`: the caller's own attempt just failed, so a pause comes first), pausing between attempts (5 ms doubling to 100 ms) with the event loop running; after
 * BUSY_WAIT_MS the last SQLITE_BUSY is thrown (answered as storage_unavailable).
 */
async function whenUnlocked<T>(begin: () => T, busyAlready = false): Promise<T> {
  const deadline = Date.now() + BUSY_WAIT_MS;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let pause = 5;
  // A caller that has just been told busy pauses before its next attempt, not straight after.
  if (busyAlready) await sleep(pause);
  for (; ; pause = Math.min(pause * 2, 100)) {
    try {
      return begin();
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() + pause > deadline) throw e;
      await sleep(pause);
    }
  }
}
