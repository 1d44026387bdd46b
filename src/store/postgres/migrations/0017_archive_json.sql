-- Archive records are stored as `json` (their text as written), no longer `jsonb`: jsonb reorders an
-- object's keys (shortest first), so an archived run or task came back with its fields out of the
-- API's order, and with a run's `result` reordered although results are kept exactly as ended
-- (`task_runs.result` is text). Records archived before keep the order jsonb gave them.
ALTER TABLE archived_task_runs ALTER COLUMN record TYPE json USING record::json;
ALTER TABLE archived_tasks ALTER COLUMN record TYPE json USING record::json;
