import { DAG_BACKEND } from '../../core/dag.js';
import { RepreparedStatement } from './postgres-prepared.js';
import { UNFINISHED_RUN_STATUSES_SQL, heldLeasePg } from '../sql-lists.js';
/** The requested types ($3) that are not paused: claims never take runs or due tasks of a paused type. */
const UNPAUSED_TYPES = `(SELECT name FROM task_types WHERE name = ANY($3::text[]) AND paused_at IS NULL) AS ty`;
/**
 * The claim's pick: per type (LATERAL) in claim order from task_runs_claimable, up to the limit,
 * numbered in claim order (the first $5 are started at once, the rest claimed ahead).
 */
const CLAIM_PICKED = `picked AS (
       SELECT p.id, row_number() OVER (ORDER BY p.priority_rank, p.scheduled, p.id) AS n FROM ${UNPAUSED_TYPES} CROSS JOIN LATERAL (
         SELECT id, priority_rank, scheduled FROM task_runs WHERE status = 'scheduled' AND type = ty.name
         ORDER BY priority_rank, scheduled, id LIMIT $4 FOR UPDATE SKIP LOCKED) p
       ORDER BY p.priority_rank, p.scheduled, p.id LIMIT $4)`;
/**
 * The task columns a claim returns beside the run (prefixed `t_`, read by `claimedFromRow`): the end of
 * the run is planned from them without reading the task again.
 */
export const CLAIM_TASK_COLUMNS = (t: string) =>
  `${t}.arguments AS t_arguments, ${t}.policy AS t_policy, ${t}.schedule AS t_schedule, ${t}.next_run AS t_next_run,
   ${t}.current_interval_ms AS t_current_interval_ms, ${t}.retries_left AS t_retries_left, ${t}.consecutive_abandons AS t_consecutive_abandons,
   ${t}.priority AS t_priority, ${t}.next_attempt AS t_next_attempt, ${t}.task_key AS t_task_key, ${t}.concurrency_key AS t_concurrency_key,
   ${t}.created AS t_created, ${t}.trace_context AS t_trace_context, ${t}.scheduled_for AS t_scheduled_for`;
const CLAIM_TYPE_COLUMNS = `y.backend_name AS y_backend_name, y.lease_ms AS y_lease_ms, y.timeout_ms AS y_timeout_ms`;
const CLAIM_UPDATE = `UPDATE task_runs r SET status = CASE WHEN picked.n <= $5 THEN 'started' ELSE 'claimed' END, worker = $1,
       started = CASE WHEN picked.n <= $5 THEN $2::timestamptz END,
       lease_expires_at = ${heldLeasePg("$2::timestamptz + y.lease_ms * interval '1 millisecond'")}
     FROM picked, task_types y, tasks t WHERE r.id = picked.id AND y.name = r.type AND t.id = r.task
     RETURNING r.*, ${CLAIM_TASK_COLUMNS('t')}, ${CLAIM_TYPE_COLUMNS}`;
/** Due tasks of the types in runner order: one tasks_due range per type and priority rank. */
const DUE_PICK = `SELECT d.*, row_number() OVER (ORDER BY d.priority_rank, d.next_run, d.id) AS n FROM ${UNPAUSED_TYPES} CROSS JOIN unnest(ARRAY[0, 1, 2, 3]::smallint[]) AS rk(rank)
       CROSS JOIN LATERAL (
         SELECT id, type, priority_rank, next_run, next_attempt, concurrency_key, arguments, policy, schedule, current_interval_ms,
           retries_left, consecutive_abandons, priority, task_key, created, trace_context, scheduled_for FROM tasks
         WHERE type = ty.name AND status = 'next_run_not_scheduled' AND paused_at IS NULL AND priority_rank = rk.rank AND next_run <= $2
         ORDER BY next_run, id LIMIT $4 FOR UPDATE SKIP LOCKED) d
       ORDER BY d.priority_rank, d.next_run, d.id LIMIT $4`;
