-- Issue 18: task search by concurrency key (`orrery task list --concurrency-key K`, GET /api/tasks),
-- a page read in id order from the key's range. Only tasks with a key get an entry.
CREATE INDEX tasks_concurrency_key ON tasks (concurrency_key, id) WHERE concurrency_key IS NOT NULL;
