import { describe, expect, it } from 'vitest';
import { displayWidth, oneLine, padColumns, terminalText, truncateColumns } from './terminal-text.js';

const HOSTILE = 'A\u001b]0;PWNED\u0007\u001b[2J\rXX\bY\nNL\tTAB\u202eRTL\u009b31m\u007f';

describe('text for a terminal', () => {
  it('shows every control character escaped: ESC, BEL, CR, BS, DEL, the C1 CSI and bidi overrides; output keeps its newlines and tabs', () => {
    expect(terminalText(HOSTILE)).toBe('A\\u001b]0;PWNED\\u0007\\u001b[2J\\rXX\\u0008Y\nNL\tTAB\\u202eRTL\\u009b31m\\u007f');
    expect(oneLine(HOSTILE)).toBe('A\\u001b]0;PWNED\\u0007\\u001b[2J\\rXX\\u0008Y\\nNL\\tTAB\\u202eRTL\\u009b31m\\u007f');
    // Printable text of any script is left alone.
    expect(terminalText('漢字 é́ 😀 naïve')).toBe('漢字 é́ 😀 naïve');
  });

  it('measures terminal columns: wide CJK and emoji 2, combining and zero-width marks 0', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('漢字')).toBe(4);
    expect(displayWidth('😀x')).toBe(3);
    expect(displayWidth('é́́x')).toBe(2);
    expect(displayWidth('z\u200b\u200bz')).toBe(2);
    expect(padColumns('漢字', 6)).toBe('漢字  ');
  });

  it('cuts to columns with …, never inside a surrogate pair', () => {
    expect(truncateColumns('😀'.repeat(30), 9)).toBe('😀😀😀😀…');
    expect(truncateColumns('abcdef', 4)).toBe('abc…');
    expect(truncateColumns('abc', 3)).toBe('abc');
    expect(truncateColumns('😀'.repeat(30), 9)).not.toContain('\ufffd');
  });
});