/**
 * A run's backend id: a time-ordered UUID (version 7 layout: the instant in milliseconds, then random
 * bits), so the unique index on backend_id grows at its right edge instead of at a random page per run.
 * Built from gen_random_uuid() so it needs no PostgreSQL 18 (uuidv7()). `at` is a parameter, so the
 * time prefix is an uncorrelated subquery, computed once per statement rather than once per row (about
 * 2 us per run of a claim of 256).
 */
export const TIME_ORDERED_UUID = (at: string) => `((SELECT substr(lpad(to_hex(greatest(0, (extract(epoch FROM ${at}) * 1000)::bigint)), 12, '0'), 1, 8) || '-'
       || substr(lpad(to_hex(greatest(0, (extract(epoch FROM ${at}) * 1000)::bigint)), 12, '0'), 9, 4) || '-7')
       || substr(gen_random_uuid()::text, 16))`;
/**
 * Runs inserted claimed for the picked due tasks, which are marked scheduled with them as current runs.
 * The `= ANY` anchor keeps the task update on primary-key lookups in a generic plan (the statement is
 * prepared, PREPARED_CLAIM_DUE); without it, that plan hashed the inserted runs against all of `tasks`.
 */
const DUE_CLAIM = `ins AS (
       INSERT INTO task_runs (task, type, backend_id, status, priority_rank, scheduled, started, worker, lease_expires_at, attempt, concurrency_key, scheduled_for)
       SELECT d.id, d.type, ${TIME_ORDERED_UUID('$2::timestamptz')}, CASE WHEN d.n <= $5 THEN 'started' ELSE 'claimed' END, d.priority_rank, $2,
         CASE WHEN d.n <= $5 THEN $2::timestamptz END, $1,
         ${heldLeasePg("$2::timestamptz + y.lease_ms * interval '1 millisecond'")}, d.next_attempt, d.concurrency_key, coalesce(d.scheduled_for, d.next_run)
       FROM due d JOIN task_types y ON y.name = d.type ORDER BY d.n
       RETURNING id, task, backend_id, status),
     marked AS (UPDATE tasks t SET status = 'next_run_scheduled', current_run = ins.id FROM ins
       WHERE t.id = ins.task AND t.id = ANY (ARRAY(SELECT task FROM ins)))`;

/** What a give-back's requeue returns of each run: the run, and what decides its fate (postgres-give-back.ts). */
const GIVEN_BACK_RETURNING = `RETURNING id, backend_id, task, cancel_requested,
       (SELECT t.status FROM tasks t WHERE t.id = task_runs.task) AS task_status,
       (SELECT t.paused_at IS NOT NULL FROM tasks t WHERE t.id = task_runs.task) AS task_paused`;

/** The queries on the scheduling and claiming paths; exported so a test can EXPLAIN them at scale. */
/**
 * A renewal's lease: the renewal instant plus the type's lease, never earlier than the lease it renews
 * (a late or replayed heartbeat keeps the later expiry). Every renewal statement sets it so.
 */
export const renewedLease = (current: string, renewal: string) => `greatest(${current}, ${heldLeasePg(renewal)})`;

