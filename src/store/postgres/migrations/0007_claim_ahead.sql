-- Issue 15: claim ahead and a leaner hot path (docs/postgres.md, docs/guarantees.md).
-- A run a worker claimed but whose handler has not begun is `claimed` (scheduled -> claimed -> started).
ALTER TABLE task_runs DROP CONSTRAINT task_runs_status_check;
ALTER TABLE task_runs ADD CONSTRAINT task_runs_status_check
  CHECK (status IN ('scheduled', 'claimed', 'started', 'eventful', 'uneventful', 'failed', 'permfailed', 'lost'));

-- Leases cover claimed and started runs: the reaper, the heartbeats and the limits read them.
DROP INDEX task_runs_leases;
CREATE INDEX task_runs_leases ON task_runs (lease_expires_at) WHERE status IN ('claimed', 'started');
DROP INDEX task_runs_running;
CREATE INDEX task_runs_running ON task_runs (type, concurrency_key) WHERE status IN ('claimed', 'started');

-- Completed and disabled tasks (dedupe_key NULL) no longer add an index entry on every update.
DROP INDEX tasks_dedupe;
CREATE UNIQUE INDEX tasks_dedupe ON tasks (dedupe_key) WHERE dedupe_key IS NOT NULL;

-- When a worker last claimed due tasks of the type directly: the runner leaves such types to the
-- workers for a grace period instead of queueing their due tasks itself.
ALTER TABLE task_types ADD COLUMN last_direct_claim timestamptz;
