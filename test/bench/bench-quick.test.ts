/**
 * `npm run bench -- --quick`, with its sizes made smaller still, runs end to end against every system
 * and produces every figure (not its value: figures are read in docs/benchmarks.md, never asserted). It uses the test server
 * (ORRERY_BENCH_PG_URL) instead of starting a PostgreSQL server of its own; when that server runs on
 * this machine, its postmaster's pid (ORRERY_BENCH_PG_PID) lets the bench read the server's CPU too.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SYSTEM_NAMES } from '../../bench/systems/system.js';
import { key, subject } from '../../bench/results.js';

const ROOT = join(import.meta.dirname, '..', '..');
const out = mkdtempSync(join(tmpdir(), 'orrery-bench-quick-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** The test server's postmaster pid if it runs on this machine (a backend's parent), else null. */
async function localPostmasterPid(url: string): Promise<number | null> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const backend = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const stat = `/proc/${backend}/stat`;
    if (!existsSync(stat) || !readFileSync(`/proc/${backend}/comm`, 'utf8').startsWith('postgres')) return null;
    const s = readFileSync(stat, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
  } finally {
    await c.end();
  }
}

let postmaster: number | null = null;
beforeAll(async () => {
  postmaster = await localPostmasterPid(inject('pgUrl'));
});

/**
 * What a failed bench printed, readable: its lines naming an error (a crash dumps whole objects, whose
 * last 3,000 characters once held no message at all), then its last 1,500 characters.
 */
function failureOf(output: string): string {
  const errorLines = output.split('\n').filter((l) => /\b\w*Error\b|^\s*at |\bthrow\b|ECONN|terminat/i.test(l) && l.length < 400).slice(0, 40);
  return `${errorLines.join('\n')}\n…\n${output.slice(-1500)}`;
}

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'bench', '--', ...args], {
      cwd: ROOT,
      env: { ...process.env, ORRERY_BENCH_PG_URL: inject('pgUrl'), ...(postmaster ? { ORRERY_BENCH_PG_PID: String(postmaster) } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run bench -- --quick', () => {
  // A fixed, small amount of work (every system, both concurrencies, every measure, two scale
  // levels), sized so that a busy 2-core machine does it in well under a minute; the drain cap of
  // --quick only marks a slow figure, it fails nothing. The timeout is a guard against a hang, not a
  // speed limit: no machine's pace can reach it.
  it('measures every system and writes every figure, the tables and the chart', { timeout: 600_000 }, async () => {
    const { code, output } = await runBench(['--quick', '--size', '100', '--latency-count', '5', '--scale-max', '10001', '--out', out]);
    expect(code, failureOf(output)).toBe(0);
    const { meta, samples } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      meta: { concurrencies: number[]; claimBatch: number; scaleLevels: number[]; scaleStores: string[] };
      samples: Record<string, number[]>;
    };
    const expected: string[] = [];
    // CPU µs per task: the worker's (or the bench process's) always; the server's and the total on
    // PostgreSQL when its processes can be read; the total alone on SQLite.
    const cpu = (what: string, c: number, store: string) => {
      expected.push(key.cpu(what, c, 'worker'));
      if (store === 'sqlite' || postmaster) expected.push(key.cpu(what, c, 'total'));
      if (store === 'postgres' && postmaster) expected.push(key.cpu(what, c, 'server'));
    };
    for (const s of SYSTEM_NAMES) {
      expected.push(key.enqueue(s), key.latency(s, 'p50'), key.latency(s, 'p95'), key.latency(s, 'p99'));
      for (const c of meta.concurrencies) {
        expected.push(key.rate(s, c), key.rss(s, c));
        cpu(s, c, s === 'orrery-sqlite' ? 'sqlite' : 'postgres');
      }
    }
    expect(meta.claimBatch).toBeGreaterThan(0);
    for (const c of meta.concurrencies) {
      for (const st of ['sqlite', 'postgres']) {
        expected.push(key.bare(st, c), key.writeSet(st, meta.claimBatch, c), key.writeSet(st, c, c));
        cpu(subject.bare(st), c, st);
        cpu(subject.writeSet(st, meta.claimBatch), c, st);
        cpu(subject.writeSet(st, c), c, st);
      }
      for (const s of ['orrery-sqlite', 'orrery-pg'] as const) expected.push(key.vsPeer(s, c), key.vsBare(s, c), key.vsWriteSet(s, c), key.direct(s, c));
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
    for (const heading of ['### Enqueue', '### Processing throughput', '### Schedule-to-start latency', '### Scale', '### Targets of issue 15']) expect(md).toContain(heading);
    for (const heading of ['CPU µs/task', 'claimed directly', 'Orrery’s write set in bare SQL']) expect(md).toContain(heading);
    // Only the server's CPU may be unknown (a test server this process cannot see).
    if (postmaster) expect(md).not.toContain('n/a');
    const svg = readFileSync(join(out, 'benchmarks.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    for (const c of meta.concurrencies) expect(svg).toContain(`concurrency ${c}`);
  });
});
