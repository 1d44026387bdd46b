-- DAG workflows (SPEC §3): definitions, versions, runs, schedule points, task instances and attempts.
-- Attempts run as one-shot tasks on the jobboard; their task ids are kept without foreign keys, so
-- archiving old tasks never trips over a DAG.
CREATE TABLE dags (
  id              TEXT PRIMARY KEY,
  description     TEXT NOT NULL DEFAULT '',
  version         TEXT NOT NULL,
  schedule        TEXT NOT NULL,
  start           INTEGER NOT NULL,
  catch_up        INTEGER NOT NULL,
  max_active_runs INTEGER NOT NULL,
  -- the first schedule point not yet recorded; NULL when the schedule has no more points
  next_point      INTEGER,
  created         INTEGER NOT NULL,
  updated         INTEGER NOT NULL
);

CREATE TABLE dag_versions (
  dag       TEXT NOT NULL REFERENCES dags (id),
  version   TEXT NOT NULL,
  structure TEXT NOT NULL,
  created   INTEGER NOT NULL,
  PRIMARY KEY (dag, version)
);

CREATE TABLE dag_runs (
  id       INTEGER PRIMARY KEY,
  dag      TEXT NOT NULL REFERENCES dags (id),
  version  TEXT NOT NULL,
  exec_ts  INTEGER NOT NULL,
  trigger  TEXT NOT NULL CHECK (trigger IN ('schedule', 'catch_up', 'manual')),
  status   TEXT NOT NULL CHECK (status IN ('scheduled', 'running', 'success', 'failed')),
  params   TEXT NOT NULL DEFAULT '{}',
  -- bumped by every change: schedulers apply a step only to the revision they read
  rev      INTEGER NOT NULL DEFAULT 0,
  restarts INTEGER NOT NULL DEFAULT 0,
  created  INTEGER NOT NULL,
  started  INTEGER,
  ended    INTEGER
);
CREATE INDEX dag_runs_dag ON dag_runs (dag, id);
CREATE INDEX dag_runs_active ON dag_runs (dag, exec_ts, id) WHERE status IN ('scheduled', 'running');

CREATE TABLE dag_points (
  id       INTEGER PRIMARY KEY,
  dag      TEXT NOT NULL REFERENCES dags (id),
  exec_ts  INTEGER NOT NULL,
  until_ts INTEGER,
  count    INTEGER NOT NULL DEFAULT 1,
  kind     TEXT NOT NULL CHECK (kind IN ('scheduled', 'caught_up', 'skipped', 'triggered')),
  run      INTEGER,
  recorded INTEGER NOT NULL
);
-- a schedule point is recorded once (manual triggers may share an instant)
CREATE UNIQUE INDEX dag_points_once ON dag_points (dag, exec_ts) WHERE kind <> 'triggered';
CREATE INDEX dag_points_dag ON dag_points (dag, id);

CREATE TABLE dag_task_instances (
  run          INTEGER NOT NULL REFERENCES dag_runs (id),
  task_id      TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('pending', 'scheduled', 'running', 'success', 'failed', 'up_for_retry', 'upstream_failed', 'skipped')),
  attempt      INTEGER NOT NULL DEFAULT 0,
  retries_left INTEGER NOT NULL,
  -- attempts lost in a row (their worker died): re-attempted at once, without using a retry
  lost         INTEGER NOT NULL DEFAULT 0,
  started      INTEGER,
  ended        INTEGER,
  error        TEXT,
  result       TEXT,
  PRIMARY KEY (run, task_id)
);

CREATE TABLE dag_task_attempts (
  run         INTEGER NOT NULL REFERENCES dag_runs (id),
  task_id     TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  orrery_task INTEGER NOT NULL,
  not_before  INTEGER NOT NULL,
  created     INTEGER NOT NULL,
  PRIMARY KEY (run, task_id, attempt)
);
