/** The figures of a bench run: every sample per key (one per round), with what the report needs beside them. */
import type { CpuPart } from './cpu.js';
import { summary } from './stats.js';
import type { SystemName } from './systems/system.js';

/** The peers an Orrery rate is divided by in each round: the faster of them (its "best peer"). */
export const PEERS = ['graphile-worker', 'pg-boss'] as const;

export interface RunMeta {
  date: string;
  machine: string;
  node: string;
  postgres: string | null;
  size: number;
  rounds: number;
  concurrencies: number[];
  /** Batch size of Orrery's write set in bare SQL (absent in results saved before it was measured). */
  claimBatch?: number;
  systems: SystemName[];
  labels: Record<string, string>;
  settings: Record<string, string>;
  latencyCount: number;
  scaleLevels: number[];
  scaleStores: Array<'sqlite' | 'postgres'>;
  capMs: number;
  quick: boolean;
  command: string;
}

export class Results {
  readonly samples: Record<string, number[]> = {};
  readonly capped = new Set<string>();

  add(key: string, v: number): void {
    (this.samples[key] ??= []).push(v);
  }

  has(key: string): boolean {
    return (this.samples[key]?.length ?? 0) > 0;
  }

  get(key: string): { median: number; min: number; max: number; n: number } | null {
    const xs = this.samples[key];
    return xs && xs.length ? { ...summary(xs), n: xs.length } : null;
  }

  toJSON(): { samples: Record<string, number[]>; capped: string[] } {
    return { samples: this.samples, capped: [...this.capped] };
  }
}

export const key = {
  enqueue: (s: SystemName) => `enqueue|${s}`,
  rate: (s: SystemName, c: number) => `rate|${s}|c${c}`,
  rss: (s: SystemName, c: number) => `rss|${s}|c${c}`,
  bare: (store: string, c: number) => `bare|${store}|c${c}`,
  vsPeer: (s: SystemName, c: number) => `vs-peer|${s}|c${c}`,
  vsBare: (s: SystemName, c: number) => `vs-bare|${s}|c${c}`,
  /** Orrery's write set in bare SQL on a store, in batches of `batch`, measured beside the drains at concurrency c. */
  writeSet: (store: string, batch: number, c: number) => `write-set|${store}|b${batch}|c${c}`,
  vsWriteSet: (s: SystemName, c: number) => `vs-write-set|${s}|c${c}`,
  /** CPU µs per task of a system or a bare cycle (`subject`). */
  cpu: (subject: string, c: number, part: CpuPart) => `cpu|${subject}|c${c}|${part}`,
  /** Share of the runs Orrery's worker claimed that its claims created directly from due tasks. */
  direct: (s: SystemName, c: number) => `direct|${s}|c${c}`,
  latency: (s: SystemName, q: 'p50' | 'p95' | 'p99') => `latency|${s}|${q}`,
  scale: (store: string, level: number, part: 'schedule' | 'claim' | 'total') => `scale|${store}|${level}|${part}`,
  scaleLoad: (store: string, level: number) => `scale-load|${store}|${level}`,
  scaleGrowth: (store: string) => `scale-growth|${store}`,
};

/** The subjects of CPU figures that are not systems: the bare cycles, in the bench process. */
export const subject = {
  bare: (store: string) => `bare-${store}`,
  writeSet: (store: string, batch: number) => `write-set-${store}-b${batch}`,
};
