/** The source of "now". Tests inject a fixed or stepping clock; production uses the system clock. */
export interface Clock {
  /** The current instant. */
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to; for tests and replays. */
export class ManualClock implements Clock {
  private t: number;
  constructor(start: Date | string) {
    this.t = new Date(start).getTime();
  }
  /** The clock's instant. */
  now(): Date {
    return new Date(this.t);
  }
  /** Moves the clock to an instant (ISO 8601 text or a `Date`), backwards too. */
  set(at: Date | string): void {
    this.t = new Date(at).getTime();
  }
  /** Moves the clock forward by `ms` milliseconds; returns the new instant. */
  advance(ms: number): Date {
    this.t += ms;
    return this.now();
  }
}
