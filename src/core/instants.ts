import { invalid } from './errors.js';

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/i;

/** Parses an ISO 8601 instant (`2026-01-02`, `2026-01-02T03:04:05Z`, with offset). Date-only and zone-less forms are UTC. */
export function parseInstant(text: string, field = 'instant'): Date {
  const src = text.trim();
  if (!ISO_INSTANT.test(src)) throw invalid(field, `invalid ISO 8601 instant "${text}" (example: 2026-01-02T03:00:00Z)`);
  const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(src) && src.length > 10;
  const normalised = src.length === 10 ? `${src}T00:00:00Z` : hasZone ? src : `${src}Z`;
  const d = new Date(normalised.replace(' ', 'T'));
  if (Number.isNaN(d.getTime())) throw invalid(field, `invalid instant "${text}"`);
  return d;
}

export function maxDate(a: Date, b: Date): Date {
  return a.getTime() >= b.getTime() ? a : b;
}
