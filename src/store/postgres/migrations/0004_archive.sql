-- Archiving (SPEC §5): finished runs (with their logs) and finished one-shot tasks moved out of the
-- live tables. Records are the public JSON shapes (SPEC §6.3).
CREATE TABLE archived_task_runs (
  id          bigint PRIMARY KEY,       -- the run's id
  task        bigint NOT NULL,
  ended       timestamptz NOT NULL,
  archived_at timestamptz NOT NULL,
  record      jsonb NOT NULL            -- {"run": TaskRun, "logs": [RunLogRecord]}
);
CREATE INDEX archived_task_runs_task ON archived_task_runs (task, id);

CREATE TABLE archived_tasks (
  id          bigint PRIMARY KEY,       -- the task's id
  archived_at timestamptz NOT NULL,
  record      jsonb NOT NULL            -- Task
);

-- Resumable exports: per JSONL file, the byte offset its last committed batch ended at.
CREATE TABLE archive_progress (
  key     text PRIMARY KEY,
  value   text NOT NULL,
  updated timestamptz NOT NULL
);

-- Finished runs in archiving order (ended, id). Partial: waiting and leased runs (ended IS NULL) are
-- not in it, so scheduling and claiming pay nothing; a run end adds one entry.
CREATE INDEX task_runs_finished ON task_runs (ended, id) WHERE ended IS NOT NULL;
