-- Archiving (SPEC §5): finished runs (with their logs) and finished one-shot tasks moved out of the
-- live tables. Records are the public JSON shapes (SPEC §6.3), as TEXT.
CREATE TABLE archived_task_runs (
  id          INTEGER PRIMARY KEY,      -- the run's id (ids are never reused: see sqlite-archive.ts)
  task        INTEGER NOT NULL,
  ended       INTEGER NOT NULL,
  archived_at INTEGER NOT NULL,
  record      TEXT NOT NULL             -- {"run": TaskRun, "logs": [RunLogRecord]}
);
CREATE INDEX archived_task_runs_task ON archived_task_runs (task, id);

CREATE TABLE archived_tasks (
  id          INTEGER PRIMARY KEY,      -- the task's id
  archived_at INTEGER NOT NULL,
  record      TEXT NOT NULL             -- Task
);

-- Resumable exports: per JSONL file, the byte offset its last committed batch ended at.
CREATE TABLE archive_progress (
  key     TEXT PRIMARY KEY,
  value   TEXT NOT NULL,
  updated INTEGER NOT NULL
);

-- Finished runs in archiving order (ended, id). Partial: waiting and leased runs (ended IS NULL) are
-- not in it, so scheduling and claiming pay nothing; a run end adds one entry.
CREATE INDEX task_runs_finished ON task_runs (ended, id) WHERE ended IS NOT NULL;
