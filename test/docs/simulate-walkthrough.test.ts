/**
 * docs/simulate.md's "what if" walkthrough: the 16-slot column of its table is what the command
 * gives for examples/simulations/crawler.json (the forecast is deterministic: a scenario and a seed
 * give the same summary). An engine change that moves the forecast fails here until the doc follows.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { formatDuration } from '../../src/core/durations.js';
import { parseScenario, simulate } from '../../src/index.js';

const ROOT = join(import.meta.dirname, '..', '..');

it("the walkthrough's 16-slot column is what crawler.json forecasts", { timeout: 120_000 }, async () => {
  const doc = await readFile(join(ROOT, 'docs', 'simulate.md'), 'utf8');
  const row = (label: string) => {
    const line = doc.split('\n').find((l) => l.startsWith(`| ${label} |`));
    expect(line, label).toBeDefined();
    return line!.split('|')[2]!.trim();
  };
  const s = await simulate(parseScenario(JSON.parse(await readFile(join(ROOT, 'examples', 'simulations', 'crawler.json'), 'utf8'))));
  const t = s.byType['load-git']!;
  const dur = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : formatDuration(Math.round(ms / 1000) * 1000));
  expect(row('runs in the week')).toBe(s.runs.total.toLocaleString('en-US'));
  expect(row('worker utilization')).toBe(`${(s.workers.utilization * 100).toFixed(1)}%`);
  expect(row('lag mean / p50 / p95 / p99')).toBe([t.lagMs.mean, t.lagMs.p50, t.lagMs.p95, t.lagMs.p99].map(dur).join(' / '));
  expect(row('queue mean / max')).toBe(`${t.queue.mean.toFixed(1)} / ${t.queue.max.toLocaleString('en-US')}`);
  expect(row('crashes, runs lost with them')).toBe(`${s.workers.crashes}, ${s.runs.lost}`);
});
