import type { Orrery } from '../engine/service.js';
import { VirtualClock } from '../engine/virtual-clock.js';
import type { SimStore } from './sim-store.js';

/** One worker's wake-up, as a gate holds it. */
interface Sleeper {
  /** The types its worker claims. */
  types: readonly string[];
  /** Unsubscribed (its process died). */
  gone?: boolean;
  /** Wakes the worker (its `onRunsScheduled` listener). */
  wake: () => void;
  /** The worker's claim in flight, if any (it settles when the claim has its answer). */
  claiming: () => Promise<unknown> | null;
  /** Whether a wake-up would make the worker claim (Worker.wantsRuns): a worker with no room is not woken. */
  wants: () => boolean;
  /** Settles at the worker's next claim or timer (after a wake-up: it claimed, or found nothing to do). */
  nextMove: () => Promise<'claim' | 'timer'>;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * The "runs may be waiting" wake-ups of the simulated worker processes. In one process every wake-up
 * reaches every worker at once and each of them claims, in the order they subscribed: the first with
 * room takes what is claimable, and the others find nothing. The gate keeps that order but wakes them
 * one at a time, and skips a worker that would not claim (no room: Worker.wantsRuns) or whose claim
 * the store would answer with nothing (an earlier claim of its types came back short and nothing that
 * could make work claimable was written since: SimStore): those wake-ups would change nothing, and 48 workers woken by every run's end cost the simulation more than the
 * runs themselves. A skipped worker keeps its poll timer where it was.
 */
export class WakeGate {
  private readonly sleepers: Sleeper[] = [];
  private pumping = false;
  private again = false;
  private off: (() => void) | null = null;

  constructor(
    private readonly orrery: Orrery,
    private readonly sim: SimStore,
  ) {}

  /** Subscribes a worker; returns the function that unsubscribes it. */
  add(s: Sleeper): () => void {
    this.sleepers.push(s);
    s.gone = false;
    this.off ??= this.orrery.onRunsScheduled(() => this.signal());
    return () => {
      s.gone = true;
      const i = this.sleepers.indexOf(s);
      if (i >= 0) this.sleepers.splice(i, 1);
    };
  }

  /** Stops listening. */
  close(): void {
    this.off?.();
    this.off = null;
  }

  private signal(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    const done = this.pump();
    // Time stands still while the workers are being woken.
    if (this.orrery.clock instanceof VirtualClock) void this.orrery.clock.track(done);
  }

  /**
   * The woken worker's move, or null when it made none by a turn of the event loop at which no store
   * call was waiting for its answer. A worker on its way to a claim may first read the store (its task
   * types, every few seconds): on PostgreSQL that answer comes in real time, one turn or several later,
   * and a turn alone would leave the worker behind or not as the server was quick, and the next worker
   * woken would claim first in one run and second in the next.
   */
  private async moveOf(move: Promise<'claim' | 'timer'>): Promise<'claim' | 'timer' | null> {
    for (;;) {
      const m = await Promise.race([move, turn().then(() => null)]);
      if (m !== null || this.sim.calls.idle) return m;
      await this.sim.calls.whenIdle();
    }
  }

  private async pump(): Promise<void> {
    try {
      do {
        this.again = false;
        // The write that woke us has had its answer (a claim made while it is in flight learns nothing).
        await this.sim.settled();
        const at = this.orrery.clock.now().getTime();
        // Whether a group's types are exhausted changes only when a worker was woken (worker groups share their types array).
        let knownTypes: readonly string[] | null = null;
        let exhausted = false;
        for (const s of [...this.sleepers]) {
          if (s.gone) continue;
          // Both checks only read (nothing changes between them): the cheaper one, shared by a group, first.
          if (knownTypes !== s.types) {
            knownTypes = s.types;
            exhausted = this.sim.exhaustedFor(s.types, at);
          }
          if (exhausted || !s.wants()) continue;
          knownTypes = null;
          const move = s.nextMove();
          s.wake();
          // The woken worker claims, or finds it has no room and sleeps again (a worker busy elsewhere
          // makes some other move first, or none: then it is not waited for).
          if ((await this.moveOf(move)) === 'claim') await s.claiming()?.catch(() => {});
        }
      } while (this.again);
    } finally {
      this.pumping = false;
    }
  }
}
