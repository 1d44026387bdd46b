import { heldLeasePg } from '../sql-lists.js';
import pg from 'pg';
import { ConflictError, LeaseLostError, NotFoundError, OrreryError, shown } from '../../core/errors.js';
import { externalStartInstant } from '../../core/run-end.js';
import { claimsDueDirectly, freshClaim, hasLimits, limitedClaimCap, queueSlots, SCHEDULE_BATCH, unlimitedStartBudget } from '../../core/limits.js';
import { DAG_BACKEND } from '../../core/dag.js';
import { type RunLogRecord, type StoredRunLogRecord, type Task, type TaskRun, type TaskType, type TypePause } from '../../core/model.js';
import type { NewTask } from '../../core/validation.js';
import { setTaskPauseInTx } from './postgres-pause.js';
import { NotifyHub } from '../notify-hub.js';
import { TypeCache, unknownType } from '../task-types.js';
import { deleteTaskTypeRow, updateTaskTypeRow } from './postgres-task-types.js';
import { readTypeLoad } from './postgres-type-load.js';
import { searchRuns } from './postgres-run-search.js';
import { findTasks } from './postgres-task-search.js';
import { bulkTasksInTx, disableEach, respawnEach, type BulkBatchAnswer } from './postgres-task-actions.js';
import type { TaskSearch, TaskSearchRows } from '../../core/task-search.js';
import type { RunSearch } from '../../core/run-search.js';
import type { RunSeriesBucket } from '../../core/run-series.js';
import type { TypeLoadFacts } from '../../core/why.js';
import type { AdaptiveRateRow, RunLogQuery, ThrottledRate, TypeLoadRequest } from '../store.js';
import { wakeUps, type StoreChange } from '../../core/wake-ups.js';
import { tasksWritten } from '../task-actions.js';
import { PgTypeReads } from './postgres-type-reads.js';
import { claimedFromDueRow, claimedFromRow, runFromRow, storedLogFromRow, taskFromRow, taskTypeFromRow, type Row } from '../rows.js';
import type {
  BulkTaskOutcome,
  BulkTaskRequest,
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
  StartRunRequest,
  Store,
  TaskFilter,
  WorkerActivity,
} from '../store.js';
import { createPool, migrate } from './postgres-connection.js';
import { redactUrl } from '../redact-url.js';
import { RETRYABLE_SQLSTATES, readOnly, retryingConflicts, translatePgError } from './postgres-errors.js';
import { SUB_STORES, translatingErrors } from '../error-translation.js';
import { PG_CHANNEL, PostgresNotifier } from './postgres-notifier.js';
import { settleGivenBack } from './postgres-give-back.js';
import type { GiveBackOutcome } from '../../core/give-back.js';
import { endRunsInTx } from './postgres-ends.js';
import { cancelLockedRun, endLockedRun } from './postgres-run-actions.js';
import { endHeldRuns } from './postgres-held-ends.js';
import { claimOrder, directClaimStale, readQueue, runnerCutoff } from '../../core/claim-ahead.js';
import { heartbeatAnswer } from '../heartbeat-answer.js';
import { insertAtOnce, insertTasks } from './postgres-tasks.js';
import { importTaskChunks } from './postgres-import.js';
import { PostgresDags } from './postgres-dags.js';
import type { DagStore } from '../dag-store.js';
import { PostgresArchive } from './postgres-archive.js';
import { PostgresSchedules } from './postgres-schedules.js';
import { PostgresWorkers } from './postgres-workers.js';
import { PostgresAlerts } from './postgres-alerts.js';
import { PostgresVisitStore } from './postgres-visits.js';
import type { ArchiveStore } from '../archive-store.js';
import { LIMIT_QUERIES, claimWithLimits } from './postgres-claims.js';
import { readAdaptiveRates, throttleInTx } from './postgres-adaptive-rates.js';
import { HOT_QUERIES, PREPARED_CLAIM, PREPARED_CLAIM_DUE, PREPARED_CLAIM_DUE_MAX, renewedLease, TIME_ORDERED_UUID } from './postgres-queries.js';
import { KeptConnection } from './postgres-kept-connection.js';
import { PostgresStats } from './postgres-stats.js';

export { HOT_QUERIES } from './postgres-queries.js';

type Q = pg.PoolClient | pg.Pool;

