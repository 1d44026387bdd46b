import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { assertStorable, findTextProblem, isStorableText, storableText, textProblem } from './storable.js';

describe('text both stores can hold', () => {
  it('refuses NUL and lone surrogates, accepts everything else including surrogate pairs', () => {
    for (const ok of ['', 'a', 'é', '😀', '\ud83d\ude00', 'a\u0001b', '\uffff', '\ud7ff', '\ue000', 'line\nbreak']) expect(isStorableText(ok), JSON.stringify(ok)).toBe(true);
    for (const bad of ['\u0000', 'a\u0000', '\ud800', 'x\udbff', '\udc00', 'a\udfffb', '\ude00\ud83d', '😀\ud800', '\ud800\ud800']) expect(isStorableText(bad), JSON.stringify(bad)).toBe(false);
    expect(textProblem('a\u0000\ud800')).toMatch(/NUL/);
    expect(textProblem('\ud800')).toMatch(/surrogate/);
  });

  it('names the first bad string or key in a value by its path, keys escaped', () => {
    expect(findTextProblem({ args: [1, 'ok', 'x\u0000'] }, 'arguments')).toEqual({ path: 'arguments.args[2]', message: expect.stringMatching(/NUL/) });
    expect(findTextProblem({ kwargs: { 'a\u0000': 1 } }, 'arguments')).toEqual({ path: 'arguments.kwargs["a\\u0000"]', message: expect.stringMatching(/^key .*NUL/) });
    expect(findTextProblem({ a: [{ b: '\udc00' }] }, '')).toEqual({ path: 'a[0].b', message: expect.stringMatching(/surrogate/) });
    expect(findTextProblem({ a: [1, null, true, new Date(0), { b: '😀' }] }, 'x')).toBeNull();
    expect(() => assertStorable(['\u0000'], 'ids')).toThrow(ValidationError);
  });

  it('storableText replaces NUL and lone surrogates with U+FFFD and keeps pairs', () => {
    expect(storableText('a\u0000b\ud800c😀\udc00')).toBe('a\ufffdb\ufffdc😀\ufffd');
    expect(storableText('plain')).toBe('plain');
    expect(isStorableText(storableText('\ud800\u0000\udfff\ud83d'))).toBe(true);
  });
});
