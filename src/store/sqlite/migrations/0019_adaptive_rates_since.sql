-- Each throttle signal prunes its type's adaptive rates gone stale (`DELETE ... WHERE type = ? AND
-- since < ?`). The primary key (type, concurrency_key) made that read every key of the type, so with
-- thousands of throttled keys each signal cost milliseconds and a drain slowed from about 640 to 80
-- ends a second (a cardinality audit: 20,000 keys). This index serves the prune only.
CREATE INDEX IF NOT EXISTS adaptive_rates_since ON adaptive_rates (type, since);
