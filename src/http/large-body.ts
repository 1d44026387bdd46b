import { HttpError } from './errors.js';

const HEAD = /^\s*\{\s*"tasks"\s*:\s*\[/;
/** Characters scanned (and items parsed) between two turns of the event loop. */
const STEP = 1 << 17;

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
 * nesting depth counted on the way (deeper than `maxDepth` levels in the whole body: 400). Returns
 * null for any other shape (another key, escapes in the key, unbalanced brackets ...): the caller
 * then parses the body in one piece and reports what is wrong with it.
 */
export async function parseTasksBody(text: string, maxDepth: number): Promise<{ tasks: unknown[] } | null> {
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
  let next = start + STEP;
  for (let i = start; i < end; i++) {
    if (i >= next) {
      next = i + STEP;
      await new Promise<void>((r) => setImmediate(r));
    }
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      // The body's object and the array hold the items: an item's brackets start at level 3.
      if (++depth + 2 > maxDepth) throw new HttpError('bad_request', `JSON nested deeper than ${maxDepth} levels`);
    } else if (c === 93 || c === 125) {
      if (--depth < 0) return null;
    } else if (c === 44 && depth === 0) {
      tasks.push(item(text.slice(start, i)));
      start = i + 1;
    }
  }
  if (inString || depth !== 0) return null;
  const last = text.slice(start, end);
  if (tasks.length > 0 || last.trim() !== '') tasks.push(item(last));
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
