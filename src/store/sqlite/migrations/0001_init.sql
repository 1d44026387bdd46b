-- Orrery schema v1 (SQLite). Instants are INTEGER epoch milliseconds; JSON is TEXT.
CREATE TABLE task_types (
  name                TEXT PRIMARY KEY,
  description         TEXT NOT NULL DEFAULT '',
  backend_name        TEXT NOT NULL,
  default_interval_ms INTEGER,
  min_interval_ms     INTEGER,
  max_interval_ms     INTEGER,
  backoff_factor      REAL NOT NULL,
  max_queue_length    INTEGER,
  num_retries         INTEGER NOT NULL,
  retry_delay_ms      INTEGER NOT NULL,
  timeout_ms          INTEGER,
  lease_ms            INTEGER NOT NULL,
  max_abandons        INTEGER NOT NULL,
  created             INTEGER NOT NULL
);

CREATE TABLE tasks (
  id                   INTEGER PRIMARY KEY,
  type                 TEXT NOT NULL REFERENCES task_types (name),
  arguments            TEXT NOT NULL,
  policy               TEXT NOT NULL CHECK (policy IN ('recurring', 'oneshot')),
  schedule             TEXT NOT NULL,
  next_run             INTEGER NOT NULL,
  current_interval_ms  INTEGER,
  status               TEXT NOT NULL CHECK (status IN ('next_run_not_scheduled', 'next_run_scheduled', 'completed', 'disabled')),
  disabled_reason      TEXT CHECK (disabled_reason IN ('manual', 'permfailed', 'retries_exhausted', 'dead_letter')),
  retries_left         INTEGER NOT NULL,
  consecutive_abandons INTEGER NOT NULL DEFAULT 0,
  priority             TEXT CHECK (priority IN ('high', 'normal', 'low')),
  priority_rank        INTEGER NOT NULL,
  next_attempt         INTEGER NOT NULL DEFAULT 1,
  current_run          INTEGER,
  -- what makes two tasks equal (type, arguments, policy, priority, ...), fixed at creation
  identity_key         TEXT NOT NULL,
  -- identity_key while the task is active, NULL once completed or disabled: idempotent creation
  dedupe_key           TEXT,
  created              INTEGER NOT NULL
);
CREATE UNIQUE INDEX tasks_dedupe ON tasks (dedupe_key);
-- the runner: per type and priority, due first; only tasks waiting to be scheduled
CREATE INDEX tasks_due ON tasks (type, priority_rank, next_run, id) WHERE status = 'next_run_not_scheduled';
CREATE INDEX tasks_next_due ON tasks (next_run) WHERE status = 'next_run_not_scheduled';
CREATE INDEX tasks_type_status ON tasks (type, status, id);
CREATE INDEX tasks_status ON tasks (status, id);

CREATE TABLE task_runs (
  id               INTEGER PRIMARY KEY,
  task             INTEGER NOT NULL REFERENCES tasks (id),
  type             TEXT NOT NULL,
  backend_id       TEXT NOT NULL UNIQUE,
  status           TEXT NOT NULL CHECK (status IN ('scheduled', 'started', 'eventful', 'uneventful', 'failed', 'permfailed', 'lost')),
  priority_rank    INTEGER NOT NULL,
  scheduled        INTEGER NOT NULL,
  started          INTEGER,
  ended            INTEGER,
  metadata         TEXT NOT NULL DEFAULT '{}',
  result           TEXT,
  error            TEXT,
  worker           TEXT,
  lease_expires_at INTEGER,
  attempt          INTEGER NOT NULL
);
CREATE INDEX task_runs_task ON task_runs (task, id);
-- the jobboard: only waiting runs, in claim order
CREATE INDEX task_runs_claimable ON task_runs (priority_rank, scheduled, id) WHERE status = 'scheduled';
CREATE INDEX task_runs_queued ON task_runs (type) WHERE status = 'scheduled';
-- the reaper: only runs holding a lease
CREATE INDEX task_runs_leases ON task_runs (lease_expires_at) WHERE status = 'started';

CREATE TABLE run_logs (
  id         INTEGER PRIMARY KEY,
  run        INTEGER NOT NULL REFERENCES task_runs (id),
  at         INTEGER NOT NULL,
  level      TEXT NOT NULL,
  message    TEXT NOT NULL,
  attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX run_logs_run ON run_logs (run, id);
