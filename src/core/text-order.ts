/**
 * Text in code point order: the order of PostgreSQL's `COLLATE "C"` and SQLite's `BINARY` on UTF-8,
 * which every listing by name follows (docs/postgres.md). JavaScript's `<` and `sort()` compare UTF-16
 * units instead, which put a character above U+FFFF (an emoji, two surrogates) before U+E000–U+FFFF
 * (`ｚ`, U+FF5A).
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return inCodePointOrder(x) - inCodePointOrder(y);
  }
  return a.length - b.length;
}

/** A UTF-16 unit moved so that units compare in code point order: surrogates after U+E000–U+FFFF. */
function inCodePointOrder(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}
