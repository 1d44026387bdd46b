import { MAX_JSON_NESTING } from '../core/json-checks.js';
import { MAX_LINE } from '../engine/task-import.js';
import { HttpError } from './errors.js';

/** Characters scanned (and items parsed) between two turns of the event loop. */
const STEP = 1 << 17;
/** One task of a batch: as long as a line of an import, so that parsing it is one short turn. */
export const MAX_BATCH_ITEM = MAX_LINE;
/**
 * JSON values in one batch (counted as the arrays and objects opened and the commas between their
 * elements). Parsed values cost memory far beyond their text (up to about 100 bytes for `[]`, 3
 * characters), and the batch is held whole: this bounds it at about the memory of the largest usual
 * batch (1,000,000 tasks of about 6 values each), so one body under the size limit cannot exhaust
 * the heap.
 */
export const MAX_BATCH_VALUES = 10_000_000;

/**
 * The body as text, decoded piece by piece as it arrives (one decode of a large body would stall the
 * event loop). Bytes that are not UTF-8 are refused (400), not replaced with U+FFFD and stored.
 */
export async function textOf(req: Request): Promise<string> {
  if (!req.body) return '';
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let text = '';
  try {
    for await (const piece of req.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(piece, { stream: true });
    return text + decoder.decode();
  } catch (e) {
    if (e instanceof TypeError && (e as { code?: string }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') throw notUtf8();
    throw e;
  }
}

/** A whole (small) body as text; bytes that are not UTF-8 are refused (400). */
export function utf8Text(bytes: ArrayBuffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw notUtf8();
  }
}

const notUtf8 = () => new HttpError('bad_request', 'the body is not valid UTF-8');

/**
 * Parses a large `{"tasks": [...]}` body a piece at a time, a turn of the event loop every 128 K characters:
 * the array is cut at its top-level commas (outside strings) and each item parsed alone, with the
 * nesting depth counted on the way (deeper than `maxDepth` levels in the whole body: 400), a task
 * longer than `maxItem` characters refused (400) and more than `maxValues` values in all (413). The
 * key may be written with escapes (`"\u0074asks"`), as JSON allows. A task that is not valid JSON, or
 * a comma with no task on one side, is refused (400) with its position in the body. Any other shape
 * (another key, more after the array, unbalanced brackets ...) returns why, in words with a position
 * where there is one: the caller then parses a small body in one piece, and refuses a large one saying so.
 */
export async function parseTasksBody(
  text: string,
  maxDepth: number,
  { maxItem = MAX_BATCH_ITEM, maxValues = MAX_BATCH_VALUES }: { maxItem?: number; maxValues?: number } = {},
): Promise<{ tasks: unknown[] } | string> {
  const head = tasksHead(text);
  if (typeof head === 'string') return head;
  let end = text.length - 1;
  while (end >= 0 && isSpace(text.charCodeAt(end))) end--;
  const last = end;
  const endsWith = () => `it does not end with "]}" (the array of tasks, then the end of the object): it ends with ${JSON.stringify(text.slice(Math.max(0, last - 19), last + 1))}`;
  if (text.charCodeAt(end) !== 125) return endsWith(); // }
  end--;
  while (end >= 0 && isSpace(text.charCodeAt(end))) end--;
  if (text.charCodeAt(end) !== 93 || end < head - 1) return endsWith(); // ]
  const tasks: unknown[] = [];
  let start = head;
  let depth = 0;
  let inString = false;
  let values = 0;
  let next = start + STEP;
  const tooLong = () =>
    new HttpError('bad_request', `tasks[${tasks.length}]: a task may be at most ${maxItem} characters of JSON`, [
      { path: `tasks[${tasks.length}]`, message: `longer than ${maxItem} characters` },
    ]);
  // Where the item being scanned begins (its first character that is not a blank), -1 before it, and
  // the last such character scanned: the blanks between items count toward no item's length.
  let first = -1;
  let solid = -1;
  const take = (to: number) => {
    let last = to - 1;
    while (last > first && isSpace(text.charCodeAt(last))) last--;
    if (first >= 0 && last + 1 - first > maxItem) throw tooLong();
    if (values > maxValues) {
      throw new HttpError('payload_too_large', `the batch holds more than ${maxValues} JSON values (arrays, objects and their elements); split it, or use POST /api/tasks/import`);
    }
    tasks.push(item(text, start, to, tasks.length, to === end));
  };
  for (let i = start; i < end; i++) {
    if (i >= next) {
      if (first >= 0 && solid + 1 - first > maxItem) throw tooLong(); // not scanned to its end
      next = i + STEP;
      await new Promise<void>((r) => setImmediate(r));
    }
    const c = text.charCodeAt(i);
    if (c > 32 || !isSpace(c)) {
      if (first < 0) first = i;
      solid = i;
    }
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      values++;
      // The body's object and the array hold the items: an item's brackets start at level 3.
      if (++depth + 2 > maxDepth) throw new HttpError('bad_request', `JSON nested deeper than ${Math.min(maxDepth, MAX_JSON_NESTING)} levels`);
    } else if (c === 93 || c === 125) {
      if (--depth < 0) {
        return c === 93
          ? `the array of tasks ends at position ${i}, and more follows it before the end of the object`
          : `an unmatched "}" at position ${i} (in tasks[${tasks.length}])`;
      }
    } else if (c === 44) {
      values++;
      if (depth === 0) {
        take(i);
        start = i + 1;
        first = -1;
      }
    }
  }
  if (inString) return `a string in tasks[${tasks.length}] (from position ${start}) is not closed`;
  if (depth !== 0) return `tasks[${tasks.length}] (from position ${start}) opens ${depth} more "[" or "{" than it closes`;
  if (tasks.length > 0 || text.slice(start, end).trim() !== '') take(end);
  return { tasks };
}

/**
 * Where the items of `{"tasks": [` start (after the `[`), or why the body does not begin so. The key is
 * compared as JSON reads it: `"\u0074asks"` is `tasks`.
 */
function tasksHead(text: string): number | string {
  let i = skipSpaces(text, 0);
  const begins = `it does not begin with {"tasks": [ (it begins with ${JSON.stringify(text.slice(i, i + 20))})`;
  if (text.charCodeAt(i) !== 123) return begins; // {
  i = skipSpaces(text, i + 1);
  if (text.charCodeAt(i) !== 34) return begins; // "
  // A key that means "tasks" is at most 32 characters (each letter escaped); a longer one is another key.
  let j = i + 1;
  while (j < text.length && j - i < 64 && text.charCodeAt(j) !== 34) j += text.charCodeAt(j) === 92 ? 2 : 1;
  let key: unknown;
  try {
    key = JSON.parse(text.slice(i, j + 1));
  } catch {
    key = undefined;
  }
  if (typeof key !== 'string') return `its first key is not a valid JSON string (it begins ${JSON.stringify(text.slice(i, i + 20))})`;
  if (key !== 'tasks') return `its first key is ${JSON.stringify(key)}, not "tasks"`;
  i = skipSpaces(text, j + 1);
  if (text.charCodeAt(i) !== 58) return `no ":" after the key "tasks" (at position ${i})`; // :
  i = skipSpaces(text, i + 1);
  if (text.charCodeAt(i) !== 91) return `"tasks" does not hold an array (at position ${i})`; // [
  return i + 1;
}

function skipSpaces(text: string, from: number): number {
  let i = from;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Parses tasks[n], the text from `start` to `to` (a comma, or the array's end when `last`): what is
 * wrong with it is said with positions in the whole body, as JSON.parse of the whole body would.
 */
function item(text: string, start: number, to: number, n: number, last: boolean): unknown {
  const piece = text.slice(start, to);
  if (piece.trim() === '') {
    throw new HttpError(
      'bad_request',
      last && n > 0
        ? `invalid JSON: a comma at position ${start - 1} with no task after it (a trailing comma in "tasks")`
        : `invalid JSON: a comma at position ${to} with no task before it (in "tasks")`,
    );
  }
  try {
    return JSON.parse(piece);
  } catch (e) {
    const message = (e as Error).message;
    const at = / at position (\d+)(?: \(line \d+ column \d+\))?/.exec(message);
    if (at) throw new HttpError('bad_request', `invalid JSON: ${message.replace(at[0], ` at position ${start + Number(at[1])}`)} (in tasks[${n}])`);
    throw new HttpError('bad_request', `invalid JSON: ${message} (in tasks[${n}], at positions ${start}-${to - 1})`);
  }
}

const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;
