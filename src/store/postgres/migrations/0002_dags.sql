-- DAG workflows (SPEC §3): definitions, versions, runs, schedule points, task instances and attempts.
-- Attempts run as one-shot tasks on the jobboard; their task ids are kept without foreign keys, so
-- archiving old tasks never trips over a DAG. Task results are JSON text, as run results are.
CREATE TABLE dags (
  id              text PRIMARY KEY,
  description     text NOT NULL DEFAULT '',
  version         text NOT NULL,
  schedule        jsonb NOT NULL,
  start           timestamptz NOT NULL,
  catch_up        boolean NOT NULL,
  max_active_runs integer NOT NULL,
  -- the first schedule point not yet recorded; NULL when the schedule has no more points
  next_point      timestamptz,
  created         timestamptz NOT NULL,
  updated         timestamptz NOT NULL
);

CREATE TABLE dag_versions (
  dag       text NOT NULL REFERENCES dags (id),
  version   text NOT NULL,
  structure jsonb NOT NULL,
  created   timestamptz NOT NULL,
  PRIMARY KEY (dag, version)
);

CREATE TABLE dag_runs (
  id       bigserial PRIMARY KEY,
  dag      text NOT NULL REFERENCES dags (id),
  version  text NOT NULL,
  exec_ts  timestamptz NOT NULL,
  trigger  text NOT NULL CHECK (trigger IN ('schedule', 'catch_up', 'manual')),
  status   text NOT NULL CHECK (status IN ('scheduled', 'running', 'success', 'failed')),
  params   jsonb NOT NULL DEFAULT '{}',
  -- bumped by every change: schedulers apply a step only to the revision they read
  rev      integer NOT NULL DEFAULT 0,
  restarts integer NOT NULL DEFAULT 0,
  created  timestamptz NOT NULL,
  started  timestamptz,
  ended    timestamptz
);
CREATE INDEX dag_runs_dag ON dag_runs (dag, id);
CREATE INDEX dag_runs_active ON dag_runs (dag, exec_ts, id) WHERE status IN ('scheduled', 'running');

CREATE TABLE dag_points (
  id       bigserial PRIMARY KEY,
  dag      text NOT NULL REFERENCES dags (id),
  exec_ts  timestamptz NOT NULL,
  until_ts timestamptz,
  count    integer NOT NULL DEFAULT 1,
  kind     text NOT NULL CHECK (kind IN ('scheduled', 'caught_up', 'skipped', 'triggered')),
  run      bigint,
  recorded timestamptz NOT NULL
);
-- a schedule point is recorded once (manual triggers may share an instant)
CREATE UNIQUE INDEX dag_points_once ON dag_points (dag, exec_ts) WHERE kind <> 'triggered';
CREATE INDEX dag_points_dag ON dag_points (dag, id);

CREATE TABLE dag_task_instances (
  run          bigint NOT NULL REFERENCES dag_runs (id),
  task_id      text NOT NULL,
  status       text NOT NULL CHECK (status IN ('pending', 'scheduled', 'running', 'success', 'failed', 'up_for_retry', 'upstream_failed', 'skipped')),
  attempt      integer NOT NULL DEFAULT 0,
  retries_left integer NOT NULL,
  -- attempts lost in a row (their worker died): re-attempted at once, without using a retry
  lost         integer NOT NULL DEFAULT 0,
  started      timestamptz,
  ended        timestamptz,
  error        text,
  result       text,
  PRIMARY KEY (run, task_id)
);

CREATE TABLE dag_task_attempts (
  run         bigint NOT NULL REFERENCES dag_runs (id),
  task_id     text NOT NULL,
  attempt     integer NOT NULL,
  orrery_task bigint NOT NULL,
  not_before  timestamptz NOT NULL,
  created     timestamptz NOT NULL,
  PRIMARY KEY (run, task_id, attempt)
);
