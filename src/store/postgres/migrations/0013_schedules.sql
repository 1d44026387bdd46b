-- Issue 19: schedules (catch-up, jitter, backfill, DAG overlap) and flow control (unique, debounce).

-- The occurrence a task's next run serves, when it differs from next_run (jitter, a retry); NULL: next_run.
-- Unique within a window and debounce: hashes of (type, key or arguments), set only on tasks created
-- with those options.
ALTER TABLE tasks ADD COLUMN scheduled_for timestamptz, ADD COLUMN unique_key text, ADD COLUMN debounce_key text;
CREATE INDEX tasks_unique ON tasks (unique_key, created) WHERE unique_key IS NOT NULL;
CREATE INDEX tasks_debounce ON tasks (debounce_key, next_run) WHERE debounce_key IS NOT NULL AND status = 'next_run_not_scheduled';
-- Catch-up: cron and rrule tasks waiting to be scheduled, by due instant (adaptive tasks are not in it).
CREATE INDEX tasks_calendar_due ON tasks (next_run) WHERE status = 'next_run_not_scheduled' AND schedule <> '{"kind": "adaptive"}'::jsonb;

-- The instant a run serves (NULL for runs from before: their scheduled instant), and the task backfill
-- it belongs to.
ALTER TABLE task_runs ADD COLUMN scheduled_for timestamptz, ADD COLUMN backfill bigint;
CREATE INDEX task_runs_backfill ON task_runs (backfill, id) WHERE backfill IS NOT NULL;

-- A task backfill: the occurrences of [from_ts, to_ts], run one at a time; next_point is the next one
-- to get a run (NULL once every one has had its run).
CREATE TABLE task_backfills (
  id         bigserial PRIMARY KEY,
  task       bigint NOT NULL,
  from_ts    timestamptz NOT NULL,
  to_ts      timestamptz NOT NULL,
  next_point timestamptz,
  total      integer NOT NULL,
  status     text NOT NULL CHECK (status IN ('running', 'done', 'cancelled')),
  created    timestamptz NOT NULL,
  updated    timestamptz NOT NULL
);
CREATE INDEX task_backfills_running ON task_backfills (id) WHERE status = 'running';
CREATE INDEX task_backfills_task ON task_backfills (task, id);

-- DAGs: what a schedule point does while an earlier run is active; runs made by a backfill.
ALTER TABLE dags ADD COLUMN overlap text NOT NULL DEFAULT 'allow' CHECK (overlap IN ('skip', 'bufferOne', 'allow', 'cancelOther'));
ALTER TABLE dag_runs DROP CONSTRAINT dag_runs_trigger_check,
  ADD CONSTRAINT dag_runs_trigger_check CHECK (trigger IN ('schedule', 'catch_up', 'manual', 'backfill'));
