/**
 * `simulate` on a PostgreSQL store: the virtual clock waits for every query in flight, so the
 * forecast of an order-independent workload is the one SQLite gives.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runSimulation, seriesCsv, simulate, summaryJson } from '../../src/index.js';
import { withClient } from '../support/postgres-admin.js';
import { createTestDatabase } from '../support/postgres.js';

describe('simulate on PostgreSQL', () => {
  it('runs a scenario on a postgres:// store with the same forecast as on SQLite', { timeout: 120_000 }, async () => {
    const minute = 60_000;
    const db = await createTestDatabase('simulate');
    const scenario = (store: string) => ({
      name: 'backoff',
      duration: '15m',
      store,
      taskTypes: [{ name: 'poll', defaultIntervalMs: '1m', maxIntervalMs: '16m', backoffFactor: 2 }],
      tasks: [{ type: 'poll', count: 20, policy: 'recurring' as const, spread: '10s' }],
      handlers: { poll: { duration: { dist: 'constant' as const, value: '1s' } } },
      workers: [{ count: 2, concurrency: 4 }],
    });
    const pg = await simulate(scenario(db.url));
    const sqlite = await simulate(scenario('sqlite::memory:'));
    // The same store again holds the first forecast's types and tasks: refused, nothing run.
    await expect(simulate(scenario(db.url))).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'store', message: expect.stringMatching(/needs an empty database/) }] });
    expect(pg.store).toBe('postgres');
    expect(pg.byType.poll!.runs).toBe(20 * 4);
    expect(pg.byType.poll!.finalIntervalMs).toEqual({ min: 16 * minute, p50: 16 * minute, max: 16 * minute });
    expect(pg.runs).toEqual(sqlite.runs);
    expect(pg.byType.poll!.lagMs.max).toBeLessThan(1000);
    await db.drop();
  });

  it('a scenario and a seed give the same forecast every time on PostgreSQL too', { timeout: 120_000 }, async () => {
    // A DAG and a queue side by side: their loops query the store at the same virtual instants (the
    // runs' DAG durations came out 5 ms apart from one run to the next while the pool answered
    // concurrent queries in the server's order).
    const scenario = (store: string) => ({
      name: 'repeatable',
      duration: '6h',
      seed: 7,
      store,
      taskTypes: [{ name: 'mail', maxQueueLength: null }],
      arrivals: [{ type: 'mail', ratePerHour: 60 }],
      handlers: { mail: { duration: { dist: 'exponential' as const, mean: '20s' }, failed: 0.1 } },
      workers: [{ count: 1, concurrency: 2 }],
      dags: [{ id: 'hourly', schedule: { every: '1h' }, tasks: [{ id: 'a', duration: { dist: 'constant' as const, value: '1m' } }, { id: 'b', after: ['a'], duration: { dist: 'constant' as const, value: '2m' } }] }],
    });
    const strip = ({ wallMs: _w, runsPerWallSecond: _r, store: _s, ...rest }: Record<string, unknown>) => rest;
    const forecasts: unknown[] = [];
    // Two runs: the next test runs three, two of them on a busy event loop.
    for (let i = 0; i < 2; i++) {
      const db = await createTestDatabase(`simulate_repeat_${i}`);
      forecasts.push(strip((await simulate(scenario(db.url))) as unknown as Record<string, unknown>));
      await db.drop();
    }
    expect(forecasts[1]).toEqual(forecasts[0]);
  });

  it('a DAG beside two worker processes gives the same forecast and the same runs to the same workers, however quickly PostgreSQL answers', { timeout: 120_000 }, async () => {
    // A worker woken for new work may read its task types from the store before it claims. The wake
    // gate waited one turn of the event loop for its claim and then woke the next worker: whether the
    // answer came within that turn depended on the server's speed and the process's load, so the two
    // workers claimed in one order in one run and in the other in the next (dag-pipeline.json's export
    // lag p95 came out 46 s, 51 s, 34 s, 22 s on four fresh databases). The second and third runs here
    // have a busy event loop (a timer that spins a quarter or half of every millisecond), as on a loaded machine.
    const scenario = (store: string) => ({
      name: 'dag-two-processes',
      duration: '1h',
      seed: 5,
      store,
      taskTypes: [{ name: 'mail', maxQueueLength: null }],
      arrivals: [{ type: 'mail', ratePerHour: 60 }],
      handlers: { mail: { duration: { dist: 'exponential' as const, mean: '2m' }, failed: 0.05 } },
      dags: [{ id: 'quarter', schedule: { every: '15m' }, tasks: [{ id: 'a', duration: { dist: 'exponential' as const, mean: '1m' } }, { id: 'b', after: ['a'], duration: { dist: 'exponential' as const, mean: '1m' } }] }],
      workers: [{ count: 2, concurrency: 2 }],
    });
    const outputs: Array<{ summary: string; series: string; runs: unknown[] }> = [];
    for (const busyMs of [0, 0.5, 0.25]) {
      const db = await createTestDatabase(`simulate_dag_workers_${outputs.length}`);
      const spin = busyMs > 0
        ? setInterval(() => {
            const until = performance.now() + busyMs;
            while (performance.now() < until);
          }, 1)
        : null;
      try {
        const { summary, series } = await runSimulation(scenario(db.url));
        const { wallMs: _w, runsPerWallSecond: _r, ...forecast } = summary;
        const runs = await withClient(db.url, async (c) => (await c.query('SELECT id, task, type, status, started, ended, worker FROM task_runs ORDER BY id')).rows);
        outputs.push({ summary: summaryJson(forecast as typeof summary), series: seriesCsv(series), runs });
      } finally {
        if (spin) clearInterval(spin);
        await db.drop();
      }
    }
    expect(outputs[0]!.runs.length).toBeGreaterThan(50);
    expect(new Set(outputs[0]!.runs.map((r) => (r as { worker: string }).worker))).toEqual(new Set(['sim-w0.0', 'sim-w0.1']));
    for (const o of outputs.slice(1)) {
      expect(o.series).toBe(outputs[0]!.series);
      expect(o.summary).toBe(outputs[0]!.summary);
      expect(o.runs).toEqual(outputs[0]!.runs);
    }
  });

  it('orrery simulate --db postgres://... writes its summary with the store named postgres, without the URL', { timeout: 120_000 }, async () => {
    const db = await createTestDatabase('simulate_cli');
    const dir = await mkdtemp(join(tmpdir(), 'orrery-sim-pg-'));
    try {
      const scenario = {
        name: 'pg-cli',
        duration: '30m',
        seed: 3,
        taskTypes: [{ name: 'mail', maxQueueLength: null }],
        arrivals: [{ type: 'mail', ratePerHour: 120 }],
        handlers: { mail: { duration: { dist: 'exponential', mean: '2s' }, failed: 0.1 } },
        workers: [{ count: 1, concurrency: 2 }],
      };
      await writeFile(join(dir, 'pg.json'), JSON.stringify(scenario));
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(['simulate', join(dir, 'pg.json'), '--db', db.url, '--out', join(dir, 'out')], { out: (s) => void out.push(s), err: (s) => void err.push(s) });
      expect(err.join('')).toBe('');
      expect(code).toBe(0);
      const text = await readFile(join(dir, 'out', 'summary.json'), 'utf8');
      const summary = JSON.parse(text);
      expect(summary.store).toBe('postgres');
      expect(text).not.toContain(db.url);
      expect(summary.byType.mail.runs).toBeGreaterThan(20);
      expect(summary.runs.failed).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await db.drop();
    }
  });
});
