-- Issue 9 item 5: visit metrics over time and each origin's visit history (docs/visits.md).

-- One point per (lister, visit type) per updateMetrics, written in the same transaction as visit_metrics.
-- Reads take the last N points of a pair (or those since an instant) backwards along the primary key;
-- updateMetrics keeps at most a bounded number of points per pair (10,000 by default), pruning the oldest.
CREATE TABLE visit_metrics_history (
  lister_id                    TEXT NOT NULL,
  visit_type                   TEXT NOT NULL,
  at                           INTEGER NOT NULL,
  origins_known                INTEGER NOT NULL,
  origins_enabled              INTEGER NOT NULL,
  origins_never_visited        INTEGER NOT NULL,
  origins_with_pending_changes INTEGER NOT NULL,
  PRIMARY KEY (lister_id, visit_type, at)
);

-- One row per applied recordVisit (ignored late or duplicate results are not appended), written in the
-- recordVisit transaction. Applied visits of an origin have strictly increasing instants, so the key is
-- unique; reads go newest first backwards along it.
CREATE TABLE origin_visits (
  url        TEXT NOT NULL,
  visit_type TEXT NOT NULL,
  at         INTEGER NOT NULL,
  status     TEXT NOT NULL CHECK (status IN ('successful', 'failed', 'not_found')),
  snapshot   TEXT,
  eventful   INTEGER NOT NULL,
  PRIMARY KEY (url, visit_type, at)
);
