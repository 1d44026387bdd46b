-- Issue 19 items 9-11: per-key rate limits, fair shares between keys, limits that adapt (docs/limits.md).
-- (Numbered 0015 on this branch; renumbered at merge after the other issue 19 migration.)
ALTER TABLE task_types ADD COLUMN rate_limit_per_key_count INTEGER;
ALTER TABLE task_types ADD COLUMN rate_limit_per_key_per_ms INTEGER;
ALTER TABLE task_types ADD COLUMN fair_share TEXT;
ALTER TABLE task_types ADD COLUMN fifo_per_key INTEGER NOT NULL DEFAULT 0;

-- The per-key rate window: one row per run start of a type with rateLimitPerKey (runs with a key),
-- pruned by the claims once older than the window. Other types never write here.
CREATE TABLE rate_limit_key_starts (
  type            TEXT NOT NULL,
  concurrency_key TEXT NOT NULL,
  started         INTEGER NOT NULL
);
CREATE INDEX rate_limit_key_starts_key ON rate_limit_key_starts (type, concurrency_key, started);
CREATE INDEX rate_limit_key_starts_type ON rate_limit_key_starts (type, started);

-- Fair shares: the waiting runs of each key in claim order. A claim walks the keys with a skip scan
-- (the next key after the last one served) and reads each key's first runs; the runs without a key
-- are one more group, in an index of their own. Neither predicate is implied by a query that does
-- not name the key, so the other queries over waiting runs keep task_runs_claimable.
CREATE INDEX task_runs_key_queue ON task_runs (type, concurrency_key, priority_rank, scheduled, id)
  WHERE status = 'scheduled' AND concurrency_key IS NOT NULL;
CREATE INDEX task_runs_keyless_queue ON task_runs (type, priority_rank, scheduled, id)
  WHERE status = 'scheduled' AND concurrency_key IS NULL;

-- Where the turns of a type stand: the key served last (NULL: the runs without a key) and how many
-- runs of its weight its turn took.
CREATE TABLE fair_share_cursors (
  type       TEXT PRIMARY KEY,
  cursor_key TEXT,
  used       INTEGER NOT NULL
);

-- Limits that adapt: the effective rate of a type (concurrency_key '') or of one of its keys, as the
-- last throttle signal left it (runs per window at `since`); absent: the configured rate.
CREATE TABLE adaptive_rates (
  type            TEXT NOT NULL,
  concurrency_key TEXT NOT NULL,
  count           REAL NOT NULL,
  since           INTEGER NOT NULL,
  decreased_at    INTEGER NOT NULL,
  PRIMARY KEY (type, concurrency_key)
);
