-- The task alerts' outbox (docs/guide.md#alerts): the end of a run that calls for an alert writes it
-- here in the same transaction, and any process with a task notifier delivers it and deletes it. An
-- alert survives the death of the process that recorded the end, and a failed delivery is tried
-- again. Instants are epoch milliseconds. `taken_by` is the token of the take that holds the alert
-- until `next_try`; a settle names it, so a take whose lease ran out settles nothing.
-- Written to run again harmlessly (IF NOT EXISTS), as the migrations before it.
CREATE TABLE IF NOT EXISTS task_alerts (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('failed', 'retry')),
  task INTEGER NOT NULL,
  type TEXT NOT NULL,
  backend_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  disabled_reason TEXT,
  next_run INTEGER,
  ended INTEGER NOT NULL,
  tries INTEGER NOT NULL DEFAULT 0,
  first_try INTEGER,
  next_try INTEGER NOT NULL,
  taken_by TEXT,
  last_error TEXT
);
-- The senders' take: alerts whose next try is due, oldest first.
CREATE INDEX IF NOT EXISTS task_alerts_next_try ON task_alerts (next_try, id);
