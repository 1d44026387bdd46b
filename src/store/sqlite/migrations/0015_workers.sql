-- Issue 18: the worker registry (docs/operations.md#workers). Each worker process registers at start,
-- refreshes last_seen every 10 s (busy or idle) and sets stopped_at on a graceful stop, so an idle live
-- worker is told apart from a stopped one. Rows last seen more than 7 days before a worker registers
-- are deleted then (workers_last_seen serves that and the listing of recent workers). Instants are epoch
-- milliseconds; types is a JSON array of task type names.
CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  types TEXT NOT NULL,
  concurrency INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  stopped_at INTEGER
);
CREATE INDEX workers_last_seen ON workers (last_seen);
