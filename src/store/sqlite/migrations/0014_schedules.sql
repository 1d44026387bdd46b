-- Issue 19: schedules (catch-up, jitter, backfill, DAG overlap) and flow control (unique, debounce).

-- The occurrence a task's next run serves, when it differs from next_run (jitter, a retry); NULL: next_run.
ALTER TABLE tasks ADD COLUMN scheduled_for INTEGER;
-- Unique within a window and debounce: hashes of (type, key or arguments), set only on tasks created
-- with those options.
ALTER TABLE tasks ADD COLUMN unique_key TEXT;
ALTER TABLE tasks ADD COLUMN debounce_key TEXT;
CREATE INDEX tasks_unique ON tasks (unique_key, created) WHERE unique_key IS NOT NULL;
CREATE INDEX tasks_debounce ON tasks (debounce_key, next_run) WHERE debounce_key IS NOT NULL AND status = 'next_run_not_scheduled';
-- Catch-up: cron and rrule tasks waiting to be scheduled, by due instant (adaptive tasks are not in it).
CREATE INDEX tasks_calendar_due ON tasks (next_run) WHERE status = 'next_run_not_scheduled' AND schedule <> '{"kind":"adaptive"}';

-- The instant a run serves (NULL for runs from before: their scheduled instant), and the task backfill
-- it belongs to.
ALTER TABLE task_runs ADD COLUMN scheduled_for INTEGER;
ALTER TABLE task_runs ADD COLUMN backfill INTEGER;
CREATE INDEX task_runs_backfill ON task_runs (backfill, id) WHERE backfill IS NOT NULL;

-- A task backfill: the occurrences of [from_ts, to_ts], run one at a time; next_point is the next one
-- to get a run (NULL once every one has had its run).
CREATE TABLE task_backfills (
  id         INTEGER PRIMARY KEY,
  task       INTEGER NOT NULL,
  from_ts    INTEGER NOT NULL,
  to_ts      INTEGER NOT NULL,
  next_point INTEGER,
  total      INTEGER NOT NULL,
  status     TEXT NOT NULL CHECK (status IN ('running', 'done', 'cancelled')),
  created    INTEGER NOT NULL,
  updated    INTEGER NOT NULL
);
CREATE INDEX task_backfills_running ON task_backfills (id) WHERE status = 'running';
CREATE INDEX task_backfills_task ON task_backfills (task, id);

-- DAGs: what a schedule point does while an earlier run is active.
ALTER TABLE dags ADD COLUMN overlap TEXT NOT NULL DEFAULT 'allow' CHECK (overlap IN ('skip', 'bufferOne', 'allow', 'cancelOther'));

-- DAG runs made by a backfill: SQLite cannot change a CHECK constraint in place, so dag_runs is rebuilt
-- (same columns, same ids).
PRAGMA defer_foreign_keys = ON;
CREATE TABLE dag_runs_v12 (
  id       INTEGER PRIMARY KEY,
  dag      TEXT NOT NULL REFERENCES dags (id),
  version  TEXT NOT NULL,
  exec_ts  INTEGER NOT NULL,
  trigger  TEXT NOT NULL CHECK (trigger IN ('schedule', 'catch_up', 'manual', 'backfill')),
  status   TEXT NOT NULL CHECK (status IN ('scheduled', 'running', 'success', 'failed')),
  params   TEXT NOT NULL DEFAULT '{}',
  rev      INTEGER NOT NULL DEFAULT 0,
  restarts INTEGER NOT NULL DEFAULT 0,
  created  INTEGER NOT NULL,
  started  INTEGER,
  ended    INTEGER
);
INSERT INTO dag_runs_v12 (id, dag, version, exec_ts, trigger, status, params, rev, restarts, created, started, ended)
SELECT id, dag, version, exec_ts, trigger, status, params, rev, restarts, created, started, ended FROM dag_runs;
DROP TABLE dag_runs;
ALTER TABLE dag_runs_v12 RENAME TO dag_runs;
CREATE INDEX dag_runs_dag ON dag_runs (dag, id);
CREATE INDEX dag_runs_active ON dag_runs (dag, exec_ts, id) WHERE status IN ('scheduled', 'running');
