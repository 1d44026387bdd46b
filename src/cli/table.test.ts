import { describe, expect, it } from 'vitest';
import { displayWidth } from '../core/terminal-text.js';
import { table, truncate } from './common.js';

describe('table', () => {
  it('a table keeps one line a row and its columns aligned, whatever its cells hold', () => {
    let out = '';
    table({ out: (s) => (out += s), err: () => {} }, ['NAME', 'HOST', 'STATE'], [['漢字漢字', 'a\nb', 'ok'], ['x', 'plain', 'ok'], ['é́́', '😀😀', 'ok']]);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    // STATE starts in the same terminal column on every line.
    const column = (l: string) => displayWidth(l.slice(0, l.lastIndexOf('ok') === -1 ? l.indexOf('STATE') : l.lastIndexOf('ok')));
    expect(new Set(lines.map(column)).size).toBe(1);
    expect(lines[1]).toContain('a\\nb');
  });

  it('a cut cell is at most its width as shown: a newline counts as the two columns of \\n', () => {
    const cut = truncate(`${'line\n'.repeat(20)}end`, 50);
    expect(displayWidth(cut)).toBeLessThanOrEqual(50);
    expect(cut).toMatch(/^line\\nline\\n.*…$/);
  });
});
