/**
 * The worker registry on virtual time (docs/operations.md#workers): an idle worker, which holds and
 * ends no run, stays alive because it refreshes its row every 10 s; a worker stopped gracefully reads
 * stopped; a killed one turns stale, then gone. The "why" gate counts the idle live worker.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { WORKER_REFRESH_MS, type WorkerInfo } from '../../src/core/worker-registry.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { Worker } from '../../src/engine/worker.js';
import { SimProcess } from '../../src/simulate/sim-process.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const MIN = 60_000;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(): Promise<{ orrery: Orrery; clock: VirtualClock }> {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-registry-'));
  const clock = new VirtualClock(T0);
  const orrery = await openOrrery({ db: `sqlite:${join(dir, 'orrery.db')}`, clock });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => orrery.close());
  return { orrery, clock };
}

const byId = async (orrery: Orrery) => new Map((await orrery.listWorkers()).map((w) => [w.worker, w]));

describe('the worker registry on virtual time', () => {
  it('a worker serving 1,500 task types registers all of them and stays alive while idle', async () => {
    const { orrery, clock } = await setup();
    const names = Array.from({ length: 1500 }, (_, i) => `t${String(i).padStart(4, '0')}`);
    for (const name of names) await orrery.createTaskType({ name });
    const handlers = Object.fromEntries(names.map((n) => [n, async () => true]));
    const w = new Worker(orrery, { handlers, id: 'wide' });
    w.start();
    cleanups.push(() => w.stop(0));
    await clock.advance(MIN);
    const row = (await byId(orrery)).get('wide')!;
    expect(row).toMatchObject({ liveness: 'alive', types: names });
    expect(at(MIN).getTime() - row.lastSeen!.getTime()).toBeLessThan(WORKER_REFRESH_MS);
  });

  it('an idle worker stays alive, a stopped one reads stopped, a killed one turns stale then gone', async () => {
    const { orrery, clock } = await setup();
    await orrery.createTaskType({ name: 'mail', defaultIntervalMs: '1h' });
    const handlers = { mail: async () => true };
    const idle = new Worker(orrery, { handlers, id: 'idle', concurrency: 3 });
    const leaving = new Worker(orrery, { handlers, id: 'leaving', types: ['mail'] });
    const proc = new SimProcess(clock, orrery);
    const killed = new Worker(proc.board, { handlers, id: 'killed', clock: proc.clock });
    for (const w of [idle, leaving, killed]) w.start();
    cleanups.push(() => idle.stop(0));

    await clock.advance(MIN);
    let workers = await byId(orrery);
    expect([...workers.keys()]).toEqual(['idle', 'killed', 'leaving']);
    for (const w of workers.values()) expect(w).toMatchObject({ liveness: 'alive', registered: true, running: 0, ended: 0, lastHeartbeat: null, startedAt: T0, stoppedAt: null, types: ['mail'] });
    expect(workers.get('idle')).toMatchObject({ concurrency: 3, pid: process.pid });
    // Refreshed on its own timer, though it holds nothing: last seen within one refresh.
    expect(at(MIN).getTime() - workers.get('idle')!.lastSeen!.getTime()).toBeLessThan(WORKER_REFRESH_MS);

    // An idle live worker handling the type lets the "why" gate pass.
    const task = await orrery.createTask({ type: 'mail', arguments: { args: [], kwargs: {} }, nextRun: at(24 * 60 * MIN) });
    const gate = (await orrery.whyTask(task.id)).gates.find((g) => g.gate === 'workers')!;
    expect(gate).toMatchObject({ verdict: 'pass', detail: expect.stringMatching(/idle, killed, leaving/) });

    await leaving.stop();
    proc.kill();
    await clock.advance(40_000);
    workers = await byId(orrery);
    expect(workers.get('idle')!.liveness).toBe('alive');
    expect(workers.get('leaving')).toMatchObject({ liveness: 'stopped', stoppedAt: at(MIN), lastSeen: at(MIN) });
    expect(workers.get('killed')!.liveness).toBe('stale');
    // Alive first, then stale, then stopped.
    expect((await orrery.listWorkers()).map((w) => w.worker)).toEqual(['idle', 'killed', 'leaving']);

    await clock.advance(10 * MIN);
    workers = await byId(orrery);
    expect(workers.get('idle')!.liveness).toBe('alive');
    expect(workers.get('killed')!.liveness).toBe('gone');
    expect(workers.get('leaving')!.liveness).toBe('stopped');
    // The listing's window: workers seen in the last 5 minutes.
    expect((await orrery.listWorkers({ minutes: 5 })).map((w) => w.worker)).toEqual(['idle']);
    // Once the idle worker stops too, the workers gate holds the task and names it stopped.
    await idle.stop();
    // (Not due yet, the task is not held by the gate, which says no worker is live now; once due, it is.)
    expect((await orrery.whyTask(task.id)).gates.find((g) => g.gate === 'workers')).toMatchObject({ verdict: 'skip', detail: expect.stringMatching(/^not due yet: .*; no live worker handles type mail now/) });
    const held = (await orrery.whyTask(task.id, { at: at(24 * 60 * MIN + 1000) })).gates.find((g) => g.gate === 'workers')!;
    expect(held).toMatchObject({ verdict: 'hold', detail: expect.stringMatching(/^no live worker handles type mail: .*\(stopped: idle at 2026-01-01T00:11:40.000Z, leaving at 2026-01-01T00:01:00.000Z\)/) });
  });

  it('a failed registration is logged once and retried at the next refresh', async () => {
    const { orrery, clock } = await setup();
    await orrery.createTaskType({ name: 'mail', defaultIntervalMs: '1h' });
    // The database is away for the first two registrations (the start, and the types sent at once after it).
    let failures = 2;
    const board = new Proxy(orrery, {
      get(target, key) {
        if (key === 'registerWorker') {
          return async (w: WorkerInfo) => {
            if (failures-- > 0) throw new StorageUnavailableError('database away');
            return target.registerWorker(w);
          };
        }
        const v: unknown = Reflect.get(target, key, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push((JSON.parse(s) as { msg: string }).msg) });
    const worker = new Worker(board, { handlers: { mail: async () => true }, id: 'w', logger });
    worker.start();
    cleanups.push(() => worker.stop(0));
    await clock.advance(5000);
    expect(await orrery.listWorkers()).toEqual([]);
    await clock.advance(WORKER_REFRESH_MS);
    expect((await byId(orrery)).get('w')).toMatchObject({ liveness: 'alive', types: ['mail'], startedAt: at(WORKER_REFRESH_MS) });
    expect(lines.filter((l) => /regist/.test(l))).toEqual(['could not register worker w (retrying every 10 s): database away', 'worker w registered again']);
  });

  it('the types a worker handles follow the types it reads, and its stop is written before stop() resolves', async () => {
    const { orrery, clock } = await setup();
    await orrery.createTaskType({ name: 'mail' });
    const worker = new Worker(orrery, { handlers: { mail: async () => true, sms: async () => true }, id: 'w' });
    worker.start();
    await clock.advance(1000);
    expect((await byId(orrery)).get('w')!.types).toEqual(['mail']);
    await orrery.createTaskType({ name: 'sms' });
    await clock.advance(6000); // the worker reads the types every 5 s and sends a change at once
    expect((await byId(orrery)).get('w')!.types).toEqual(['mail', 'sms']);
    await worker.stop();
    expect((await byId(orrery)).get('w')).toMatchObject({ liveness: 'stopped', stoppedAt: clock.now() });
  });
});
