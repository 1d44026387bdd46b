-- Issue 15: claim ahead and a leaner hot path (docs/guarantees.md).
-- A run a worker claimed but whose handler has not begun is `claimed` (scheduled -> claimed -> started).
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt (same columns, same ids).
PRAGMA defer_foreign_keys = ON;
CREATE TABLE task_runs_v8 (
  id               INTEGER PRIMARY KEY,
  task             INTEGER NOT NULL REFERENCES tasks (id),
  type             TEXT NOT NULL,
  backend_id       TEXT NOT NULL UNIQUE,
  status           TEXT NOT NULL CHECK (status IN ('scheduled', 'claimed', 'started', 'eventful', 'uneventful', 'failed', 'permfailed', 'lost')),
  priority_rank    INTEGER NOT NULL,
  scheduled        INTEGER NOT NULL,
  started          INTEGER,
  ended            INTEGER,
  metadata         TEXT NOT NULL DEFAULT '{}',
  result           TEXT,
  error            TEXT,
  worker           TEXT,
  lease_expires_at INTEGER,
  attempt          INTEGER NOT NULL,
  concurrency_key  TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0
);
INSERT INTO task_runs_v8 (id, task, type, backend_id, status, priority_rank, scheduled, started, ended, metadata, result, error,
  worker, lease_expires_at, attempt, concurrency_key, cancel_requested)
SELECT id, task, type, backend_id, status, priority_rank, scheduled, started, ended, metadata, result, error,
  worker, lease_expires_at, attempt, concurrency_key, cancel_requested FROM task_runs;
DROP TABLE task_runs;
ALTER TABLE task_runs_v8 RENAME TO task_runs;

CREATE INDEX task_runs_task ON task_runs (task, id);
-- the jobboard: only waiting runs, in claim order (their count per type for the queue limit too)
CREATE INDEX task_runs_claimable ON task_runs (type, priority_rank, scheduled, id) WHERE status = 'scheduled';
-- the reaper, heartbeats and limits: only runs holding a lease
CREATE INDEX task_runs_leases ON task_runs (lease_expires_at) WHERE status IN ('claimed', 'started');
CREATE INDEX task_runs_running ON task_runs (type, concurrency_key) WHERE status IN ('claimed', 'started');
-- archiving and the dashboard's rates: finished runs by end time
CREATE INDEX task_runs_finished ON task_runs (ended, id) WHERE ended IS NOT NULL;

-- Completed and disabled tasks (dedupe_key NULL) no longer add an index entry on every update.
DROP INDEX tasks_dedupe;
CREATE UNIQUE INDEX tasks_dedupe ON tasks (dedupe_key) WHERE dedupe_key IS NOT NULL;

-- When a worker last claimed due tasks of the type directly (the runner leaves such types to workers).
ALTER TABLE task_types ADD COLUMN last_direct_claim INTEGER;
