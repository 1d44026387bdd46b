import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.js';
import { VirtualClock } from './virtual-clock.js';

describe('VirtualClock', () => {
  it('refuses a quietTurns that is not a whole number from 1 to 1000, naming it; a timer past the last instant a Date holds is due there', async () => {
    for (const quietTurns of [0, -1, 1.5, NaN, 'x', 1_001]) {
      expect(() => new VirtualClock('2026-01-01T00:00:00Z', { quietTurns: quietTurns as number }), String(quietTurns)).toThrow(ValidationError);
      expect(() => new VirtualClock('2026-01-01T00:00:00Z', { quietTurns: quietTurns as number })).toThrow(/quietTurns: must be a whole number from 1 to 1000/);
    }
    const clock = new VirtualClock('2026-01-01T00:00:00Z');
    clock.setTimer(Infinity, () => {});
    clock.setTimer(1e20, () => {});
    // Before: Invalid Date
    expect(clock.nextTimerAt()!.toISOString()).toBe('+275760-09-13T00:00:00.000Z');
    clock.setTimer(NaN, () => {});
    expect(clock.nextTimerAt()!.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('fires timers in instant order, then in the order they were set, each at its own instant', async () => {
    const clock = new VirtualClock('2026-01-01T00:00:00Z');
    const seen: string[] = [];
    const at = () => clock.now().toISOString().slice(11, 19);
    clock.setTimer(2000, () => seen.push(`b ${at()}`));
    clock.setTimer(1000, () => seen.push(`a ${at()}`));
    clock.setTimer(2000, () => seen.push(`c ${at()}`));
    const cancelled = clock.setTimer(1500, () => seen.push('never'));
    cancelled.cancel();
    await clock.advance(5000);
    expect(seen).toEqual(['a 00:00:01', 'b 00:00:02', 'c 00:00:02']);
    expect(clock.now().toISOString()).toBe('2026-01-01T00:00:05.000Z');
    expect(clock.pendingTimers).toBe(0);
  });

  it('lets the promises a timer starts settle before the next jump, and a timer set for "now" fires in the next step', async () => {
    const clock = new VirtualClock('2026-01-01T00:00:00Z');
    const seen: number[] = [];
    void (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(100);
        await Promise.resolve();
        await new Promise((r) => setImmediate(r));
        seen.push(clock.nowMs() - Date.parse('2026-01-01T00:00:00Z'));
      }
    })();
    clock.setTimer(0, () => clock.setTimer(0, () => seen.push(-1)));
    await clock.advance(1000);
    expect(seen).toEqual([-1, 100, 200, 300]);
    expect(clock.steps).toBe(5);
    // With one quiet turn, the turn without activity lets time jump before the code acts.
    const hasty = new VirtualClock('2026-01-01T00:00:00Z', { quietTurns: 1 });
    let woke = 0;
    void hasty.sleep(100).then(async () => {
      await new Promise((r) => setImmediate(r));
      woke = hasty.nowMs() - Date.parse('2026-01-01T00:00:00Z');
    });
    await hasty.advance(1000);
    expect(woke).toBe(1000);
  });

  it('rejects a sleep whose signal aborts, and holds time while a tracked operation is in flight', async () => {
    const clock = new VirtualClock('2026-01-01T00:00:00Z');
    const ac = new AbortController();
    const sleep = clock.sleep(10_000, ac.signal);
    clock.setTimer(50, () => ac.abort(new Error('stop')));
    await expect(Promise.all([sleep, clock.advance(20_000)])).rejects.toThrow('stop');
    let release!: () => void;
    const op = clock.track(new Promise<void>((r) => (release = r)));
    let fired = false;
    clock.setTimer(1, () => (fired = true));
    const moving = clock.advance(10);
    await new Promise((r) => setTimeout(r, 20)); // real time passes; virtual time waits for the operation
    expect(fired).toBe(false);
    release();
    await op;
    await moving;
    expect(fired).toBe(true);
  });
});