/** The fleet store: any number of runners and workers on any number of machines share one PostgreSQL database. */
export class PostgresStore implements Store {
  private readonly hub: NotifyHub;
  /** The types (joined) whose queue of waiting runs the last claim found empty, and when (core/claim-ahead.ts readQueue). */
  private queueEmpty: { key: string; at: number } | null = null;
  private unwatchQueue: (() => void) | null = null;
  private queuedWakeUps = 0;
  private readonly notifier: PostgresNotifier;
  private readonly typeCache = new TypeCache();
  /** Whether this store forgets its types on another process's `types` wake-up (forgetTypesOnChange). */
  private typesWatched = false;
  /** Task types read through the cache (postgres-type-reads.ts). */
  private readonly types = new PgTypeReads(this.typeCache);
  /** How many due tasks this store's last claim of due tasks took: the next one is likely alike (PREPARED_CLAIM_DUE_MAX). */
  private lastDueClaim = 0;
  /** When this process last recorded a direct claim per type (task_types.last_direct_claim). */
  private readonly directClaims = new Map<string, number>();
  private closed = false;
  /** The connection the claims go through while it is free (postgres-kept-connection.ts). */
  private readonly claims: KeptConnection;
  readonly dags: DagStore;
  readonly archive: ArchiveStore;
  readonly visits: PostgresVisitStore;
  readonly schedules: PostgresSchedules;
  readonly workers: PostgresWorkers;
  readonly alerts: PostgresAlerts;

  /** The database URL with its password hidden (for logs). */
  readonly url: string;

  private constructor(
    connectionUrl: string,
    private readonly pool: pg.Pool,
  ) {
    this.url = redactUrl(connectionUrl);
    this.claims = new KeptConnection(pool, pool.options.max ?? 10);
    this.hub = new NotifyHub(`postgres:${this.url}`);
    // Every wake-up this store sends is delivered in-process by the hub as well (signal, createTasks), so
    // the LISTEN connection skips those that come back from this process's pool connections.
    const senders = this.hub.senders;
    // On 'acquire', not 'connect': the migration's connection was made before this listener.
    pool.on('acquire', (client: pg.PoolClient & { processID?: number | null }) => {
      if (typeof client.processID === 'number') senders.add(client.processID);
    });
    pool.on('remove', (client: pg.PoolClient & { processID?: number | null }) => {
      if (typeof client.processID === 'number') senders.delete(client.processID);
    });
    this.notifier = new PostgresNotifier(connectionUrl, pool, (channel) => this.hub.notify(channel), senders);
    this.dags = new PostgresDags({ pool, tx: (fn) => this.tx(fn), wake: (c) => this.wake(c) });
    this.archive = new PostgresArchive(pool, (fn) => this.tx(fn));
    this.schedules = new PostgresSchedules({ pool, tx: (fn) => this.tx(fn), wake: (c) => this.wake(c) });
    this.workers = new PostgresWorkers(pool);
    this.alerts = new PostgresAlerts(pool);
    this.visits = new PostgresVisitStore({ pool, tx: (fn) => this.tx(fn), wake: (c) => this.wake(c) });
  }

  /** Connects and migrates (under an advisory lock). */
  /** `poolSize`: the connections of its pool (default ORRERY_PG_POOL_SIZE, else 10). */
  static async open(url: string, poolSize?: number): Promise<PostgresStore> {
    const pool = createPool(url, poolSize);
    try {
      await migrate(pool, url);
    } catch (e) {
      await pool.end().catch(() => {});
      throw e;
    }
    // Every error out of the store and its sub-stores goes through the translation (postgres-errors.ts).
    return translatingErrors(new PostgresStore(url, pool), translatePgError, SUB_STORES, () => pool.ended);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unwatchQueue?.();
    await this.notifier.close();
    this.hub.close();
    this.claims.close();
    await this.pool.end();
  }

  async assertWritable(): Promise<void> {
    const { rows } = await this.pool.query<{ ro: string; standby: boolean }>(`SELECT current_setting('transaction_read_only') AS ro, pg_is_in_recovery() AS standby`);
    const r = rows[0]!;
    if (r.standby) throw readOnly('the server is a standby in recovery');
    if (r.ro === 'on') throw readOnly('transaction_read_only is on: default_transaction_read_only is set for this role or database');
  }

