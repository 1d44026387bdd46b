import { randomUUID } from 'node:crypto';

/**
 * A run's backend id: a UUID in the version 7 layout (the instant in milliseconds, then random bits),
 * so ids sort by creation and the unique index on backend ids grows at its right edge instead of at a
 * random page per run. The same layout as the PostgreSQL store's TIME_ORDERED_UUID, instants before
 * 1970 included: they all take the millisecond 0 (a negative one has no place in the layout).
 */
export function timeOrderedUuid(atMs: number): string {
  const u = randomUUID();
  const h = Math.max(0, Math.floor(atMs)).toString(16).padStart(12, '0').slice(-12);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-7${u.slice(15, 18)}${u.slice(18)}`;
}
