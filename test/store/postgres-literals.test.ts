import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { arrayLiteral, instantText, parseTimestamptz } from '../../src/store/postgres/postgres-literals.js';

// The driver's parser, as the fast one must agree with it (read before Orrery's connection module replaces it).
const driver = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (s: string) => unknown;

describe('PostgreSQL literals', () => {
  it('parses timestamptz text exactly as the driver does', () => {
    const samples = [
      '2026-12-02 07:52:18.915123+00',
      '2026-12-02 07:52:18.915+00',
      '2026-12-02 07:52:18+00',
      '2026-12-02 07:52:18.9+00',
      '2026-12-02 07:52:18.999999+00',
      '2026-03-29 01:30:00.5+05:30',
      '2026-03-29 01:30:00-03',
      '1999-12-31 23:59:59.123456-09:30:15',
      '2024-02-29 00:00:00.000001+14',
      '0099-01-01 00:00:00+00',
      '0001-01-01 00:00:00+00 BC',
      '12345-06-07 08:09:10+00',
      'infinity',
      '-infinity',
    ];
    for (const s of samples) {
      const fast = parseTimestamptz(s);
      const slow = driver(s);
      expect(fast instanceof Date ? fast.getTime() : fast, s).toEqual(slow instanceof Date ? slow.getTime() : slow);
    }
  });

  it('writes instants and arrays PostgreSQL reads back', () => {
    expect(instantText(Date.UTC(2026, 11, 2, 7, 52, 18, 915))).toBe('2026-12-02T07:52:18.915Z');
    expect(instantText(Date.UTC(-1, 0, 1))).toBe('0002-01-01 00:00:00.000+00 BC');
    expect(arrayLiteral([1, null, 'a"b\\c', '{"k": 1}'])).toBe('{1,NULL,"a\\"b\\\\c","{\\"k\\": 1}"}');
  });
});
