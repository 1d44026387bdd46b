import { describe, expect, it } from 'vitest';
import { IdTable } from './id-table.js';

describe('IdTable', () => {
  it('keeps values by id with a size, in insertion order, for any string id', () => {
    const t = new IdTable<number>();
    expect(t.size).toBe(0);
    for (const [i, id] of ['b-1', '__proto__', 'constructor', '42', 'a'].entries()) t.set(id, i);
    expect(t.size).toBe(5);
    expect(t.get('__proto__')).toBe(1);
    expect(t.has('constructor')).toBe(true);
    expect(t.has('toString')).toBe(false);
    expect(t.get('toString')).toBeUndefined();
    t.set('b-1', 10); // replacing keeps the count
    expect(t.size).toBe(5);
    expect(t.delete('42')).toBe(true);
    expect(t.delete('42')).toBe(false);
    expect(t.size).toBe(4);
    expect(t.keys()).toEqual(['b-1', '__proto__', 'constructor', 'a']);
    expect(t.values()).toEqual([10, 1, 2, 4]);
  });

  it('stays consistent through many runs coming and going', () => {
    const t = new IdTable<string>();
    const live = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const id = `run-${i}`;
      t.set(id, id);
      live.add(id);
      if (i >= 20) {
        const old = `run-${i - 20}`;
        expect(t.delete(old)).toBe(true);
        live.delete(old);
      }
    }
    expect(t.size).toBe(live.size);
    expect(new Set(t.keys())).toEqual(live);
  });
});
