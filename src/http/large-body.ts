import { MAX_LINE } from '../engine/task-import.js';
import { HttpError } from './errors.js';

const HEAD = /^\s*\{\s*"tasks"\s*:\s*\[/;
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
 * longer than `maxItem` characters refused (400) and more than `maxValues` values in all (413). Returns
 * null for any other shape (another key, escapes in the key, unbalanced brackets ...): the caller
 * then parses the body in one piece and reports what is wrong with it.
 */
export async function parseTasksBody(
  text: string,
  maxDepth: number,
  { maxItem = MAX_BATCH_ITEM, maxValues = MAX_BATCH_VALUES }: { maxItem?: number; maxValues?: number } = {},
): Promise<{ tasks: unknown[] } | null> {
  const head = HEAD.exec(text.slice(0, 64));
  if (!head) return null;
  let end = text.length - 1;
  while (end >= 0 && isSpace(text.charCodeAt(end))) end--;
  if (text.charCodeAt(end) !== 125) return null; // }
  end--;
  while (end >= 0 && isSpace(text.charCodeAt(end))) end--;
  if (text.charCodeAt(end) !== 93 || end < head[0].length - 1) return null; // ]
  const tasks: unknown[] = [];
  let start = head[0].length;
  let depth = 0;
  let inString = false;
  let values = 0;
  let next = start + STEP;
  const tooLong = () =>
    new HttpError('bad_request', `tasks[${tasks.length}]: a task may be at most ${maxItem} characters of JSON`, [
      { path: `tasks[${tasks.length}]`, message: `longer than ${maxItem} characters` },
    ]);
  const take = (to: number) => {
    if (to - start > maxItem) throw tooLong();
    if (values > maxValues) {
      throw new HttpError('payload_too_large', `the batch holds more than ${maxValues} JSON values (arrays, objects and their elements); split it, or use POST /api/tasks/import`);
    }
    tasks.push(item(text.slice(start, to)));
  };
  for (let i = start; i < end; i++) {
    if (i >= next) {
      if (i - start > maxItem) throw tooLong(); // not scanned to its end
      next = i + STEP;
      await new Promise<void>((r) => setImmediate(r));
    }
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      values++;
      // The body's object and the array hold the items: an item's brackets start at level 3.
      if (++depth + 2 > maxDepth) throw new HttpError('bad_request', `JSON nested deeper than ${maxDepth} levels`);
    } else if (c === 93 || c === 125) {
      if (--depth < 0) return null;
    } else if (c === 44) {
      values++;
      if (depth === 0) {
        take(i);
        start = i + 1;
      }
    }
  }
  if (inString || depth !== 0) return null;
  if (tasks.length > 0 || text.slice(start, end).trim() !== '') take(end);
  return { tasks };
}

function item(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError('bad_request', `invalid JSON: ${(e as Error).message}`);
  }
}

const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;
