/**
 * Values a library caller may hand over that JSON or a Date cannot hold faithfully: refused with a
 * ValidationError naming them (they were stored changed, or failed later with a TypeError).
 */
import { describe, expect, it, vi } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { ManualClock } from '../../src/engine/clock.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { useTempOrrery } from './engine-helpers.js';

const open = useTempOrrery();

describe("a lister's currentState", () => {
  it.each([
    ['NaN', { a: NaN }, 'currentState.a: numbers must be finite'],
    ['an invalid Date', { a: new Date(NaN) }, 'currentState.a: an invalid Date is not JSON (it would be written as null)'],
    ['a __proto__ key', JSON.parse('{"__proto__":1}'), 'currentState.__proto__: the key "__proto__" is not accepted'],
    ['a BigInt', { a: 1n }, 'currentState.a: bigint is not JSON'],
  ])('%s is refused as every JSON a user gives, and the lister is unchanged', async (_what, state, why) => {
    const { orrery } = await open();
    const lister = await orrery.visits.getOrCreateLister('gh');
    const e = await orrery.visits.updateLister({ id: lister.id, updated: lister.updated, currentState: state }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as Error).message).toContain(why);
    expect((await orrery.visits.getLister(lister.id))!.currentState).toEqual(lister.currentState);
  });

  it('deeper than 128 levels is refused (5,000 levels overflowed the stack)', async () => {
    const { orrery } = await open();
    const lister = await orrery.visits.getOrCreateLister('gh');
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = { d: deep };
    await expect(orrery.visits.updateLister({ id: lister.id, updated: lister.updated, currentState: deep as Record<string, unknown> })).rejects.toThrow(/JSON nested deeper than 128 levels/);
  });
});

describe('test clocks read instants as Orrery reads them', () => {
  it.each([
    ['ManualClock', (s: string) => new ManualClock(s).now()],
    ['VirtualClock', (s: string) => new VirtualClock(s).now()],
  ])('%s: text without a zone is UTC, an impossible date or garbage is a ValidationError', (_name, make) => {
    expect(make('2026-01-01T10:00').toISOString()).toBe('2026-01-01T10:00:00.000Z');
    expect(() => make('2026-02-30T00:00:00Z')).toThrow(ValidationError);
    expect(() => make('garbage')).toThrow(/^start: invalid ISO 8601 instant "garbage"/);
  });

  it('set() and advance() refuse what leaves no valid instant, and the clock keeps its instant', async () => {
    const manual = new ManualClock('2026-01-01T00:00:00Z');
    expect(() => manual.set('garbage')).toThrow(ValidationError);
    expect(() => manual.set(new Date(NaN))).toThrow(ValidationError);
    expect(() => manual.advance(1e20)).toThrow(ValidationError);
    expect(() => manual.advance(NaN)).toThrow(ValidationError);
    expect(manual.now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
    manual.set('2026-06-01');
    expect(manual.advance(1000).toISOString()).toBe('2026-06-01T00:00:01.000Z');
    const virtual = new VirtualClock('2026-01-01T00:00:00Z');
    let fired = false;
    virtual.setTimer(1000, () => (fired = true));
    await expect(virtual.advance(NaN)).rejects.toThrow(ValidationError);
    expect(fired).toBe(false);
    expect(virtual.now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('VirtualClock options: a null quietTurns is no whole number, null options or a misspelt one are refused (testing.md)', () => {
    expect(() => new VirtualClock('2026-01-01', { quietTurns: null as never })).toThrow(/^quietTurns: must be a whole number from 1 to 1000, not null/);
    expect(() => new VirtualClock('2026-01-01', null as never)).toThrow(ValidationError);
    expect(() => new VirtualClock('2026-01-01', { quietturns: 5 } as never)).toThrow(/options\.quietturns/);
    expect(new VirtualClock('2026-01-01', {}).now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });
});

describe('the system clock’s timers', () => {
  it('one longer than a Node timer can wait (24.8 days) fires at its own time, not at 24.8 days; Infinity never', async () => {
    const { systemClock } = await import('../../src/engine/clock.js');
    vi.useFakeTimers();
    try {
      const day = 86_400_000;
      const fired: string[] = [];
      systemClock.setTimer(100 * day, () => fired.push('100d'));
      systemClock.setTimer(Infinity, () => fired.push('never'));
      const cancelled = systemClock.setTimer(60 * day, () => fired.push('cancelled'));
      vi.advanceTimersByTime(30 * day);
      cancelled.cancel();
      vi.advanceTimersByTime(70 * day - 1);
      expect(fired).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(fired).toEqual(['100d']);
      vi.advanceTimersByTime(1000 * day);
      expect(fired).toEqual(['100d']);
    } finally {
      vi.useRealTimers();
    }
  });
});
