import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type { Attributes, Context, Link, Span, SpanContext } from '@opentelemetry/api';
import { decodeTraceContext, encodeTraceContext, parseTraceparent } from '../core/trace-context.js';
import { ValidationError } from '../core/errors.js';
import type { ClaimedRun, EndRunResult } from '../store/store.js';

/**
 * OpenTelemetry spans of Orrery (docs/tracing.md): create → schedule → claim → run → end, through
 * `@opentelemetry/api` only. Nothing here runs unless an application registered an SDK (a global
 * tracer provider): callers ask `tracingOn()` once per call or per claim, and make no span, no
 * context and no link otherwise.
 */

/** The tracer's name (the instrumentation scope of every Orrery span). */
export const TRACER_NAME = 'orrery';

/** Span names. */
export const SPANS = { create: 'orrery.create', schedule: 'orrery.schedule', claim: 'orrery.claim', run: 'orrery.run', end: 'orrery.end' } as const;

/** Most links a batch span (a claim) carries: the SDK's default link limit. */
const MAX_LINKS = 128;

/**
 * Where every copy of `@opentelemetry/api` 1.x keeps the providers registered with it (the API's
 * global-utils: `Symbol.for('opentelemetry.js.api.' + its major version)`): an SDK's tracer provider
 * is its `trace`. Orrery depends on the API 1.x (a test checks the installed one's major).
 */
export const OTEL_API_GLOBAL = Symbol.for('opentelemetry.js.api.1');

/**
 * The API, loaded once an SDK is registered: without one, nothing of it runs, and a worker process
 * need not load it (its 59 modules cost about 6.5 MiB of resident memory). `import` of the package
 * in Node loads the same CommonJS build, so this is the copy a static import would give.
 */
let api: typeof OtelApi | null = null;
function otel(): typeof OtelApi {
  api ??= createRequire(import.meta.url)('@opentelemetry/api') as typeof OtelApi;
  return api;
}

/** The API's own no-op provider: what a provider without an SDK registered hands out. */
let noopProvider: unknown = null;

/** True when an application registered an OpenTelemetry SDK. Cheap: a global lookup, no allocation. */
export function tracingOn(): boolean {
  const registered = (globalThis as { [OTEL_API_GLOBAL]?: { trace?: unknown } })[OTEL_API_GLOBAL];
  if (registered?.trace === undefined) return false; // no tracer provider registered: no SDK
  const { trace, ProxyTracerProvider } = otel();
  noopProvider ??= new ProxyTracerProvider().getDelegate();
  const p = trace.getTracerProvider() as { getDelegate?: () => unknown };
  return typeof p.getDelegate !== 'function' || p.getDelegate() !== noopProvider;
}

function tracer() {
  return otel().trace.getTracer(TRACER_NAME);
}

/** The form a task keeps (core/trace-context.ts) of a span's context. */
export function keptContext(span: Span): string {
  const sc = span.spanContext();
  return encodeTraceContext({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags, traceState: sc.traceState?.serialize() || null });
}

/** A kept context as a remote span context, or null when it is not a valid one. */
function remoteSpanContext(kept: string): SpanContext | null {
  const p = decodeTraceContext(kept);
  if (!p) return null;
  return { traceId: p.traceId, spanId: p.spanId, traceFlags: p.flags & otel().TraceFlags.SAMPLED, isRemote: true, ...(p.traceState ? { traceState: otel().createTraceState(p.traceState) } : {}) };
}

/**
 * The context of a request's `traceparent` (and `tracestate`) header, for the spans of what it
 * creates; undefined without tracing or without a valid header (the active context is used then).
 */
export function contextOfHeaders(traceparent: string | undefined, tracestate: string | undefined): Context | undefined {
  if (traceparent === undefined || !tracingOn()) return undefined;
  const p = parseTraceparent(traceparent, tracestate);
  if (!p) return undefined;
  const kept = remoteSpanContext(encodeTraceContext(p));
  return kept ? otel().trace.setSpanContext(otel().ROOT_CONTEXT, kept) : undefined;
}

