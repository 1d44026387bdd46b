import { describe, expect, it } from 'vitest';
import { firstInexactInteger, inexactIntegerMessage } from './exact-json.js';

describe('firstInexactInteger', () => {
  it('finds the first integer written past ±(2^53-1), with its path, as written and as it would be read', () => {
    expect(firstInexactInteger('9007199254740993')).toEqual({ path: '', written: '9007199254740993', readAs: '9007199254740992' });
    expect(firstInexactInteger('-9007199254740992')).toEqual({ path: '', written: '-9007199254740992', readAs: '-9007199254740992' });
    expect(firstInexactInteger('[1, {"a": [2, 12345678901234567890]}, 9007199254740993]')).toEqual({ path: '[1].a[1]', written: '12345678901234567890', readAs: '12345678901234567168' });
    // Keys: escapes decoded, a key that is not a plain name quoted; strings skipped whatever they hold.
    expect(firstInexactInteger('{"x":"[1,99999999999999999999]","\\u0061 b":{"c\\"":[0,{"d":99999999999999999999}]}}')?.path).toBe('["a b"]["c\\""][1].d');
    expect(firstInexactInteger('{"x":"\\\\","y":[true,null,{"z":99999999999999999999}]}')?.path).toBe('.y[2].z');
    // After a nested value closes, the next key and index are counted right.
    expect(firstInexactInteger('{"a":{"b":[1,2]},"c":[[],[3],99999999999999999999]}')?.path).toBe('.c[2]');
    expect(firstInexactInteger(`[${'9'.repeat(400)}]`)).toMatchObject({ path: '[0]', readAs: 'Infinity' });
    expect(firstInexactInteger(`${'['.repeat(50_000)}99999999999999999999${']'.repeat(50_000)}`)?.path).toBe('[0]'.repeat(50_000));
  });

  it('leaves integers up to ±(2^53-1) and numbers written with a fraction or an exponent (floating-point) alone', () => {
    for (const text of ['9007199254740991', '-9007199254740991', '[0,-0,1.5e300,1e30,12345678901234567890.5,9007199254740993e0]', '"12345678901234567890"', '{"12345678901234567890":1}', 'null']) {
      expect(firstInexactInteger(text)).toBeNull();
    }
  });

  it('says what would happen and where', () => {
    expect(inexactIntegerMessage(firstInexactInteger('{"ids":[12345678901234567890]}')!)).toBe(
      'the number 12345678901234567890 at ids[0] cannot be kept exactly (JSON numbers keep integers up to ±9007199254740991; it would be read as 12345678901234567168)',
    );
    // 2^60 reads back as written: the message does not claim it would change (differential audit).
    expect(inexactIntegerMessage(firstInexactInteger('{"n":1152921504606846976}')!)).toBe(
      'the number 1152921504606846976 at n is past the integers JSON numbers keep exactly (up to ±9007199254740991): beyond them every integer is refused, even one a double happens to hold',
    );
  });
});