  /** Runs `fn` in a transaction, retrying on serialization failures and deadlocks. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const c = await this.pool.connect();
      // A checked-out client whose connection dies (server restart) emits 'error'; unhandled, that
      // would crash the process. The pending query fails with it, and the client is discarded.
      let broken = false;
      const onError = () => (broken = true);
      c.on('error', onError);
      try {
        await c.query('BEGIN');
        const out = await fn(c);
        await c.query('COMMIT');
        return out;
      } catch (e) {
        if (!broken) await c.query('ROLLBACK').catch(() => (broken = true));
        const code = (e as { code?: string }).code;
        if (code && RETRYABLE_SQLSTATES.has(code) && attempt < 5) continue;
        throw e;
      } finally {
        c.off('error', onError);
        c.release(broken);
      }
    }
  }

  private async rows(q: Q, sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await q.query(sql, params)).rows as Row[];
  }

  async createTaskType(type: TaskType, at: Date): Promise<TaskType> {
    try {
      await this.pool.query(
        `INSERT INTO task_types (name, description, backend_name, default_interval_ms, min_interval_ms, max_interval_ms, backoff_factor,
           max_queue_length, num_retries, retry_delay_ms, timeout_ms, lease_ms, max_abandons, created,
           max_running, max_running_per_key, rate_limit_count, rate_limit_per_ms, rate_limit_per_key_count, rate_limit_per_key_per_ms, fair_share, fifo_per_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21::jsonb, $22)`,
        [type.name, type.description, type.backendName, type.defaultIntervalMs, type.minIntervalMs, type.maxIntervalMs, type.backoffFactor,
          type.maxQueueLength, type.numRetries, type.retryDelayMs, type.timeoutMs, type.leaseMs, type.maxAbandons, at,
          type.maxRunning, type.maxRunningPerKey, type.rateLimit?.count ?? null, type.rateLimit?.perMs ?? null,
          type.rateLimitPerKey?.count ?? null, type.rateLimitPerKey?.perMs ?? null, type.fairShare === null ? null : JSON.stringify(type.fairShare), type.fifoPerKey],
      );
    } catch (e) {
      if ((e as { code?: string }).code === '23505') {
        throw new ConflictError(`task type "${type.name}" already exists`, [{ path: 'name', message: 'already exists' }]);
      }
      throw e;
    }
    return { ...type, paused: null };
  }

  async updateTaskType(name: string, change: (current: TaskType) => TaskType | null, at: Date): Promise<TaskType> {
    const out = await this.tx(async (c) => {
      const [row] = await this.rows(c, 'SELECT * FROM task_types WHERE name = $1 FOR UPDATE', [name]);
      if (!row) throw unknownType(name);
      const current = taskTypeFromRow(row);
      const next = change(current);
      if (next === null) return { type: current, changed: false };
      await updateTaskTypeRow(c, next, at);
      return { type: next, changed: true };
    });
    if (out.changed) {
      this.typeCache.forget(name);
      this.wake({ kind: 'type-changed', paused: Boolean(out.type.paused) });
    }
    return out.type;
  }

  async deleteTaskType(name: string, _at: Date): Promise<void> {
    await this.tx((c) => deleteTaskTypeRow(c, name));
    this.typeCache.forget(name);
  }

  async typeLoad(req: TypeLoadRequest): Promise<TypeLoadFacts> {
    return readTypeLoad(this.pool, req);
  }

  async getTaskTypes(names?: readonly string[]): Promise<TaskType[]> {
    const rows = names === undefined
      ? await this.rows(this.pool, 'SELECT * FROM task_types ORDER BY name COLLATE "C"')
      : await this.rows(this.pool, 'SELECT * FROM task_types WHERE name = ANY($1) ORDER BY name COLLATE "C"', [names]);
    // What was read is as fresh as a cached type: a runner pass that lists every type then finds each cached.
    return this.types.fresh(rows);
  }

  async createTasks(tasks: readonly NewTask[], at: Date): Promise<CreatedTask[]> {
    const once = await insertAtOnce(this.pool, tasks, at, PG_CHANNEL);
    const out = Array.isArray(once) ? once : await this.tx((c) => insertTasks(c, tasks, at, once ?? undefined));
    // The one-statement insert sent other processes their wake-up itself; this process's listeners still need theirs.
    const written = tasksWritten(out);
    if (Array.isArray(once)) for (const channel of wakeUps(written)) this.hub.notify(channel);
    else this.wake(written);
    return out;
  }

  /** See importTaskChunks (postgres-import.ts): retried from its first chunk after a deadlock. */
  async importTasks(chunks: () => AsyncIterable<readonly NewTask[]>, at: Date, sink: ChunkSink): Promise<void> {
    const changed = await importTaskChunks(this.pool, chunks, at, sink);
    this.wake({ kind: 'tasks-written', count: changed });
  }

  async getTask(id: number): Promise<Task | null> {
    const [row] = await this.rows(this.pool, 'SELECT * FROM tasks WHERE id = $1', [id]);
    return row ? taskFromRow(row) : null;
  }