function failed(span: Span, e: unknown): void {
  span.recordException(e instanceof Error ? e : String(e));
  span.setStatus({ code: otel().SpanStatusCode.ERROR, message: firstLine(e instanceof Error ? e.message : String(e)) });
}

/**
 * A creation's `traceContext` option: absent (or null: the active context), or an OpenTelemetry
 * `Context`. Checked whether or not an SDK is registered, so code that passes something else fails the
 * same way before tracing is switched on as after (it threw a TypeError from the API only with an SDK).
 */
export function checkTraceContext(value: unknown): void {
  if (value === undefined || value === null) return;
  if (typeof value === 'object' && typeof (value as { getValue?: unknown }).getValue === 'function') return;
  throw new ValidationError('traceContext: must be an OpenTelemetry Context (from @opentelemetry/api, e.g. trace.setSpan(context.active(), span))', [
    { path: 'traceContext', message: 'must be an OpenTelemetry Context' },
  ]);
}

/**
 * Runs a creation inside an `orrery.create` span (a child of `parent`, else of the active context),
 * handing `create` the context to keep with the tasks: the span's, when it records; null otherwise.
 * Callers check tracingOn() first (without tracing, `create(null)` runs alone).
 */
export async function tracedCreate<R>(
  parent: Context | undefined,
  attributes: Attributes,
  create: (traceContext: string | null) => Promise<R>,
  /** What the creation did, as span attributes (`orrery.task.created`, `orrery.task.id`). */
  outcome: (r: R) => Attributes,
): Promise<R> {
  if (!tracingOn()) return create(null);
  const span = tracer().startSpan(
    SPANS.create,
    { kind: otel().SpanKind.PRODUCER, attributes: { 'messaging.system': 'orrery', 'messaging.operation.type': 'create', 'messaging.operation.name': 'create', ...attributes } },
    parent ?? otel().context.active(),
  );
  try {
    const out = await create(span.isRecording() ? keptContext(span) : null);
    span.setAttributes(outcome(out));
    return out;
  } catch (e) {
    failed(span, e);
    throw e;
  } finally {
    span.end();
  }
}

/** The `orrery.create` attributes of a batch of tasks (`orrery.task.type` and `.id` when they have one). */
export function createAttributes(tasks: ReadonlyArray<{ type: string }>): Attributes {
  const first = tasks[0]?.type;
  const oneType = first !== undefined && tasks.every((t) => t.type === first);
  return { 'orrery.task.count': tasks.length, 'messaging.batch.message_count': tasks.length, ...(oneType ? { 'orrery.task.type': first, 'messaging.destination.name': first } : {}) };
}

/** Records an `orrery.schedule` span for a runner pass that scheduled runs (from `startMs` to now). */
export function recordSchedule(startMs: number, runs: ReadonlyArray<{ type: string }>): void {
  const types = [...new Set(runs.map((r) => r.type))].sort();
  tracer()
    .startSpan(
      SPANS.schedule,
      {
        kind: otel().SpanKind.INTERNAL,
        startTime: startMs,
        attributes: { 'messaging.system': 'orrery', 'messaging.operation.type': 'send', 'messaging.operation.name': 'schedule', 'orrery.run.count': runs.length, 'orrery.task.types': types },
      },
      otel().context.active(),
    )
    .end();
}

/**
 * Records an `orrery.claim` span for a worker's claim that returned runs (from `startMs` to now),
 * linked to the trace of each claimed run that has one (up to 128); returns its span context, which
 * each run's span links to.
 */
export function recordClaim(startMs: number, worker: string, runs: readonly ClaimedRun[]): SpanContext {
  const links: Link[] = [];
  for (const c of runs) {
    if (links.length >= MAX_LINKS) break;
    const sc = c.trace ? remoteSpanContext(c.trace.context) : null;
    if (sc) links.push({ context: sc, attributes: { 'orrery.run.backend_id': c.run.backendId } });
  }
  const span = tracer().startSpan(
    SPANS.claim,
    {
      kind: otel().SpanKind.CONSUMER,
      startTime: startMs,
      links,
      attributes: { 'messaging.system': 'orrery', 'messaging.operation.type': 'receive', 'messaging.operation.name': 'claim', 'orrery.worker': worker, 'orrery.run.count': runs.length, 'messaging.batch.message_count': runs.length },
    },
    otel().ROOT_CONTEXT,
  );
  span.end();
  return span.spanContext();
}