export const HOT_QUERIES = {
  anyDue: `SELECT 1 FROM unnest(ARRAY[0, 1, 2, 3]::smallint[]) AS r(rank) WHERE EXISTS (SELECT 1 FROM tasks
     WHERE type = $1 AND status = 'next_run_not_scheduled' AND paused_at IS NULL AND priority_rank = r.rank AND next_run <= $2)`,
  pickDue: `SELECT * FROM tasks WHERE type = $1 AND status = 'next_run_not_scheduled' AND paused_at IS NULL AND priority_rank = $2 AND next_run <= $3
     ORDER BY next_run, id LIMIT $4 FOR UPDATE SKIP LOCKED`,
  queued: `SELECT count(*)::int AS n FROM task_runs WHERE type = $1 AND status = 'scheduled'`,
  // The earliest next run of the waiting tasks of types that are not paused (the runner's sleep): the
  // first entry of one tasks_due range per type and rank (a paused type's tasks may be due by the million).
  // The types with a due task: one probe of tasks_due per type and rank, inside one statement.
  typesDue: `SELECT y.name FROM task_types y WHERE y.paused_at IS NULL AND EXISTS (SELECT 1 FROM unnest(ARRAY[0, 1, 2, 3]::smallint[]) AS r(rank)
     WHERE EXISTS (SELECT 1 FROM tasks WHERE type = y.name AND status = 'next_run_not_scheduled' AND paused_at IS NULL AND priority_rank = r.rank AND next_run <= $1))
     ORDER BY y.name COLLATE "C"`,
  nextDue: `SELECT min(d.next_run) AS t FROM task_types y CROSS JOIN unnest(ARRAY[0, 1, 2, 3]::smallint[]) AS rk(rank) CROSS JOIN LATERAL (
       SELECT next_run FROM tasks WHERE type = y.name AND status = 'next_run_not_scheduled' AND paused_at IS NULL AND priority_rank = rk.rank
       ORDER BY next_run, id LIMIT 1) d WHERE y.paused_at IS NULL`,
  // Per type (LATERAL), so each pick reads task_runs_claimable in claim order and stops at the
  // limit; with `type = ANY($3)` the planner sorted every waiting run on each claim.
  claim: `WITH ${CLAIM_PICKED} ${CLAIM_UPDATE}`,
  // Due tasks claimed without the runner (ClaimRequest.due): per type and priority rank one range of
  // tasks_due in runner order, locked with SKIP LOCKED like the runner's pick; each gets its run
  // inserted started and its task marked scheduled, in one statement.
  // It returns the new run's id, backend id and status beside the due task's columns and the type's
  // execution fields: the rest of the run follows from them and the claim (rows.ts claimedFromDue), as
  // on SQLite. (Returning the whole run row and the task's columns again cost about 14 us per task
  // between the server's output and the driver's parsing, at claims of 500.)
  claimDue: `WITH due AS (${DUE_PICK}),
     ${DUE_CLAIM}
     SELECT ins.id AS run_id, ins.backend_id AS run_backend_id, ins.status AS run_status, d.*, ${CLAIM_TYPE_COLUMNS}
     FROM ins JOIN due d ON d.id = ins.task JOIN task_types y ON y.name = d.type ORDER BY d.n`,
  expired: `SELECT * FROM task_runs WHERE status = 'started' AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
  /** Claimed runs whose lease expired (their worker vanished before starting them) go back to the queue (then settleGivenBack). */
  // The run's metadata counts the give-backs ("orrery.givenBack"): a handler that began within the last
  // start-mark interval before its worker died may have run (docs/guarantees.md).
  releaseExpired: `UPDATE task_runs SET status = 'scheduled', worker = NULL, lease_expires_at = NULL,
       metadata = metadata || jsonb_build_object('orrery.givenBack', coalesce((metadata->>'orrery.givenBack')::int, 0) + 1) WHERE id IN (
       SELECT id FROM task_runs WHERE status = 'claimed' AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     AND status = 'claimed' ${GIVEN_BACK_RETURNING}`,
  nextLease: `SELECT min(lease_expires_at) AS t FROM task_runs WHERE status IN ('claimed', 'started')`,
  /** One heartbeat for all of a worker's held runs; runs whose handler began are marked started. */
  heartbeatRuns: `UPDATE task_runs r SET lease_expires_at = ${renewedLease('r.lease_expires_at', "$3::timestamptz + y.lease_ms * interval '1 millisecond'")},
       status = CASE WHEN r.status = 'claimed' AND x.started IS NOT NULL THEN 'started' ELSE r.status END,
       started = CASE WHEN r.status = 'claimed' AND x.started IS NOT NULL THEN greatest(x.started, r.scheduled) ELSE r.started END
     FROM unnest($1::text[], $2::timestamptz[]) AS x(bid, started), task_types y
     WHERE r.backend_id = x.bid AND r.status IN ('claimed', 'started') AND r.worker = $4 AND y.name = r.type
     RETURNING r.backend_id, r.cancel_requested`,
  // A worker gives back runs whose handlers never began: claimed ones, and started ones it had not run yet.
  releaseRuns: `UPDATE task_runs SET status = 'scheduled', worker = NULL, lease_expires_at = NULL, started = NULL
     WHERE backend_id = ANY($1::text[]) AND status IN ('claimed', 'started') AND worker = $2 ${GIVEN_BACK_RETURNING}`,
  // A run withdrawn from the worker's buffer (disabled or cancelled while claimed) keeps its lease until
  // the worker lets go of it, with releaseRuns: until then its task cannot be respawned.
  letGo: `UPDATE task_runs SET lease_expires_at = NULL WHERE backend_id = ANY($1::text[]) AND status NOT IN (${UNFINISHED_RUN_STATUSES_SQL}) AND worker = $2 AND lease_expires_at IS NOT NULL`,
  /**
   * The metrics scrape, per type: waiting runs from task_runs_claimable, leased runs from task_runs_leases,
   * dead letters from a type's disabled tasks (tasks_type_status or tasks_status; none for DAG types, whose
   * attempts belong to their DAG runs); no finished run is read.
   */
  queueStats: `SELECT y.name AS type, q.n AS scheduled, q.oldest, coalesce(l.n, 0)::int AS running, coalesce(l.c, 0)::int AS claimed,
       CASE WHEN y.backend_name = '${DAG_BACKEND}' THEN 0 ELSE d.n END AS dead,
       (SELECT count(*)::int FROM tasks WHERE type = y.name AND paused_at IS NOT NULL) AS paused
     FROM task_types y
     CROSS JOIN LATERAL (SELECT count(*)::int AS n, min(scheduled) AS oldest FROM task_runs WHERE type = y.name AND status = 'scheduled') q
     LEFT JOIN (SELECT type, count(*) FILTER (WHERE status = 'started') AS n, count(*) FILTER (WHERE status = 'claimed') AS c
                FROM task_runs WHERE status IN ('claimed', 'started') GROUP BY type) l ON l.type = y.name
     CROSS JOIN LATERAL (SELECT count(*)::int AS n FROM tasks WHERE type = y.name AND status = 'disabled' AND disabled_reason = 'dead_letter') d
     ORDER BY y.name COLLATE "C"`,
} as const;

/**
 * The claim of due tasks, prepared on a doubling schedule (RepreparedStatement: a plan made while the
 * tables were tiny is not kept), used while claims find few due tasks. An idle worker woken by each new
 * task claims it with this statement, so its planning (about 0.7 ms, as long as running it for one
 * task) was paid on every wake-up. Its generic plan reads `tasks_due` per type and rank and updates
 * tasks by primary key (test/store/postgres-query-plans.test.ts).
 */
export const PREPARED_CLAIM_DUE = new RepreparedStatement('orrery_claim_due_v2', HOT_QUERIES.claimDue);
/**
 * After a claim of due tasks that took more than this many (a backlog, a busy worker filling its buffer
 * hundreds at a time), the next claim is planned for its parameters: planning is then shared by hundreds
 * of runs, and in drains of 20,000 tasks the generic plan cost 10-25 us more server CPU per task than
 * plans made for each claim. (The claim's limit cannot decide: an idle worker asks for its whole buffer.)
 */
export const PREPARED_CLAIM_DUE_MAX = 32;

/**
 * The claim of waiting runs as a named prepared statement: planning it cost as much as running it on
 * a busy machine, and its plan cannot go wrong with the parameters (each type is read through its own
 * LATERAL index range, in index order, up to a LIMIT); the generic plan PostgreSQL may switch to is
 * checked in test/store/postgres-query-plans.test.ts.
 */
export const PREPARED_CLAIM = { name: 'orrery_claim_v2', text: HOT_QUERIES.claim } as const;
