import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Clock } from '../../src/engine/clock.js';
import { Daemon } from '../../src/engine/daemon.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import type { WorkerOptions } from '../../src/engine/worker.js';
import type { Handler } from '../../src/worker/handlers.js';

/** A fresh Orrery on a real SQLite file (the system clock unless one is given); closed and removed after the test. */
export function useTempOrrery() {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  return async (opts: { clock?: Clock } = {}): Promise<{ orrery: Orrery; path: string; dir: string; onCleanup(fn: () => Promise<void> | void): void }> => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-engine-'));
    const path = join(dir, 'orrery.db');
    const orrery = await openOrrery({ db: `sqlite:${path}`, ...(opts.clock ? { clock: opts.clock } : {}) });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => orrery.close());
    return { orrery, path, dir, onCleanup: (fn) => cleanups.push(fn) };
  };
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(check: () => Promise<T> | T, what: string, timeoutMs = 15_000, everyMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Stops a worker on virtual time (a cleanup): its grace period is a virtual timer, so the clock is
 * moved on by `advanceMs` while it stops.
 */
export async function stopOnVirtualTime(worker: { stop(graceMs?: number): Promise<void> }, clock: { advance(ms: number): Promise<void> }, advanceMs: number): Promise<void> {
  const stopped = worker.stop(0);
  await clock.advance(advanceMs);
  await stopped;
}

/**
 * A Daemon as the engine tests run one: runner, reaper and an inline worker serving `handlers`,
 * polling every 100 ms (the runner sleeps at most 200 ms); `worker` adds or overrides worker options.
 */
export function testDaemon(orrery: Orrery, handlers: Record<string, Handler>, worker: Partial<Omit<WorkerOptions, 'logger'>> = {}): Daemon {
  return new Daemon(orrery, { runner: true, reaper: true, maxSleepMs: 200, worker: { handlers, pollMs: 100, ...worker } });
}
