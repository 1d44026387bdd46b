import { UsageError } from './common.js';

const KWARG = /^([A-Za-z_][A-Za-z0-9_.-]*)=([\s\S]*)$/;

/**
 * `task add` positionals: `KEY=VALUE` pairs become kwargs, everything else args. A value that is valid
 * JSON is parsed (`n=2` is a number, `tags=["a"]` an array); other text stays a string; a value that
 * starts with `{` or `[` but is not valid JSON is an error.
 */
export function parseTaskArguments(tokens: readonly string[]): { args: unknown[]; kwargs: Record<string, unknown> } {
  const args: unknown[] = [];
  const kwargs: Record<string, unknown> = {};
  for (const token of tokens) {
    const m = KWARG.exec(token);
    if (m) {
      if (m[1] === '__proto__') throw new UsageError('argument __proto__: not accepted as a keyword (it would be dropped)');
      if (Object.hasOwn(kwargs, m[1]!)) throw new UsageError(`argument ${m[1]}: given twice`);
      kwargs[m[1]!] = parseValue(m[2]!, `argument ${m[1]}`);
    } else args.push(parseValue(token, `argument ${args.length + 1}`));
  }
  return { args, kwargs };
}

function parseValue(text: string, what: string): unknown {
  const t = text.trim();
  if (t === '') return text;
  try {
    return JSON.parse(t);
  } catch (e) {
    if (t.startsWith('{') || t.startsWith('[')) throw new UsageError(`${what}: invalid JSON ${JSON.stringify(text)}: ${(e as Error).message}`);
    return text;
  }
}
