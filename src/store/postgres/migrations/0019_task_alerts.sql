-- The task alerts' outbox (docs/guide.md#alerts): the end of a run that calls for an alert writes it
-- here in the same transaction, and any process with a task notifier delivers it and deletes it. An
-- alert survives the death of the process that recorded the end, and a failed delivery is tried
-- again. `taken_by` is the token of the take that holds the alert until `next_try`; a settle names
-- it, so a take whose lease ran out settles nothing.
-- Written to run again harmlessly (IF NOT EXISTS), as the migrations before it.
CREATE TABLE IF NOT EXISTS task_alerts (
  id bigserial PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('failed', 'retry')),
  task bigint NOT NULL,
  type text NOT NULL,
  backend_id text NOT NULL,
  attempt integer NOT NULL,
  status text NOT NULL,
  error text,
  disabled_reason text,
  next_run timestamptz,
  ended timestamptz NOT NULL,
  tries integer NOT NULL DEFAULT 0,
  first_try timestamptz,
  next_try timestamptz NOT NULL,
  taken_by text,
  last_error text
);
-- The senders' take: alerts whose next try is due, oldest first.
CREATE INDEX IF NOT EXISTS task_alerts_next_try ON task_alerts (next_try, id);
