/**
 * Integers that JSON text holds and a parsed value does not: `JSON.parse` reads every number as a
 * double, which keeps integers exactly only up to ±(2^53−1). `9007199254740993` is read as
 * 9007199254740992, `12345678901234567890` as 12345678901234567168. The CLI refuses such text rather
 * than store another number than the one typed (docs/cli.md). A number written with a fraction or an
 * exponent (`1.5`, `1e30`) is a floating-point number, read as the nearest double as JSON reads it
 * everywhere: only whole numbers written in digits are held to this.
 */

/** The largest integer a parsed JSON number keeps exactly: 2^53−1. */
export const MAX_EXACT_INTEGER = Number.MAX_SAFE_INTEGER;

/** An integer written in JSON text that parsing would round: where it is, as written, and what it would become. */
export interface InexactInteger {
  /** `''` for the value itself, else `[1]`, `.a.b`, `["a b"]` (a key that is not a plain name is quoted). */
  path: string;
  /** The integer as written (`12345678901234567890`). */
  written: string;
  /** What JSON.parse reads it as, in full (`12345678901234567168`, or `Infinity` past any double). */
  readAs: string;
}

const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;

type Level = { index: number } | { key: string; atKey: boolean };

/**
 * The first integer (in the order written) of valid JSON text that is beyond ±(2^53−1): written in
 * digits only (no fraction, no exponent), it would be read as another number. Null when there is none.
 * `text` must be valid JSON (parse it first); the scan keeps no recursion, so any depth is checked.
 */
export function firstInexactInteger(text: string, opts: { onlyRounded?: boolean } = {}): InexactInteger | null {
  const levels: Level[] = [];
  const path = () => levels.map((l) => ('index' in l ? `[${l.index}]` : /^[A-Za-z_$][\w$-]*$/.test(l.key) ? `.${l.key}` : `[${JSON.stringify(l.key)}]`)).join('');
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    const top = levels[levels.length - 1];
    if (c === 34) {
      // A string: skip it; an object's key is kept for the path.
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 34) j += text.charCodeAt(j) === 92 ? 2 : 1;
      if (top && 'atKey' in top && top.atKey) top.key = JSON.parse(text.slice(i, j + 1)) as string;
      i = j + 1;
      continue;
    }
    if (c === 45 || (c >= 48 && c <= 57)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text)!;
      const n = Number(m[0]);
      // onlyRounded: an integer past 2^53−1 that a double holds exactly (2^60, as JSON.stringify writes it) is kept.
      if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(n) && !(opts.onlyRounded && Number.isFinite(n) && BigInt(m[0]) === BigInt(n))) {
        return { path: path(), written: m[0], readAs: Number.isFinite(n) ? BigInt(n).toString() : String(n) };
      }
      i += m[0].length;
      continue;
    }
    if (c === 123) levels.push({ key: '', atKey: true }); // {
    else if (c === 91) levels.push({ index: 0 }); // [
    else if (c === 125 || c === 93) levels.pop(); // } ]
    else if (c === 58 && top && 'atKey' in top) top.atKey = false; // :
    else if (c === 44 && top) {
      // ,
      if ('index' in top) top.index++;
      else top.atKey = true;
    }
    i++;
  }
  return null;
}

/**
 * What is wrong with such an integer, in words: `the number 12345678901234567890 at ids[1] cannot be
 * kept exactly (JSON numbers keep integers up to ±9007199254740991; it would be read as 12345678901234567168)`.
 */
export function inexactIntegerMessage(found: InexactInteger): string {
  const at = found.path === '' ? '' : ` at ${found.path.replace(/^\./, '')}`;
  // A power of two (2^60) is read back as written: past ±2^53−1 it is refused all the same.
  if (found.readAs === found.written) return `the number ${found.written}${at} is past the integers JSON numbers keep exactly (up to ±${MAX_EXACT_INTEGER}): beyond them every integer is refused, even one a double happens to hold`;
  return `the number ${found.written}${at} cannot be kept exactly (JSON numbers keep integers up to ±${MAX_EXACT_INTEGER}; it would be read as ${found.readAs})`;
}

/** Digits enough to reach past 2^53−1: a cheap test before the scan (most texts hold no such run). */
const LONG_DIGITS = /\d{16}/;

/**
 * The problem of JSON text that holds an integer parsing would change, as an error detail: its path
 * (`tasks[0].arguments.args[1]`, or `''` for the value itself) and what is wrong with it, ending with
 * how to send it instead. Null when there is none. `text` must be valid JSON.
 */
export function inexactIntegerDetail(text: string): { path: string; message: string } | null {
  if (!LONG_DIGITS.test(text)) return null;
  // Only one parsing would change: a JavaScript client writes a large double (2^60) in digits, and
  // reading it back gives the same number.
  const found = firstInexactInteger(text, { onlyRounded: true });
  if (!found) return null;
  const message = `the number ${found.written} cannot be kept exactly (JSON numbers keep integers up to ±${MAX_EXACT_INTEGER}; it would be read as ${found.readAs}); send it as a JSON string ("${found.written}")`;
  return { path: found.path.replace(/^\./, ''), message };
}
