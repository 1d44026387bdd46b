import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { context, ROOT_CONTEXT, trace, type Context, type ContextManager } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { Worker } from '../../src/engine/worker.js';
import { Runner } from '../../src/engine/runner.js';
import { createHttpApp } from '../../src/http/app.js';
import { OTEL_API_GLOBAL, tracingOn } from '../../src/engine/tracing.js';
import type { StoreUnderTest } from './describe-store.js';
import { T0, useOrrery } from './fixtures.js';

/** What an SDK's Node setup registers: the active context follows async calls (AsyncLocalStorage). */
class AsyncContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.als.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.als.disable();
    return this;
  }
}

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** Issue 18: OpenTelemetry spans create → schedule → claim → run → end, linked through the task's kept trace context. */
export function tracingCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);
  let exporter: InMemorySpanExporter | null = null;
  afterEach(() => {
    trace.disable();
    context.disable();
    exporter = null;
  });
  const registerSdk = () => {
    exporter = new InMemorySpanExporter();
    context.setGlobalContextManager(new AsyncContextManager());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    return exporter;
  };

  describe('tracing (OpenTelemetry)', () => {
    it('tracingOn reads the global the installed API (major 1) registers a tracer provider under, without loading the API before', () => {
      const installed = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'node_modules', '@opentelemetry', 'api', 'package.json'), 'utf8')) as { version: string };
      expect(installed.version.split('.')[0]).toBe('1');
      expect(tracingOn()).toBe(false);
      registerSdk();
      expect((globalThis as { [OTEL_API_GLOBAL]?: { trace?: unknown } })[OTEL_API_GLOBAL]?.trace).toBeDefined();
      expect(tracingOn()).toBe(true);
      trace.disable();
      expect(tracingOn()).toBe(false);
    });

    it('a traceContext that is not an OpenTelemetry Context is a ValidationError naming it, with or without an SDK, and writes nothing', async () => {
      const { orrery } = await setup([{ name: 'job' }]);
      const one = { type: 'job', policy: 'oneshot' as const, arguments: { args: ['x'], kwargs: {} } };
      const tries = async () => {
        for (const bad of ['abc', 42, {}, { getValue: 1 }]) {
          for (const create of [
            () => orrery.createTask(one, { at: T0, traceContext: bad as never }),
            () => orrery.createTasks([one], { at: T0, traceContext: bad as never }),
            () => orrery.createTasksSummary([one], { at: T0, traceContext: bad as never }),
          ]) {
            await expect(create()).rejects.toMatchObject({ name: 'ValidationError', details: [{ path: 'traceContext' }] });
          }
        }
      };
      await tries();
      registerSdk();
      await tries();
      expect(await orrery.searchTasks({})).toEqual([]);
      // null is the active context, as absent.
      expect((await orrery.createTask(one, { at: T0, traceContext: null as never })).id).toBeGreaterThan(0);
    });

    it('a summary create of one task (createTasksSummary, POST /api/tasks/batch?return=ids) names its task in orrery.create, as createTask does', async () => {
      const { orrery } = await setup([{ name: 'job' }]);
      const spans = registerSdk();
      const out = await orrery.createTasksSummary([{ type: 'job', policy: 'oneshot', arguments: { args: ['one'], kwargs: {} } }], { ids: true, at: T0 });
      await orrery.createTasksSummary([1, 2].map((i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })), { at: T0 });
      const [one, two] = spans.getFinishedSpans().filter((x) => x.name === 'orrery.create');
      expect(one!.attributes).toMatchObject({ 'orrery.task.count': 1, 'orrery.task.created': 1, 'orrery.task.id': out.ids![0] });
      expect(two!.attributes).toMatchObject({ 'orrery.task.count': 2, 'orrery.task.created': 2 });
      expect(two!.attributes['orrery.task.id']).toBeUndefined();
    });

    it("a run its worker lost has orrery.run ERROR with orrery.run.status lost: told at once (ended elsewhere) or by its end's refusal (reaped)", async () => {
      // docs/tracing.md: "so has a run the worker lost (its lease lost, reaped, cancelled elsewhere)";
      // one told at once had no status attribute, one reaped under its handler was OK and eventful (tracing audit).
      const { orrery } = await setup([{ name: 'told', leaseMs: '30s' }, { name: 'reaped', leaseMs: '30s' }]);
      const spans = registerSdk();
      const told = await orrery.createTask({ type: 'told', policy: 'oneshot' }, { at: T0 });
      const reaped = await orrery.createTask({ type: 'reaped', policy: 'oneshot' }, { at: T0 });
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => (release = r));
      const began = new Set<string>();
      const worker = new Worker(orrery, {
        handlers: {
          told: async ({ signal }) => {
            began.add('told');
            await new Promise((r) => signal.addEventListener('abort', r));
            return true;
          },
          reaped: async () => {
            began.add('reaped');
            await gate;
            return true;
          },
        },
        pollMs: 20,
        registry: false,
      });
      worker.start();
      try {
        await waitUntil(async () => began.size === 2, 'both handlers to begin');
        const runOf = async (id: number) => (await orrery.getTaskWithRuns(id))!.runs.at(-1)!;
        await orrery.endRun((await runOf(told.id)).backendId, { status: 'failed', error: 'ended by hand' });
        expect(await orrery.reapExpired({ at: new Date(T0.getTime() + 3_600_000) })).toHaveLength(1);
        release();
        const ended = () => spans.getFinishedSpans().filter((x) => x.name === 'orrery.run');
        await waitUntil(async () => ended().length === 2, 'both run spans to end');
        const span = (id: number) => ended().find((x) => x.attributes['orrery.task.id'] === id)!;
        expect(span(told.id).attributes['orrery.run.status']).toBe('lost');
        expect(span(told.id).status).toMatchObject({ code: 2 });
        expect(span(reaped.id).attributes['orrery.run.status']).toBe('lost');
        expect(span(reaped.id).status).toMatchObject({ code: 2, message: expect.stringContaining('already ended lost') });
      } finally {
        release();
        await worker.stop();
      }
    });

    it("a loop started inside a span records its passes as roots: the runner's orrery.schedule has no parent", async () => {
      const { orrery } = await setup([{ name: 'job' }]);
      const spans = registerSdk();
      await orrery.createTask({ type: 'job', policy: 'oneshot' }, { at: T0, traceContext: ROOT_CONTEXT });
      const startup = trace.getTracer('app').startSpan('startup');
      const runner = context.with(trace.setSpan(ROOT_CONTEXT, startup), () => {
        const r = new Runner(orrery, { maxSleepMs: 20, graceMs: 0 });
        r.start();
        return r;
      });
      startup.end();
      try {
        await waitUntil(async () => spans.getFinishedSpans().some((x) => x.name === 'orrery.schedule'), 'a runner pass');
      } finally {
        await runner.stop();
      }
      const pass = spans.getFinishedSpans().find((x) => x.name === 'orrery.schedule')!;
      expect(pass.parentSpanContext).toBeUndefined();
      expect(pass.spanContext().traceId).not.toBe(startup.spanContext().traceId);
    });

    it('without an SDK: no span and no trace context kept; with one: create, schedule, claim, run and end spans in the creating trace', async () => {
      const { orrery } = await setup([{ name: 'job' }, { name: 'feed', defaultIntervalMs: '1h' }]);
      const untraced = await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: ['before'], kwargs: {} } }, { at: T0 });

      const spans = registerSdk();
      const app = trace.getTracer('app').startSpan('POST /signup');
      const appCtx = trace.setSpan(ROOT_CONTEXT, app);
      const oneshot = await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: ['after'], kwargs: {} } }, { at: T0, traceContext: appCtx });
      // The active context is the default parent; a recurring task's runs get traces of their own.
      const recurring = await context.with(appCtx, () => orrery.createTask({ type: 'feed', arguments: { args: ['news'], kwargs: {} } }, { at: T0 }));
      app.end();

      expect(await orrery.scheduleDue({ at: T0 })).toHaveLength(3);
      // Through the HTTP API: the request's traceparent is the create span's parent (claimed due, without the runner).
      const res = await createHttpApp(orrery).request('/api/tasks', {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: TRACEPARENT, tracestate: 'vendor=x' },
        body: JSON.stringify({ type: 'job', policy: 'oneshot', arguments: { args: ['http'], kwargs: {} } }),
      });
      expect(res.status).toBe(201);
      const viaHttp = (await res.json()) as { id: number };
      const seen: Array<string | undefined> = [];
      const worker = new Worker(orrery, {
        handlers: {
          job: async ({ args }) => {
            // The handler runs with its run's span active: its own spans are children of it.
            trace.getTracer('app').startSpan(`send ${String(args[0])}`).end();
            seen.push(trace.getActiveSpan()?.spanContext().spanId);
            return true;
          },
          feed: async () => false,
        },
        pollMs: 20,
      });
      worker.start();
      try {
        await waitUntil(async () => (await Promise.all([untraced, oneshot, recurring].map((t) => orrery.getTaskWithRuns(t.id)))).every((t) => t!.runs.some((r) => r.ended)), 'the runs to end');
        await waitUntil(async () => (await orrery.getTaskWithRuns(viaHttp.id))!.runs.some((r) => r.ended), 'the HTTP task to run');
      } finally {
        await worker.stop();
      }

      const all = spans.getFinishedSpans();
      const named = (name: string) => all.filter((s) => s.name === name);
      const creates = named('orrery.create');
      expect(creates).toHaveLength(3);
      const [createOne, createRecurring, createHttp] = creates as [ReadableSpan, ReadableSpan, ReadableSpan];
      for (const c of [createOne, createRecurring]) {
        expect(c.parentSpanContext?.spanId).toBe(app.spanContext().spanId);
        expect(c.spanContext().traceId).toBe(app.spanContext().traceId);
      }
      expect(createOne.attributes).toMatchObject({ 'orrery.task.type': 'job', 'orrery.task.count': 1, 'orrery.task.created': 1, 'orrery.task.id': oneshot.id });
      expect(createHttp.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(createHttp.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
      expect(named('orrery.schedule')).toEqual([expect.objectContaining({ attributes: expect.objectContaining({ 'orrery.run.count': 3, 'orrery.task.types': ['feed', 'job'] }) })]);

      const runOf = (taskId: number) => named('orrery.run').find((s) => s.attributes['orrery.task.id'] === taskId)!;
      // A one-shot task's run is a child of its create span, in the creating trace, linked to its claim.
      const run = runOf(oneshot.id);
      expect(run.spanContext().traceId).toBe(app.spanContext().traceId);
      expect(run.parentSpanContext?.spanId).toBe(createOne.spanContext().spanId);
      expect(run.attributes).toMatchObject({ 'orrery.task.type': 'job', 'orrery.run.attempt': 1, 'orrery.run.status': 'eventful', 'orrery.worker': worker.id });
      const claims = named('orrery.claim');
      expect(claims.length).toBeGreaterThan(0);
      const claim = claims.find((c) => c.spanContext().spanId === run.links.find((l) => l.attributes?.['orrery.link'] === 'claim')?.context.spanId)!;
      expect(claim.links.map((l) => l.context.spanId)).toContain(createOne.spanContext().spanId);
      const end = named('orrery.end').find((s) => s.parentSpanContext?.spanId === run.spanContext().spanId)!;
      expect(end.attributes).toMatchObject({ 'orrery.run.status': 'eventful', 'orrery.task.status': 'completed', 'orrery.task.updated': true });
      const sent = named('send after')[0]!;
      expect(sent.parentSpanContext?.spanId).toBe(run.spanContext().spanId);
      expect(seen).toContain(run.spanContext().spanId);
      expect(runOf(viaHttp.id).spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');

      // A recurring task's run starts a trace of its own, linked to the create span.
      const feedRun = runOf(recurring.id);
      expect(feedRun.spanContext().traceId).not.toBe(app.spanContext().traceId);
      expect(feedRun.parentSpanContext).toBeUndefined();
      expect(feedRun.links.map((l) => l.context.spanId)).toContain(createRecurring.spanContext().spanId);
      // A task created before the SDK: its run's span is a root, linked to its claim only.
      const plain = runOf(untraced.id);
      expect(plain.parentSpanContext).toBeUndefined();
      expect(plain.links.map((l) => l.attributes?.['orrery.link'])).toEqual(['claim']);

      // A claim, and a worker's recovery of what it holds, carry the kept context (what remote workers get too).
      const later = await orrery.createTask({ type: 'feed', arguments: { args: ['later'], kwargs: {} } }, { at: T0, traceContext: appCtx });
      const [claimed] = await orrery.claimRuns({ worker: 'w9', types: ['feed'], limit: 1, at: T0 });
      const createLater = spans.getFinishedSpans().filter((x) => x.name === 'orrery.create')[3]!;
      const kept = `00-${createLater.spanContext().traceId}-${createLater.spanContext().spanId}-01`;
      expect(claimed).toMatchObject({ run: { task: later.id }, trace: { context: kept, link: true } });
      expect((await orrery.heldRuns('w9'))[0]!.trace).toEqual({ context: kept, link: true });
    });
  });
}

async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
