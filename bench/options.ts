/** The options of `npm run bench`. */
import { parseFlags } from './stats.js';
import { SYSTEM_NAMES, type SystemName } from './systems/system.js';

export interface BenchOptions {
  quick: boolean;
  size: number;
  rounds: number;
  systems: SystemName[];
  concurrencies: number[];
  /** Batch size of Orrery's write set in bare SQL: the worker's claim size. */
  claimBatch: number;
  latencyCount: number;
  latencyGapMs: [number, number];
  scaleMax: number;
  scaleStores: Array<'sqlite' | 'postgres'>;
  capMs: number;
  out: string | null;
  docs: boolean;
  /** Render the tables and the chart from a saved results.json instead of measuring. */
  from: string | null;
}

export const USAGE = `npm run bench -- [--quick] [--size N] [--rounds N] [--systems ${SYSTEM_NAMES.join(',')}]
  [--concurrency 10,50] [--claim-batch N] [--latency-count N] [--scale-max N] [--scale-stores sqlite,postgres] [--cap-s S]
  [--out DIR] [--docs] [--from results.json]`;

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

export function parseOptions(argv: string[]): BenchOptions {
  const f = parseFlags(argv.map((a) => (a === '--quick' || a === '--docs' ? `${a}=1` : a)));
  const known = ['quick', 'size', 'rounds', 'systems', 'concurrency', 'claim-batch', 'latency-count', 'scale-max', 'scale-stores', 'cap-s', 'out', 'docs', 'from'];
  for (const k of Object.keys(f)) if (!known.includes(k)) throw new Error(`unknown option --${k}\n${USAGE}`);
  const quick = f.quick !== undefined;
  const systems = list(f.systems ?? SYSTEM_NAMES.join(',')) as SystemName[];
  for (const s of systems) if (!SYSTEM_NAMES.includes(s)) throw new Error(`unknown system "${s}" (one of ${SYSTEM_NAMES.join(', ')})`);
  const num = (name: string, def: number) => {
    const v = f[name] === undefined ? def : Number(f[name]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: "${f[name]}" is not a non-negative number`);
    return v;
  };
  const storesOf = systems.flatMap((s) => (s === 'orrery-sqlite' ? ['sqlite'] : s === 'orrery-pg' ? ['postgres'] : [])) as Array<'sqlite' | 'postgres'>;
  return {
    quick,
    size: num('size', quick ? 1_000 : 50_000),
    rounds: Math.max(1, num('rounds', quick ? 1 : 3)),
    systems,
    concurrencies: list(f.concurrency ?? '10,50').map(Number),
    claimBatch: Math.max(1, num('claim-batch', 500)),
    latencyCount: num('latency-count', quick ? 20 : 200),
    latencyGapMs: quick ? [2, 10] : [5, 50],
    scaleMax: num('scale-max', quick ? 20_000 : 10_000_000),
    scaleStores: f['scale-stores'] !== undefined ? (list(f['scale-stores']) as Array<'sqlite' | 'postgres'>) : storesOf,
    capMs: num('cap-s', quick ? 3 : 30) * 1000,
    out: f.out ?? null,
    docs: f.docs !== undefined,
    from: f.from ?? null,
  };
}

/** 10 thousand, 1 million, 10 million, capped at --scale-max (which is then measured too). */
export function scaleLevels(max: number): number[] {
  if (max < 10_000) return [];
  const levels = [10_000, 1_000_000, 10_000_000].filter((l) => l <= max);
  if (!levels.includes(max)) levels.push(max);
  return levels;
}
