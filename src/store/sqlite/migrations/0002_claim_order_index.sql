-- Claims read waiting runs per type in claim order (priority, scheduled, id): one index range with a
-- LIMIT, instead of sorting every waiting run of the type on each claim.
DROP INDEX task_runs_claimable;
CREATE INDEX task_runs_claimable ON task_runs (type, priority_rank, scheduled, id) WHERE status = 'scheduled';
