-- Issue 18: a task's schedule and a DAG paused and resumed (docs/operations.md#pause-a-task-or-a-dag).
-- A paused task is neither scheduled nor claimed: the due indexes leave it out. NULL = not paused.
ALTER TABLE tasks ADD COLUMN paused_at INTEGER;
ALTER TABLE tasks ADD COLUMN paused_reason TEXT;
DROP INDEX tasks_due;
CREATE INDEX tasks_due ON tasks (type, priority_rank, next_run, id) WHERE status = 'next_run_not_scheduled' AND paused_at IS NULL;
DROP INDEX tasks_next_due;
CREATE INDEX tasks_next_due ON tasks (next_run) WHERE status = 'next_run_not_scheduled' AND paused_at IS NULL;
-- Paused tasks only (usually none): `task list --paused` and the paused-tasks metric.
CREATE INDEX tasks_paused ON tasks (type, id) WHERE paused_at IS NOT NULL;
-- A paused DAG starts no new DAG run and no new task of its active runs.
ALTER TABLE dags ADD COLUMN paused_at INTEGER;
ALTER TABLE dags ADD COLUMN paused_reason TEXT;
