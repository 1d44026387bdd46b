/**
 * Seeded randomness for simulations: a small fast generator (sfc32) seeded through splitmix32, and the
 * distributions scenarios use. Nothing here reads Math.random: a seed gives the same numbers every time.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for `seed` and a stream name: each name gets its own sequence (common random numbers across scenarios). */
  constructor(seed: number, stream = '') {
    let h = (seed >>> 0) ^ 0x9e3779b9;
    for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193);
    let s = h >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform number in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** A uniform number in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** An exponential variate of this mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** A standard normal variate (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** A duration model: `constant` (value), `uniform` (min, max), `exponential` (mean), `lognormal` (median, p99). Milliseconds. */
export type DurationModel =
  | { dist: 'constant'; value: number }
  | { dist: 'uniform'; min: number; max: number }
  | { dist: 'exponential'; mean: number }
  | { dist: 'lognormal'; median: number; p99: number };

/** z of the 99th percentile of the standard normal. */
const Z99 = 2.3263478740408408;

/** Draws one duration (whole milliseconds, at least 0) from a model. */
export function drawDuration(m: DurationModel, rng: Random): number {
  let ms: number;
  switch (m.dist) {
    case 'constant':
      ms = m.value;
      break;
    case 'uniform':
      ms = rng.uniform(m.min, m.max);
      break;
    case 'exponential':
      ms = rng.exponential(m.mean);
      break;
    case 'lognormal': {
      const sigma = Math.log(m.p99 / m.median) / Z99;
      ms = m.median * Math.exp(sigma * rng.normal());
      break;
    }
  }
  return Math.max(0, Math.round(ms));
}

/** The mean of a duration model (milliseconds). */
export function meanDuration(m: DurationModel): number {
  switch (m.dist) {
    case 'constant':
      return m.value;
    case 'uniform':
      return (m.min + m.max) / 2;
    case 'exponential':
      return m.mean;
    case 'lognormal': {
      const sigma = Math.log(m.p99 / m.median) / Z99;
      return m.median * Math.exp((sigma * sigma) / 2);
    }
  }
}