/**
 * The spans of one run on a worker: `orrery.run` from its handler's start until its end is recorded
 * (a child of the context kept with its task, or for a recurring task the root of its own trace
 * linked to it; linked to its claim), and `orrery.end`, its child, while the end is being recorded.
 * The handler runs with `orrery.run` as the active span, so its own spans are children of it.
 */
export class RunTrace {
  private endSpan: Span | null = null;

  private constructor(
    private readonly span: Span,
    /** The context the handler runs in. */
    readonly context: Context,
  ) {}

  /** Starts a run's span (only when tracingOn()); `claim` is its claim's span context. */
  static start(c: ClaimedRun, worker: string, claim: SpanContext | undefined): RunTrace {
    const kept = c.trace ? remoteSpanContext(c.trace.context) : null;
    const links: Link[] = [];
    let parent = otel().ROOT_CONTEXT;
    if (kept && c.trace!.link) links.push({ context: kept, attributes: { 'orrery.link': 'task created' } });
    else if (kept) parent = otel().trace.setSpanContext(otel().ROOT_CONTEXT, kept);
    if (claim) links.push({ context: claim, attributes: { 'orrery.link': 'claim' } });
    const { run } = c;
    const span = tracer().startSpan(
      SPANS.run,
      {
        kind: otel().SpanKind.CONSUMER,
        links,
        attributes: {
          'messaging.system': 'orrery',
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'run',
          'messaging.destination.name': run.type,
          'messaging.message.id': run.backendId,
          'orrery.task.type': run.type,
          'orrery.task.id': run.task,
          'orrery.run.id': run.id,
          'orrery.run.backend_id': run.backendId,
          'orrery.run.attempt': run.attempt,
          'orrery.worker': worker,
        },
      },
      parent,
    );
    return new RunTrace(span, otel().trace.setSpan(parent, span));
  }

  /** The handler settled with `status`: its end is being recorded (`orrery.end` starts). */
  ending(status: string): void {
    this.span.setAttribute('orrery.run.status', status);
    this.endSpan = tracer().startSpan(
      SPANS.end,
      { kind: otel().SpanKind.INTERNAL, attributes: { 'messaging.system': 'orrery', 'messaging.operation.type': 'settle', 'messaging.operation.name': 'end', 'orrery.run.status': status } },
      this.context,
    );
  }

  /**
   * The run is no longer this worker's: its end recorded (`end`), refused or not recorded (`error`),
   * or the run lost or given up. `error` (the handler's, for a failed run) marks `orrery.run` failed.
   */
  done(end: EndRunResult | null, opts: { error?: string; endError?: unknown; status?: string } = {}): void {
    const e = this.endSpan;
    if (e) {
      if (end) e.setAttributes({ 'orrery.task.status': end.task.status, 'orrery.task.updated': end.taskUpdated });
      if (opts.endError !== undefined) failed(e, opts.endError);
      e.end();
    }
    if (opts.status) this.span.setAttribute('orrery.run.status', opts.status);
    if (opts.error !== undefined) this.span.setStatus({ code: otel().SpanStatusCode.ERROR, message: firstLine(opts.error) });
    this.span.end();
  }
}

/**
 * Calls `fn` with no active context when an SDK is registered (else just calls it): a loop started
 * inside a span (a Daemon started within a startup span) records its passes as roots of their own
 * traces, not as children of that span.
 */
export function detachedFromCaller<T>(fn: () => T): T {
  return tracingOn() ? otel().context.with(otel().ROOT_CONTEXT, fn) : fn();
}

/** Calls `fn` with `ctx` as the active context (the handler of a traced run). */
export function withContext<T>(ctx: Context, fn: () => T): T {
  return otel().context.with(ctx, fn);
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}
