-- Issue 18: the worker registry (docs/operations.md#workers). Each worker process registers at start,
-- refreshes last_seen every 10 s (busy or idle) and sets stopped_at on a graceful stop, so an idle live
-- worker is told apart from a stopped one. Rows last seen more than 7 days before a worker registers
-- are deleted then (workers_last_seen serves that and the listing of recent workers).
CREATE TABLE workers (
  id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  types text[] NOT NULL,
  concurrency integer NOT NULL,
  started_at timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  stopped_at timestamptz
);
CREATE INDEX workers_last_seen ON workers (last_seen);