  async searchTasks(f: TaskFilter): Promise<Task[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (col: string, v: unknown) => {
      params.push(v);
      where.push(`${col} = $${params.length}`);
    };
    if (f.type !== undefined) add('type', f.type);
    if (f.status !== undefined) add('status', f.status);
    if (f.priority === null) where.push('priority IS NULL');
    else if (f.priority !== undefined) add('priority', f.priority);
    if (f.policy !== undefined) add('policy', f.policy);
    if (f.disabledReason !== undefined) add('disabled_reason', f.disabledReason);
    if (f.dagAttempts !== undefined) {
      params.push(DAG_BACKEND);
      where.push(`type ${f.dagAttempts ? 'IN' : 'NOT IN'} (SELECT name FROM task_types WHERE backend_name = $${params.length})`);
    }
    if (f.afterId !== undefined) {
      params.push(f.afterId);
      where.push(`id > $${params.length}`);
    }
    params.push(f.limit ?? null);
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT $${params.length}`;
    return (await this.rows(this.pool, sql, params)).map(taskFromRow);
  }

  async findTasks(search: TaskSearch): Promise<TaskSearchRows<Task>> {
    return findTasks(this.pool, search);
  }

  async bulkTasks(req: BulkTaskRequest): Promise<BulkTaskOutcome> {
    let answer: BulkBatchAnswer;
    for (let attempt = 1; ; attempt++) {
      try {
        answer = await this.tx((c) => bulkTasksInTx(c, req, (name) => this.types.of(c, name)));
        break;
      } catch (e) {
        // An equal task created between the check and the respawn: the batch is read again, and skips it.
        if ((e as { code?: string }).code === '23505' && attempt < 3) continue;
        throw e;
      }
    }
    const { stopping, cancelsHeld, ...out } = answer;
    if (req.action === 'disable') this.wake({ kind: 'tasks-disabled', stopping });
    if (req.action === 'respawn' || req.action === 'redrive') this.wake({ kind: 'tasks-written', count: out.changed.length });
    if (req.action === 'cancel' && (stopping > 0 || cancelsHeld)) this.wake({ kind: 'cancel-requested' });
    if (out.ended.length > 0) this.wake({ kind: 'runs-ended', results: out.ended, leftQueue: true });
    return out;
  }

  async listPending(type: string, at: Date, limit: number): Promise<Task[]> {
    return (await this.pickDue(this.pool, type, at, limit, false)).map(taskFromRow);
  }

  /** Due tasks of a type in runner order: one index range per priority rank, so idle tasks cost nothing. */
  private async pickDue(q: Q, type: string, at: Date, limit: number, lock: boolean): Promise<Row[]> {
    const rows: Row[] = [];
    for (let rank = 0; rank <= 3 && rows.length < limit; rank++) {
      rows.push(
        ...(await this.rows(q, lock ? HOT_QUERIES.pickDue : HOT_QUERIES.pickDue.replace(' FOR UPDATE SKIP LOCKED', ''), [type, rank, at, limit - rows.length])),
      );
    }
    return rows;
  }

  async disableTasks(ids: readonly number[], at: Date): Promise<{ tasks: Task[]; withdrawn: TaskRun[] }> {
    const { stopping, ...out } = await this.tx((c) => disableEach(c, ids, at));
    this.wake({ kind: 'tasks-disabled', stopping });
    return out;
  }

  async setTaskPause(id: number, pause: TypePause | null, at: Date): Promise<Task> {
    const task = await this.tx((c) => setTaskPauseInTx(c, id, pause, at));
    this.wake({ kind: 'tasks-written', count: 1 });
    return task;
  }

  async respawnTasks(ids: readonly number[], nextRun: Date, at: Date): Promise<Task[]> {
    const out = await this.tx((c) => respawnEach(c, ids, nextRun, at, (name) => this.types.of(c, name)));
    this.wake({ kind: 'tasks-written', count: out.length });
    return out;
  }

  async scheduleDue(type: string, at: Date, opts: ScheduleDueOptions = {}): Promise<TaskRun[]> {
    const limit = opts.limit;
    let dueBy = at;
    if (opts.graceMs) {
      const t = await this.types.orNull(this.pool, type);
      if (t === null) throw new NotFoundError(`unknown task type "${shown(type)}"`, [{ path: 'type', message: 'unknown task type' }]);
      // A direct claim this process's workers recorded decides alone when it leaves the type to them (the
      // stored marker is as recent or more): no read for a runner beside its workers, as in a daemon.
      const local = this.directClaims.get(type);
      let cutoff = local === undefined ? at : runnerCutoff(t, at, new Date(local), opts.graceMs, opts.holdUnlimited);
      if (cutoff !== null) {
        const [marker] = await this.rows(this.pool, 'SELECT last_direct_claim AS t FROM task_types WHERE name = $1', [type]);
        cutoff = runnerCutoff(t, at, (marker?.t as Date | null) ?? null, opts.graceMs, opts.holdUnlimited);
      }
      if (cutoff === null) return [];
      dueBy = cutoff;
    }
    const probe = await this.rows(this.pool, HOT_QUERIES.anyDue, [type, dueBy]);
    if (probe.length === 0) return [];
    if (opts.minFree !== undefined && opts.minFree > 1) {
      const t = await this.types.of(this.pool, type);
      if (t.maxQueueLength !== null) {
        const [q] = await this.rows(this.pool, HOT_QUERIES.queued, [type]);
        const queued = q!.n as number;
        if (queued > 0 && t.maxQueueLength - queued < opts.minFree) return [];
      }
    }
    const runs = await this.tx(async (c) => {
      // One runner per type at a time: the queue count and the picks must agree. NO KEY UPDATE leaves
      // foreign-key checks (task inserts) unblocked.
      const [typeRow] = await this.rows(c, 'SELECT max_queue_length, paused_at FROM task_types WHERE name = $1 FOR NO KEY UPDATE', [type]);
      if (!typeRow) throw new NotFoundError(`unknown task type "${shown(type)}"`, [{ path: 'type', message: 'unknown task type' }]);
      if (typeRow.paused_at !== null) return []; // a paused type's tasks wait (docs/operations.md)
      const max = typeRow.max_queue_length as number | null;
      const queued = max === null ? 0 : ((await this.rows(c, HOT_QUERIES.queued, [type]))[0]!.n as number);
      const slots = queueSlots(max, queued, limit ?? SCHEDULE_BATCH);
      if (slots <= 0) return [];
      const due = await this.pickDue(c, type, dueBy, slots, true);
      if (due.length === 0) return [];
      const inserted = await this.rows(
        c,
        `INSERT INTO task_runs (task, type, backend_id, status, priority_rank, scheduled, attempt, concurrency_key, scheduled_for)
         SELECT t, $1, ${TIME_ORDERED_UUID('$2::timestamptz')}, 'scheduled', r, $2, a, k, f
         FROM unnest($3::bigint[], $4::smallint[], $5::int[], $6::text[], $7::timestamptz[]) AS x(t, r, a, k, f)
         RETURNING *`,
        [type, at, due.map((d) => d.id), due.map((d) => d.priority_rank), due.map((d) => d.next_attempt), due.map((d) => d.concurrency_key ?? null),
          due.map((d) => d.scheduled_for ?? d.next_run)],
      );
      await c.query(
        `UPDATE tasks SET status = 'next_run_scheduled', current_run = x.run FROM unnest($1::bigint[], $2::bigint[]) AS x(task, run) WHERE tasks.id = x.task`,
        [inserted.map((r) => r.task), inserted.map((r) => r.id)],
      );
      const order = new Map(due.map((d, i) => [Number(d.id), i]));
      return inserted.map(runFromRow).sort((a, b) => order.get(a.task)! - order.get(b.task)!);
    });
    this.wake({ kind: 'runs-queued', count: runs.length });
    return runs;
  }

  async nextDueAt(): Promise<Date | null> {
    const [row] = await this.rows(this.pool, HOT_QUERIES.nextDue);
    return (row?.t as Date | null) ?? null;
  }

  async typesDue(at: Date): Promise<string[]> {
    return (await this.rows(this.pool, HOT_QUERIES.typesDue, [at])).map((r) => r.name as string);
  }

  async claimRuns(given: ClaimRequest): Promise<ClaimOutcome> {
    if (given.limit <= 0 || given.types.length === 0) return { runs: [], heldBack: false, retryAt: null };
    const unlimited: string[] = [];
    const limited: TaskType[] = [];
    // Types whose due tasks the claim may take directly (core/limits.ts): not those of a maxQueueLength of 0.
    const dueTypes: string[] = [];
    const types = await this.types.many(this.pool, given.types);
    // The claim's instant is read again with a connection in hand, before each statement (freshClaim):
    // runs are queued, started and leased from then, not from before a wait for a connection.
    let req = given;
    for (const name of new Set(req.types)) {
      const type = types.get(name) ?? null;
      if (type !== null && hasLimits(type)) limited.push(type);
      else unlimited.push(name);
      if (type === null || claimsDueDirectly(type)) dueTypes.push(name);
    }
    let outcome: ClaimOutcome;
    if (limited.length === 0 || limitedClaimCap(req.limit, req.startNow) <= 0) {
      // The fast path: one statement, no transaction, no counting; skipped when a claim of the same
      // types found the queue empty a moment ago and no run was queued since (core/claim-ahead.ts readQueue).
      const key = unlimited.join('\n');
      if (req.due && this.queueEmpty?.key === key && !readQueue(this.queueEmpty.at, freshClaim(given).at.getTime())) {
        outcome = { runs: [], heldBack: false, retryAt: null };
      } else {
        this.watchQueue();
        const queued = this.queuedWakeUps;
        const rows = (
          await this.claims.use((c) => {
            req = freshClaim(given);
            return c.query<Row>({ ...PREPARED_CLAIM, values: [req.worker, req.at, unlimited, req.limit, unlimitedStartBudget(req.limit, req.startNow, 0)] });
          })
        ).rows;
        outcome = { runs: rows.map(claimedFromRow), heldBack: false, retryAt: null };
        // Not when runs were queued while the statement ran: their wake-up may predate its answer.
        this.queueEmpty = rows.length < req.limit && limited.length === 0 && queued === this.queuedWakeUps ? { key, at: req.at.getTime() } : null;
      }
    } else outcome = await this.tx((c) => claimWithLimits(c, (req = freshClaim(given)), unlimited, limited));
    // Waiting runs first; due tasks only for the slots they leave (a separate statement: one that did
    // both cost twice as much even when the queue filled the claim).
    const room = req.limit - outcome.runs.length;
    if (req.due && room > 0 && dueTypes.length > 0) {
      const startLeft = unlimitedStartBudget(req.limit, req.startNow, outcome.runs.filter((c) => c.run.status === 'started').length);
      const values = () => {
        req = freshClaim(given);
        return [req.worker, req.at, dueTypes, room, startLeft];
      };
      // While claims of due tasks find few (an idle worker woken by each new task), the prepared statement;
      // while they find many (a backlog), a plan made for each (PREPARED_CLAIM_DUE_MAX).
      const prepared = this.lastDueClaim <= PREPARED_CLAIM_DUE_MAX;
      // The prepared one on the claims' kept connection (a new task's path to an idle worker); the
      // backlog's through pool.query: run on a connection taken with connect() (kept or not), its
      // hundreds of rows raised the bench worker's peak RSS by about 10 MiB (139-144 -> 149-160 MiB
      // in alternating drains; why is not known).
      const rows = (prepared ? await PREPARED_CLAIM_DUE.query<Row>(this.claims, values) : await this.pool.query<Row>(HOT_QUERIES.claimDue, values())).rows;
      this.lastDueClaim = rows.length;
      const created = rows.map((r) => claimedFromDueRow(r, req.worker, req.at));
      if (created.length > 0) {
        outcome = { ...outcome, runs: [...outcome.runs, ...created], created: created.map((c) => c.run.id) };
        // A hint for runners, not part of the claim: written beside it; if it fails, runners queue after their grace.
        void this.recordDirectClaims(created, req.at).catch(() => {});
      }
    }
    if (outcome.runs.length === 0) return outcome;
    this.wake({ kind: 'runs-claimed', fromQueue: outcome.runs.length - (outcome.created?.length ?? 0) });
    outcome.runs.sort(claimOrder);
    return outcome;
  }

  /** Forgets that the queue was found empty whenever runs are queued (here or, through LISTEN, elsewhere). */
  private watchQueue(): void {
    this.unwatchQueue ??= this.listen('runs', () => {
      this.queueEmpty = null;
      this.queuedWakeUps += 1;
    });
  }

  /** Records that workers claim due tasks of these types directly (the runner then leaves them alone). */
  private async recordDirectClaims(created: readonly ClaimedRun[], at: Date): Promise<void> {
    const stale = [...new Set(created.map((c) => c.run.type))].filter((t) => directClaimStale(this.directClaims.get(t), at.getTime()));
    if (stale.length === 0) return;
    for (const t of stale) this.directClaims.set(t, at.getTime());
    await this.pool.query('UPDATE task_types SET last_direct_claim = $2 WHERE name = ANY($1) AND (last_direct_claim IS NULL OR last_direct_claim < $2)', [stale, at]);
  }

  async throttleRate(type: string, key: string | null, at: Date): Promise<ThrottledRate | null> {
    const t = await this.types.orNull(this.pool, type);
    return t === null ? null : this.tx((c) => throttleInTx(c, t, key, at));
  }

  async adaptiveRates(types?: readonly string[]): Promise<AdaptiveRateRow[]> {
    return readAdaptiveRates(this.pool, types);
  }

  async heldRuns(worker: string): Promise<ClaimedRun[]> {
    const rows = await this.rows(
      this.pool,
      `SELECT r.*, t.arguments AS t_arguments, t.trace_context AS t_trace_context, t.policy AS t_trace_policy, y.backend_name AS y_backend_name, y.lease_ms AS y_lease_ms, y.timeout_ms AS y_timeout_ms
       FROM task_runs r JOIN tasks t ON t.id = r.task JOIN task_types y ON y.name = r.type
       WHERE r.status IN ('claimed', 'started') AND r.worker = $1 ORDER BY r.id`,
      [worker],
    );
    return rows.map(claimedFromRow);
  }

  async startRun(backendId: string, req: StartRunRequest): Promise<TaskRun> {
    const run = await this.tx(async (c) => {
      const current = await this.lockRun(c, backendId);
      if (current.status !== 'scheduled') {
        throw new ConflictError(`run ${backendId} is ${current.status}, not scheduled; nothing changed`, [{ path: 'backendId', message: `run is ${current.status}` }]);
      }
      const at = externalStartInstant(current, req.at);
      const [row] = await this.rows(
        c,
        `UPDATE task_runs SET status = 'started', worker = $2, started = $3, metadata = $4::jsonb,
           lease_expires_at = ${heldLeasePg("$3::timestamptz + (SELECT lease_ms FROM task_types WHERE name = task_runs.type) * interval '1 millisecond'")}
         WHERE backend_id = $1 RETURNING *`,
        [backendId, req.worker, at, JSON.stringify({ ...current.metadata, ...(req.metadata ?? {}) })],
      );
      // An external start of a rate-limited type counts in its windows too.
      const type = await this.types.of(c, current.type);
      if (type.rateLimit !== null) await c.query('INSERT INTO rate_limit_starts (type, started) VALUES ($1, $2)', [current.type, at]);
      if (type.rateLimitPerKey !== null && row!.concurrency_key != null) await c.query(LIMIT_QUERIES.recordKeyStarts, [current.type, at, [row!.concurrency_key]]);
      return runFromRow(row!);
    });
    this.wake({ kind: 'runs-claimed', fromQueue: 1 });
    return run;
  }

  async heartbeat(backendId: string, worker: string, at: Date): Promise<HeartbeatAnswer> {
    const [row] = await this.rows(
      this.pool,
      `UPDATE task_runs SET lease_expires_at = ${renewedLease('lease_expires_at', "$3::timestamptz + (SELECT lease_ms FROM task_types WHERE name = task_runs.type) * interval '1 millisecond'")}
       WHERE backend_id = $1 AND status IN ('claimed', 'started') AND worker = $2 RETURNING lease_expires_at, cancel_requested`,
      [backendId, worker, at],
    );
    if (!row) {
      await this.requireRun(this.pool, backendId); // an unknown run is not_found, not a lost lease
      throw new LeaseLostError(`run ${backendId} is not held by worker ${worker}`); // never held, or no longer: as an end says it
    }
    return { leaseExpiresAt: row.lease_expires_at as Date, cancelRequested: row.cancel_requested === true };
  }

  async heartbeatRuns(worker: string, items: readonly HeartbeatItem[], at: Date): Promise<HeartbeatRunsAnswer> {
    if (items.length === 0) return { renewed: 0, lost: [], cancelRequested: [] };
    const params = [items.map((i) => i.backendId), items.map((i) => i.startedAt ?? null), at, worker];
    const rows = await retryingConflicts(() => this.rows(this.pool, HOT_QUERIES.heartbeatRuns, params));
    return heartbeatAnswer(items, rows);
  }

  async releaseRuns(worker: string, backendIds: readonly string[], at: Date, withdrawnOnly = false): Promise<GiveBackOutcome<EndRunResult>> {
    if (backendIds.length === 0) return { queued: 0, ended: [], withdrawn: [], disabled: [] };
    const back = withdrawnOnly
      ? { queued: 0, ended: [], withdrawn: [], disabled: [] }
      : await this.tx(async (c) => settleGivenBack(c, await this.rows(c, HOT_QUERIES.releaseRuns, [backendIds, worker]), at, (name) => this.types.of(c, name), false));
    await this.pool.query(HOT_QUERIES.letGo, [backendIds, worker]);
    this.wakeGivenBack(back);
    return back;
  }

  async releaseExpiredClaims(at: Date, limit = 500): Promise<GiveBackOutcome<EndRunResult>> {
    const back = await this.tx(async (c) => settleGivenBack(c, await this.rows(c, HOT_QUERIES.releaseExpired, [at, limit]), at, (name) => this.types.of(c, name), true));
    this.wakeGivenBack(back);
    return back;
  }

  /** The wake-ups of a give-back: runs queued again, and the ends of the ones it cancelled. */
  private wakeGivenBack(back: GiveBackOutcome<EndRunResult>): void {
    this.wake({ kind: 'runs-queued', count: back.queued });
    if (back.ended.length > 0) this.wake({ kind: 'runs-ended', results: back.ended, leftQueue: true });
  }

  async cancelRun(backendId: string, at: Date): Promise<CancelRunResult> {
    let cancelsHeld = false;
    const out = await this.tx(async (c): Promise<CancelRunResult> => {
      const run = await this.lockRun(c, backendId);
      if (run.status === 'claimed') cancelsHeld = true; // its worker drops it from its buffer at once (the cancel wake-up)
      return cancelLockedRun(c, run, at, (name) => this.types.of(c, name));
    });
    if (out.outcome === 'requested' || cancelsHeld) this.wake({ kind: 'cancel-requested' });
    if (out.outcome === 'ended') this.wake({ kind: 'runs-ended', results: [out], leftQueue: true });
    return out;
  }

  async endRun(backendId: string, req: EndRunRequest): Promise<EndRunResult> {
    if (req.worker != null || req.cause !== 'end') {
      const [outcome] = await this.endRuns([{ backendId, req }]);
      if (outcome instanceof OrreryError) throw outcome;
      return outcome!;
    }
    // Ended by someone else than its holder: the worker is told; a buffered run keeps its lease until it lets go (core holderEffect).
    let tell = false;
    const out = await this.tx(async (c): Promise<EndRunResult> => {
      const ended = await endLockedRun(c, await this.lockRun(c, backendId), req, (name) => this.types.of(c, name));
      tell = ended.tellWorker;
      return ended.result;
    });
    if (tell) this.wake({ kind: 'cancel-requested' });
    this.wake({ kind: 'runs-ended', results: [out] });
    return out;
  }

  async endRuns(items: readonly EndRunItem[]): Promise<Array<EndRunResult | OrreryError>> {
    if (items.length === 0) return [];
    const out = await endHeldRuns(items, {
      pool: this.pool,
      tx: (fn) => this.tx(fn),
      typeOf: (name, c) => this.types.of(c ?? this.pool, name),
    });
    this.wake({ kind: 'runs-ended', results: out.filter((r): r is EndRunResult => !(r instanceof OrreryError)) });
    return out;
  }

  async reapExpired(at: Date, limit = 500): Promise<EndRunResult[]> {
    const results = await this.tx(async (c) => {
      const expired = (await this.rows(c, HOT_QUERIES.expired, [at, limit])).map(runFromRow);
      const ended = await endRunsInTx(
        c,
        expired.map((run) => ({
          backendId: run.backendId,
          req: {
            status: 'lost' as const,
            at,
            cause: 'lease-expired' as const,
            error: `lease expired at ${run.leaseExpiresAt!.toISOString()} (worker ${run.worker ?? '?'} stopped heartbeating)`,
          },
        })),
        (name) => this.types.of(c, name),
      );
      // Every expired run was locked by us and is started, so no end can be refused.
      return ended.filter((r): r is EndRunResult => !(r instanceof OrreryError));
    });
    this.wake({ kind: 'runs-ended', results: results });
    return results;
  }

  async nextLeaseExpiry(): Promise<Date | null> {
    const [row] = await this.rows(this.pool, HOT_QUERIES.nextLease);
    return (row?.t as Date | null) ?? null;
  }

  async dueStats(at: Date, cap: number): Promise<DueStats[]> {
    return new PostgresStats(this.pool).dueStats(at, cap);
  }

  async queueStats(_at: Date): Promise<QueueStats[]> {
    return (await this.rows(this.pool, HOT_QUERIES.queueStats)).map((r) => ({
      type: r.type as string,
      scheduled: Number(r.scheduled),
      running: Number(r.running),
      claimed: Number(r.claimed),
      oldestScheduled: (r.oldest as Date | null) ?? null,
      deadLettered: Number(r.dead),
      pausedTasks: Number(r.paused),
    }));
  }

  async runRates(since: Date, at: Date): Promise<RunRate[]> {
    return new PostgresStats(this.pool).runRates(since, at);
  }

  async workerActivity(since: Date, at: Date): Promise<WorkerActivity[]> {
    return new PostgresStats(this.pool).workerActivity(since, at);
  }

  async runSeries(query: RunSeriesQuery): Promise<RunSeriesBucket[]> {
    return new PostgresStats(this.pool).runSeries(query);
  }

  async getRun(backendId: string): Promise<TaskRun | null> {
    const [row] = await this.rows(this.pool, 'SELECT * FROM task_runs WHERE backend_id = $1', [backendId]);
    return row ? runFromRow(row) : null;
  }

  async searchRuns(search: RunSearch): Promise<TaskRun[]> {
    return searchRuns(this.pool, search);
  }

  async listRuns(taskId: number, last?: number): Promise<TaskRun[]> {
    const rows =
      last === undefined
        ? await this.rows(this.pool, 'SELECT * FROM task_runs WHERE task = $1 ORDER BY id', [taskId])
        : // The newest runs, from the end of task_runs_task (task, id), put back in id order.
          await this.rows(this.pool, 'SELECT * FROM (SELECT * FROM task_runs WHERE task = $1 ORDER BY id DESC LIMIT $2) r ORDER BY id', [taskId, last]);
    return rows.map(runFromRow);
  }

  async appendRunLogs(backendId: string, records: readonly RunLogRecord[]): Promise<void> {
    const run = await this.requireRun(this.pool, backendId); // an unknown run is refused whatever the records
    if (records.length === 0) return;
    await this.pool.query(
      `INSERT INTO run_logs (run, at, level, message, attributes)
       SELECT $1, at, level, message, attributes FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::jsonb[]) AS x(at, level, message, attributes)`,
      [run.id, records.map((r) => r.at), records.map((r) => r.level), records.map((r) => r.message), records.map((r) => JSON.stringify(r.attributes ?? {}))],
    );
  }

  async getRunLogs(backendId: string, opts: RunLogQuery = {}): Promise<StoredRunLogRecord[]> {
    const run = await this.requireRun(this.pool, backendId);
    const rows = await this.rows(this.pool, 'SELECT * FROM run_logs WHERE run = $1 AND id > $2 ORDER BY id LIMIT $3', [run.id, opts.after ?? 0, opts.limit ?? null]);
    return rows.map(storedLogFromRow);
  }

  wake(change: StoreChange): void {
    for (const channel of wakeUps(change)) this.signal(channel);
  }

  private signal(channel: Channel): void {
    this.hub.notify(channel);
    if (channel !== 'ended') this.notifier.notify(channel); // 'ended' only serves in-process observers
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
    this.notifier.listen();
    return this.hub.listen(channel, listener);
  }

  private async lockRun(c: pg.PoolClient, backendId: string): Promise<TaskRun> {
    const [row] = await this.rows(c, 'SELECT * FROM task_runs WHERE backend_id = $1 FOR UPDATE', [backendId]);
    if (!row) throw new NotFoundError(`run ${shown(backendId)} not found`, [{ path: 'backendId', message: `no run ${shown(backendId)}` }]);
    return runFromRow(row);
  }

  private async requireRun(q: Q, backendId: string): Promise<TaskRun> {
    const [row] = await this.rows(q, 'SELECT * FROM task_runs WHERE backend_id = $1', [backendId]);
    if (!row) throw new NotFoundError(`run ${shown(backendId)} not found`, [{ path: 'backendId', message: `no run ${shown(backendId)}` }]);
    return runFromRow(row);
  }
}

