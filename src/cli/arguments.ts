import { inexactJsonProblem, UsageError } from './common.js';

const KWARG = /^([A-Za-z_][A-Za-z0-9_.-]*)=([\s\S]*)$/;

/**
 * `task add` positionals: `KEY=VALUE` pairs become kwargs, everything else args. A value that is valid
 * JSON is parsed (`n=2` is a number, `tags=["a"]` an array); other text stays a string; a value that
 * starts with `{` or `[` but is not valid JSON is an error, and so is JSON holding an integer written
 * beyond ±(2^53−1) anywhere in it (core/exact-json.ts): it would be stored rounded, not as typed.
 */
export function parseTaskArguments(tokens: readonly string[]): { args: unknown[]; kwargs: Record<string, unknown> } {
  const args: unknown[] = [];
  const kwargs: Record<string, unknown> = {};
  for (const token of tokens) {
    const m = KWARG.exec(token);
    if (m) {
      if (m[1] === '__proto__') throw new UsageError('argument __proto__: not accepted as a keyword (it would be dropped)');
      if (Object.hasOwn(kwargs, m[1]!)) throw new UsageError(`argument ${m[1]}: given twice`);
      kwargs[m[1]!] = parseValue(m[2]!, `argument ${m[1]}`, (quoted) => `${m[1]}=${quoted}`);
    } else args.push(parseValue(token, `argument ${args.length + 1}`, (quoted) => quoted));
  }
  return { args, kwargs };
}

/** `token` writes the token that passes a value as text (`"123"`, `k="123"`), for the hint. */
function parseValue(text: string, what: string, token: (quoted: string) => string): unknown {
  const t = text.trim();
  if (t === '') return text;
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch (e) {
    if (t.startsWith('{') || t.startsWith('[')) throw new UsageError(`${what}: invalid JSON ${JSON.stringify(text)}: ${(e as Error).message}`);
    return text;
  }
  const problem = inexactJsonProblem(t, token);
  if (problem) throw new UsageError(`${what}: ${problem}`);
  return value;
}
