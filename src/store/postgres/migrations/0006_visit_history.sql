-- Issue 9 item 5: visit metrics over time and each origin's visit history (docs/visits.md).

-- One point per (lister, visit type) per updateMetrics, written in the same transaction as visit_metrics.
-- Reads take the last N points of a pair (or those since an instant) backwards along the primary key;
-- updateMetrics keeps at most a bounded number of points per pair (10,000 by default), pruning the oldest.
CREATE TABLE visit_metrics_history (
  lister_id                    uuid NOT NULL,
  visit_type                   text NOT NULL,
  at                           timestamptz NOT NULL,
  origins_known                bigint NOT NULL,
  origins_enabled              bigint NOT NULL,
  origins_never_visited        bigint NOT NULL,
  origins_with_pending_changes bigint NOT NULL,
  PRIMARY KEY (lister_id, visit_type, at)
);

-- One row per applied recordVisit (ignored late or duplicate results are not appended), written in the
-- recordVisit transaction. Applied visits of an origin have strictly increasing instants, so the key is
-- unique; reads go newest first backwards along it.
CREATE TABLE origin_visits (
  url        text NOT NULL,
  visit_type text NOT NULL,
  at         timestamptz NOT NULL,
  status     text NOT NULL CHECK (status IN ('successful', 'failed', 'not_found')),
  snapshot   text,
  eventful   boolean NOT NULL,
  PRIMARY KEY (url, visit_type, at)
);
