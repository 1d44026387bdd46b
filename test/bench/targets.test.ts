/** The issue-15 target table of the bench report: a target with no figure is "not measured", never a vacuous "yes". */
import { describe, expect, it } from 'vitest';
import { targets } from '../../bench/report.js';
import { key, Results, type RunMeta } from '../../bench/results.js';

const meta = (concurrencies: number[]): RunMeta => ({
  date: '2026-12-04',
  machine: 'test',
  node: 'v20',
  postgres: null,
  size: 1000,
  rounds: 1,
  concurrencies,
  systems: ['orrery-pg', 'graphile-worker'],
  labels: {},
  settings: {},
  latencyCount: 10,
  scaleLevels: [],
  scaleStores: [],
  capMs: 30_000,
  quick: true,
  command: 'npm run bench',
});

describe('bench targets', () => {
  it('says "not measured" for throughput and RSS targets when no concurrency ran (a latency-only run)', () => {
    const r = new Results();
    r.add(key.latency('orrery-pg', 'p99'), 12);
    const rows = targets(r, meta([]));
    const met = (prefix: string) => rows.find((x) => x.target.startsWith(prefix))!.met;
    expect(met('Orrery on PostgreSQL ≥ 1.0x')).toBe('not measured');
    expect(met('Orrery on SQLite ≥ 1.2x')).toBe('not measured');
    expect(met('Orrery on SQLite ≥ 80%')).toBe('not measured');
    expect(rows.filter((x) => x.target.includes('peak RSS')).map((x) => x.met)).toEqual(['not measured', 'not measured']);
    expect(rows.find((x) => x.target.includes('p99'))!.met).toBe('no');
  });

  it('judges a measured figure', () => {
    const r = new Results();
    r.add(key.vsPeer('orrery-pg', 10), 1.1);
    expect(targets(r, meta([10])).find((x) => x.target.startsWith('Orrery on PostgreSQL ≥ 1.0x'))!.met).toBe('yes');
  });
});
