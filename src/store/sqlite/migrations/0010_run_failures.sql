-- Issue 18: failed runs listed newest first (`orrery run list --status failed`, the dashboard's runs).
-- Only runs that end failed, permfailed or lost get an entry: successful runs never touch it.
CREATE INDEX task_runs_failures ON task_runs (ended, id) WHERE status IN ('failed', 'permfailed', 'lost');
