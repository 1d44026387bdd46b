-- Visit scheduling (SPEC §4): listers, listed origins, origin visit stats, queue positions, metrics,
-- and the visit-scheduler's in-flight visits.
CREATE TABLE listers (
  id                        uuid PRIMARY KEY,
  name                      text NOT NULL,
  instance_name             text NOT NULL,
  current_state             jsonb NOT NULL DEFAULT '{}',
  created                   timestamptz NOT NULL,
  updated                   timestamptz NOT NULL,
  last_listing_finished_at  timestamptz,
  UNIQUE (name, instance_name)
);

-- One row per (lister, url, visit type). The columns after `enabled` mirror the origin's visit stats
-- (origin_visit_stats is the source of truth), so that every grab policy reads one index of one table.
CREATE TABLE listed_origins (
  id                        bigserial PRIMARY KEY,
  lister_id                 uuid NOT NULL REFERENCES listers (id),
  url                       text NOT NULL,
  visit_type                text NOT NULL,
  extra_loader_arguments    jsonb NOT NULL DEFAULT '{}',
  last_update               timestamptz,
  first_seen                timestamptz NOT NULL,
  last_seen                 timestamptz NOT NULL,
  enabled                   boolean NOT NULL DEFAULT true,
  last_scheduled            timestamptz,
  last_visit                timestamptz,
  last_visit_status         text,
  last_successful           timestamptz,
  next_visit_queue_position double precision
);
CREATE UNIQUE INDEX listed_origins_key ON listed_origins (lister_id, url, visit_type);
CREATE INDEX listed_origins_url ON listed_origins (url, visit_type);
-- getListedOrigins of one lister, page after page in id order
CREATE INDEX listed_origins_lister_page ON listed_origins (lister_id, id);
-- one index per grab policy, over enabled origins only, in the policy's order
CREATE INDEX listed_origins_oldest_scheduled ON listed_origins (visit_type, last_scheduled NULLS FIRST, id) WHERE enabled;
CREATE INDEX listed_origins_stop_after_success ON listed_origins (visit_type, last_update NULLS LAST, first_seen, id)
  WHERE enabled AND last_visit_status IS DISTINCT FROM 'successful';
CREATE INDEX listed_origins_never_visited ON listed_origins (visit_type, last_update, id)
  WHERE enabled AND last_successful IS NULL AND last_update IS NOT NULL;
CREATE INDEX listed_origins_lag ON listed_origins (visit_type, (last_update - last_successful) DESC, id)
  WHERE enabled AND last_successful IS NOT NULL AND last_update > last_successful;
CREATE INDEX listed_origins_without_update ON listed_origins (visit_type, next_visit_queue_position NULLS FIRST, first_seen, id)
  WHERE enabled AND last_update IS NULL;
CREATE INDEX listed_origins_lister_scheduled ON listed_origins (lister_id, visit_type, last_scheduled NULLS FIRST, id) WHERE enabled;

CREATE TABLE origin_visit_stats (
  url                       text NOT NULL,
  visit_type                text NOT NULL,
  last_successful           timestamptz,
  last_visit                timestamptz,
  last_visit_status         text CHECK (last_visit_status IN ('successful', 'failed', 'not_found')),
  last_scheduled            timestamptz,
  last_snapshot             text,
  next_visit_queue_position double precision,
  next_position_offset      integer NOT NULL DEFAULT 4,
  successive_visits         integer NOT NULL DEFAULT 1,
  PRIMARY KEY (url, visit_type)
);

-- The global queue position of each visit type (origins_without_last_update), in seconds.
CREATE TABLE visit_queue_positions (
  visit_type text PRIMARY KEY,
  position   double precision NOT NULL
);

CREATE TABLE visit_metrics (
  lister_id                    uuid NOT NULL,
  visit_type                   text NOT NULL,
  updated                      timestamptz NOT NULL,
  origins_known                bigint NOT NULL,
  origins_enabled              bigint NOT NULL,
  origins_never_visited        bigint NOT NULL,
  origins_with_pending_changes bigint NOT NULL,
  PRIMARY KEY (lister_id, visit_type)
);

-- Visits the visit-scheduler handed to the jobboard (one one-shot task each) and not yet recorded.
-- No foreign key to tasks: archiving may remove a finished task first; its visit is then dropped.
CREATE TABLE visits_in_flight (
  task_id    bigint PRIMARY KEY,
  url        text NOT NULL,
  visit_type text NOT NULL,
  scheduled  timestamptz NOT NULL
);
CREATE INDEX visits_in_flight_type ON visits_in_flight (visit_type);
