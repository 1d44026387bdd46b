-- The alerts' outbox (docs/guide.md#alerts, docs/dags.md#alerts): a run's end that calls for a task
-- alert, and a DAG step that records a DAG task's failure, write it here in their own transaction;
-- a process with a notifier for its source delivers it and deletes it. An alert survives the death
-- of the process that recorded it, and a failed delivery is tried again. `payload` is the alert's
-- JSON as a notifier receives it; `recorded` is the instant it is about (the run's end, the DAG
-- step), in epoch milliseconds like the other instants. `taken_by` is the token of the take that
-- holds the alert until `next_try`; a settle names it, so a take whose lease ran out settles nothing.
-- Written to run again harmlessly (IF NOT EXISTS), as the migrations before it.
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL CHECK (source IN ('task', 'dag')),
  kind TEXT NOT NULL CHECK (kind IN ('failed', 'retry')),
  payload TEXT NOT NULL,
  recorded INTEGER NOT NULL,
  tries INTEGER NOT NULL DEFAULT 0,
  first_try INTEGER,
  next_try INTEGER NOT NULL,
  taken_by TEXT,
  last_error TEXT
);
-- The senders' take: alerts whose next try is due, oldest first.
CREATE INDEX IF NOT EXISTS alerts_next_try ON alerts (next_try, id);
