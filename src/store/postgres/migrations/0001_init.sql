-- Orrery schema v1 (PostgreSQL). Instants are timestamptz; JSON is jsonb except run results, kept as
-- JSON text so any JSON value (a bare string included) round-trips exactly as in the SQLite store.
CREATE TABLE task_types (
  name                text PRIMARY KEY,
  description         text NOT NULL DEFAULT '',
  backend_name        text NOT NULL,
  default_interval_ms bigint,
  min_interval_ms     bigint,
  max_interval_ms     bigint,
  backoff_factor      double precision NOT NULL,
  max_queue_length    integer,
  num_retries         integer NOT NULL,
  retry_delay_ms      bigint NOT NULL,
  timeout_ms          bigint,
  lease_ms            bigint NOT NULL,
  max_abandons        integer NOT NULL,
  created             timestamptz NOT NULL
);

CREATE TABLE tasks (
  id                   bigserial PRIMARY KEY,
  type                 text NOT NULL REFERENCES task_types (name),
  arguments            jsonb NOT NULL,
  policy               text NOT NULL CHECK (policy IN ('recurring', 'oneshot')),
  schedule             jsonb NOT NULL,
  next_run             timestamptz NOT NULL,
  current_interval_ms  bigint,
  status               text NOT NULL CHECK (status IN ('next_run_not_scheduled', 'next_run_scheduled', 'completed', 'disabled')),
  disabled_reason      text CHECK (disabled_reason IN ('manual', 'permfailed', 'retries_exhausted', 'dead_letter')),
  retries_left         integer NOT NULL,
  consecutive_abandons integer NOT NULL DEFAULT 0,
  priority             text CHECK (priority IN ('high', 'normal', 'low')),
  priority_rank        smallint NOT NULL,
  next_attempt         integer NOT NULL DEFAULT 1,
  current_run          bigint,
  -- what makes two tasks equal (type, arguments, policy, priority, ...), fixed at creation
  identity_key         text NOT NULL,
  -- identity_key while the task is active, NULL once completed or disabled: idempotent creation
  dedupe_key           text,
  created              timestamptz NOT NULL
);
CREATE UNIQUE INDEX tasks_dedupe ON tasks (dedupe_key);
-- the runner: per type and priority, due first; only tasks waiting to be scheduled
CREATE INDEX tasks_due ON tasks (type, priority_rank, next_run, id) WHERE status = 'next_run_not_scheduled';
CREATE INDEX tasks_next_due ON tasks (next_run) WHERE status = 'next_run_not_scheduled';
CREATE INDEX tasks_type_status ON tasks (type, status, id);
CREATE INDEX tasks_status ON tasks (status, id);

CREATE TABLE task_runs (
  id               bigserial PRIMARY KEY,
  task             bigint NOT NULL REFERENCES tasks (id),
  type             text NOT NULL,
  backend_id       text NOT NULL UNIQUE,
  status           text NOT NULL CHECK (status IN ('scheduled', 'started', 'eventful', 'uneventful', 'failed', 'permfailed', 'lost')),
  priority_rank    smallint NOT NULL,
  scheduled        timestamptz NOT NULL,
  started          timestamptz,
  ended            timestamptz,
  metadata         jsonb NOT NULL DEFAULT '{}',
  result           text,
  error            text,
  worker           text,
  lease_expires_at timestamptz,
  attempt          integer NOT NULL
);
CREATE INDEX task_runs_task ON task_runs (task, id);
-- the jobboard: only waiting runs, in claim order
CREATE INDEX task_runs_claimable ON task_runs (type, priority_rank, scheduled, id) WHERE status = 'scheduled';
-- the reaper: only runs holding a lease
CREATE INDEX task_runs_leases ON task_runs (lease_expires_at) WHERE status = 'started';

CREATE TABLE run_logs (
  id         bigserial PRIMARY KEY,
  run        bigint NOT NULL REFERENCES task_runs (id),
  at         timestamptz NOT NULL,
  level      text NOT NULL,
  message    text NOT NULL,
  attributes jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX run_logs_run ON run_logs (run, id);
