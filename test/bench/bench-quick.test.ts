/**
 * `npm run bench -- --quick` still runs end to end against every system and produces every figure
 * (not its value: figures are read in docs/benchmarks.md, never asserted). It uses the test server
 * (ORRERY_BENCH_PG_URL) instead of starting a PostgreSQL server of its own.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { SYSTEM_NAMES } from '../../bench/systems/system.js';
import { key } from '../../bench/results.js';

const ROOT = join(import.meta.dirname, '..', '..');
const out = mkdtempSync(join(tmpdir(), 'orrery-bench-quick-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'bench', '--', ...args], {
      cwd: ROOT,
      env: { ...process.env, ORRERY_BENCH_PG_URL: inject('pgUrl') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run bench -- --quick', () => {
  it('measures every system and writes every figure, the tables and the chart', { timeout: 170_000 }, async () => {
    const { code, output } = await runBench(['--quick', '--out', out]);
    expect(code, output.slice(-3000)).toBe(0);
    const { meta, samples } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { meta: { concurrencies: number[]; scaleLevels: number[]; scaleStores: string[] }; samples: Record<string, number[]> };
    const expected: string[] = [];
    for (const s of SYSTEM_NAMES) {
      expected.push(key.enqueue(s), key.latency(s, 'p50'), key.latency(s, 'p95'), key.latency(s, 'p99'));
      for (const c of meta.concurrencies) expected.push(key.rate(s, c), key.rss(s, c));
    }
    for (const c of meta.concurrencies) {
      expected.push(key.bare('sqlite', c), key.bare('postgres', c));
      for (const s of ['orrery-sqlite', 'orrery-pg'] as const) expected.push(key.vsPeer(s, c), key.vsBare(s, c));
    }
    expect(meta.scaleStores).toEqual(['sqlite', 'postgres']);
    expect(meta.scaleLevels.length).toBeGreaterThanOrEqual(2);
    for (const st of meta.scaleStores) {
      expected.push(key.scaleGrowth(st));
      for (const l of meta.scaleLevels) expected.push(key.scale(st, l, 'schedule'), key.scale(st, l, 'claim'), key.scale(st, l, 'total'));
    }
    const missing = expected.filter((k) => !(samples[k]?.length && samples[k]!.every(Number.isFinite)));
    expect(missing).toEqual([]);

    const md = readFileSync(join(out, 'results.md'), 'utf8');
    for (const heading of ['### Enqueue', '### Processing throughput', '### Schedule-to-start latency', '### Scale', '### Targets of issue 6']) expect(md).toContain(heading);
    expect(md).not.toContain('n/a');
    const svg = readFileSync(join(out, 'benchmarks.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('concurrency 50');
  });
});
