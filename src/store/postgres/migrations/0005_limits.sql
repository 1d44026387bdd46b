-- Issue 10: concurrency limits, rate limits, cancellation, task keys (docs/limits.md).
-- Limits of a task type: NULL = none.
ALTER TABLE task_types
  ADD COLUMN max_running integer,
  ADD COLUMN max_running_per_key integer,
  ADD COLUMN rate_limit_count integer,
  ADD COLUMN rate_limit_per_ms bigint;

-- A task's explicit identity within its type (onConflict), and the key its runs count against.
ALTER TABLE tasks
  ADD COLUMN task_key text,
  ADD COLUMN concurrency_key text;

-- Runs carry their task's concurrency key (copied when scheduled, like type and priority_rank) and
-- whether a cancellation was asked for while they were started.
ALTER TABLE task_runs
  ADD COLUMN concurrency_key text,
  ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;

-- Claims of limited types count running runs per type and per key: only leased runs are in it.
CREATE INDEX task_runs_running ON task_runs (type, concurrency_key) WHERE status = 'started';

-- The rate limit's sliding window: one row per run start of a rate-limited type, pruned by the
-- claims once older than the type's window. Unlimited types never write here.
CREATE TABLE rate_limit_starts (
  type    text NOT NULL,
  started timestamptz NOT NULL
);
CREATE INDEX rate_limit_starts_type ON rate_limit_starts (type, started);
