/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as Orrery carries it: parsed from a
 * `traceparent` (and `tracestate`) header, and kept with a task in one text column as
 * `TRACEPARENT` or `TRACEPARENT TRACESTATE` (a traceparent has no space). Pure: no OpenTelemetry here.
 */
export interface TraceParent {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** The parent span: 16 lowercase hex digits, not all zero. */
  spanId: string;
  /** Trace flags (bit 0: sampled). */
  flags: number;
  /** The `tracestate` header value, or null. */
  traceState: string | null;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** Longest tracestate kept (the specification's limit of 32 members fits in it); a longer one is dropped. */
const MAX_TRACESTATE = 512;
/** Printable ASCII: what a tracestate may hold (its members are checked by the tracing SDK). */
const TRACESTATE = /^[\x20-\x7e]*$/;

/**
 * A traceparent header (with its tracestate), or null when it is not a valid one: an unknown
 * version may carry more fields after the flags (they are ignored), version 00 may not, version ff
 * is invalid. A tracestate that is too long or not printable ASCII is dropped, the traceparent kept.
 */
export function parseTraceparent(traceparent: string | null | undefined, tracestate?: string | null): TraceParent | null {
  if (typeof traceparent !== 'string') return null;
  const m = TRACEPARENT.exec(traceparent.trim());
  if (!m) return null;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  const state = typeof tracestate === 'string' ? tracestate.trim() : '';
  const keep = state !== '' && state.length <= MAX_TRACESTATE && TRACESTATE.test(state);
  return { traceId, spanId, flags: parseInt(flags, 16), traceState: keep ? state : null };
}

/** The traceparent header value (version 00) of a span context. */
export function formatTraceparent(p: Pick<TraceParent, 'traceId' | 'spanId' | 'flags'>): string {
  return `00-${p.traceId}-${p.spanId}-${(p.flags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The form a task keeps: `TRACEPARENT` or `TRACEPARENT TRACESTATE`. */
export function encodeTraceContext(p: TraceParent): string {
  const parent = formatTraceparent(p);
  return p.traceState ? `${parent} ${p.traceState}` : parent;
}

/** A kept trace context read back, or null when it is not one. */
export function decodeTraceContext(stored: string): TraceParent | null {
  const space = stored.indexOf(' ');
  return space < 0 ? parseTraceparent(stored) : parseTraceparent(stored.slice(0, space), stored.slice(space + 1));
}
