import { describe, expect, it } from 'vitest';
import { decodeTraceContext, encodeTraceContext, formatTraceparent, parseTraceparent } from './trace-context.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const HEADER = `00-${TRACE}-${SPAN}-01`;

describe('W3C trace context', () => {
  it('parses a traceparent with its tracestate, and keeps them in one column and back', () => {
    const p = parseTraceparent(` ${HEADER} `, 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    expect(p).toEqual({ traceId: TRACE, spanId: SPAN, flags: 1, traceState: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' });
    expect(formatTraceparent(p!)).toBe(HEADER);
    const stored = encodeTraceContext(p!);
    expect(stored).toBe(`${HEADER} rojo=00f067aa0ba902b7,congo=t61rcWkgMzE`);
    expect(decodeTraceContext(stored)).toEqual(p);
    expect(decodeTraceContext(HEADER)).toEqual({ traceId: TRACE, spanId: SPAN, flags: 1, traceState: null });
  });

  it('refuses what is not a valid traceparent, and drops a tracestate it cannot keep', () => {
    for (const bad of [
      undefined,
      '',
      'garbage',
      `00-${TRACE}-${SPAN}-1`,
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `ff-${TRACE}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
    ]) {
      expect(parseTraceparent(bad)).toBeNull();
    }
    // A later version may carry more fields: the first four are read.
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-00-whatever`)).toMatchObject({ traceId: TRACE, flags: 0 });
    expect(parseTraceparent(HEADER, 'x'.repeat(513))!.traceState).toBeNull();
    expect(parseTraceparent(HEADER, 'k=v\u00e9')!.traceState).toBeNull();
    expect(parseTraceparent(HEADER, '  ')!.traceState).toBeNull();
  });
});
