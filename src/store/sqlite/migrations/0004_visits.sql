-- Visit scheduling (SPEC §4): listers, listed origins, origin visit stats, queue positions, metrics,
-- and the visit-scheduler's in-flight visits. Instants are INTEGER epoch milliseconds; JSON is TEXT.
CREATE TABLE listers (
  id                        TEXT PRIMARY KEY,
  name                      TEXT NOT NULL,
  instance_name             TEXT NOT NULL,
  current_state             TEXT NOT NULL DEFAULT '{}',
  created                   INTEGER NOT NULL,
  updated                   INTEGER NOT NULL,
  last_listing_finished_at  INTEGER,
  UNIQUE (name, instance_name)
);

-- One row per (lister, url, visit type). The columns after `enabled` mirror the origin's visit stats
-- (origin_visit_stats is the source of truth), so that every grab policy reads one index of one table.
CREATE TABLE listed_origins (
  id                        INTEGER PRIMARY KEY,
  lister_id                 TEXT NOT NULL REFERENCES listers (id),
  url                       TEXT NOT NULL,
  visit_type                TEXT NOT NULL,
  extra_loader_arguments    TEXT NOT NULL DEFAULT '{}',
  last_update               INTEGER,
  first_seen                INTEGER NOT NULL,
  last_seen                 INTEGER NOT NULL,
  enabled                   INTEGER NOT NULL DEFAULT 1,
  last_scheduled            INTEGER,
  last_visit                INTEGER,
  last_visit_status         TEXT,
  last_successful           INTEGER,
  next_visit_queue_position REAL
);
CREATE UNIQUE INDEX listed_origins_key ON listed_origins (lister_id, url, visit_type);
CREATE INDEX listed_origins_url ON listed_origins (url, visit_type);
-- getListedOrigins of one lister, page after page in id order
CREATE INDEX listed_origins_lister_page ON listed_origins (lister_id, id);
-- one index per grab policy, over enabled origins only, in the policy's order (NULLs sort first in SQLite)
CREATE INDEX listed_origins_oldest_scheduled ON listed_origins (visit_type, last_scheduled, id) WHERE enabled = 1;
CREATE INDEX listed_origins_stop_after_success ON listed_origins (visit_type, last_update IS NULL, last_update, first_seen, id)
  WHERE enabled = 1 AND (last_visit_status IS NULL OR last_visit_status <> 'successful');
CREATE INDEX listed_origins_never_visited ON listed_origins (visit_type, last_update, id)
  WHERE enabled = 1 AND last_successful IS NULL AND last_update IS NOT NULL;
CREATE INDEX listed_origins_lag ON listed_origins (visit_type, last_update - last_successful DESC, id)
  WHERE enabled = 1 AND last_successful IS NOT NULL AND last_update > last_successful;
CREATE INDEX listed_origins_without_update ON listed_origins (visit_type, next_visit_queue_position, first_seen, id)
  WHERE enabled = 1 AND last_update IS NULL;
CREATE INDEX listed_origins_lister_scheduled ON listed_origins (lister_id, visit_type, last_scheduled, id) WHERE enabled = 1;

CREATE TABLE origin_visit_stats (
  url                       TEXT NOT NULL,
  visit_type                TEXT NOT NULL,
  last_successful           INTEGER,
  last_visit                INTEGER,
  last_visit_status         TEXT CHECK (last_visit_status IN ('successful', 'failed', 'not_found')),
  last_scheduled            INTEGER,
  last_snapshot             TEXT,
  next_visit_queue_position REAL,
  next_position_offset      INTEGER NOT NULL DEFAULT 4,
  successive_visits         INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (url, visit_type)
);

-- The global queue position of each visit type (origins_without_last_update), in seconds.
CREATE TABLE visit_queue_positions (
  visit_type TEXT PRIMARY KEY,
  position   REAL NOT NULL
);

CREATE TABLE visit_metrics (
  lister_id                    TEXT NOT NULL,
  visit_type                   TEXT NOT NULL,
  updated                      INTEGER NOT NULL,
  origins_known                INTEGER NOT NULL,
  origins_enabled              INTEGER NOT NULL,
  origins_never_visited        INTEGER NOT NULL,
  origins_with_pending_changes INTEGER NOT NULL,
  PRIMARY KEY (lister_id, visit_type)
);

-- Visits the visit-scheduler handed to the jobboard (one one-shot task each) and not yet recorded.
-- No foreign key to tasks: archiving may remove a finished task first; its visit is then dropped.
CREATE TABLE visits_in_flight (
  task_id    INTEGER PRIMARY KEY,
  url        TEXT NOT NULL,
  visit_type TEXT NOT NULL,
  scheduled  INTEGER NOT NULL
);
CREATE INDEX visits_in_flight_type ON visits_in_flight (visit_type);
