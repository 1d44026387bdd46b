/**
 * Text the CLI shows on a terminal, from data anyone may have written (a task's arguments, a
 * handler's error, a log line, a worker's host): control characters are shown as escapes, never
 * sent raw, so a value cannot retitle the terminal, clear the screen, move the cursor (ESC, the C1
 * CSI), overwrite a line (CR, backspace) or reverse the text around it (bidi overrides); and table
 * cells are measured in terminal columns, so wide and combining characters keep columns aligned.
 */

/** Characters never written raw: C0 controls but tab and newline, DEL, C1 controls, bidi embeddings, overrides and isolates. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/** The same, with tab and newline: a cell or a one-line value holds no line break. */
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escape(c: string): string {
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** Output as written to the terminal: every unsafe character escaped (`\u001b`, `\r`); newlines and tabs kept. */
export function terminalText(s: string): string {
  return s.replace(UNSAFE, escape);
}

/** One line of a value: unsafe characters, newlines and tabs escaped (`\n`, `\t`). */
export function oneLine(s: string): string {
  return s.replace(UNSAFE_IN_LINE, escape);
}

// Zero columns: combining marks, zero-width spaces and joiners, variation selectors, soft hyphen.
const ZERO = /^[\p{Mn}\p{Me}\u200b-\u200f\u2060-\u2064\ufe00-\ufe0f\ufeff\u00ad]$/u;
// Two columns: East Asian wide and fullwidth ranges, and emoji shown as pictographs.
const WIDE = /^[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]$/u;

/** Terminal columns of one code point. */
function columns(ch: string): number {
  if (ZERO.test(ch)) return 0;
  if (WIDE.test(ch) || (ch.length === 2 && /\p{Extended_Pictographic}/u.test(ch))) return 2;
  return 1;
}

/** The columns a string takes on a terminal (an approximation of wcwidth: wide CJK and emoji 2, combining marks 0). */
export function displayWidth(s: string): number {
  // ASCII, the common case, is one column a character.
  if (/^[\x20-\x7e]*$/.test(s)) return s.length;
  let w = 0;
  for (const ch of s) w += columns(ch);
  return w;
}

/** `s` padded with spaces to `width` columns. */
export function padColumns(s: string, width: number): string {
  const w = displayWidth(s);
  return w >= width ? s : s + ' '.repeat(width - w);
}

/** `s` cut to at most `n` columns, ending `…` when cut; never inside a character (a surrogate pair). */
export function truncateColumns(s: string, n: number): string {
  if (displayWidth(s) <= n) return s;
  let out = '';
  let w = 0;
  for (const ch of s) {
    const c = columns(ch);
    if (w + c > n - 1) break;
    out += ch;
    w += c;
  }
  return `${out}…`;
}
