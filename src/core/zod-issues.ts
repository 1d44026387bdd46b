import type { z } from 'zod';
import { fieldPath, type ErrorDetail } from './errors.js';

/** What a value of each type zod expects is called in a message (`must be a string`). */
const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  bigint: 'an integer',
  boolean: 'true or false',
  array: 'an array',
  tuple: 'an array',
  object: 'an object',
  record: 'an object',
  map: 'an object',
  null: 'null',
  date: 'a valid Date',
  function: 'a function',
};

/** What a string format is called in a message (`must be a UUID`). */
const FORMAT_NAMES: Readonly<Record<string, string>> = {
  datetime: 'an ISO 8601 instant',
  date: 'a date (2026-12-25)',
  time: 'a time of day',
  duration: 'an ISO 8601 duration',
  uuid: 'a UUID',
  guid: 'a UUID',
  email: 'an email address',
  url: 'a URL',
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  base64: 'base64 text',
  base64url: 'base64url text',
  json_string: 'JSON text',
};

const typeName = (expected: string) => TYPE_NAMES[expected] ?? expected;

/** `a, b or c` (`true or false, or an object`: a comma before the last when an item has its own `or`). */
function orList(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  const last = items.some((i) => i.includes(' or ')) ? ', or ' : ' or ';
  return `${items.slice(0, -1).join(', ')}${last}${items[items.length - 1]!}`;
}

/** A bound as a message shows it: an instant for a date, else the number. */
const bound = (origin: string, n: number | bigint) => (origin === 'date' ? new Date(Number(n)).toISOString() : String(n));

/** What a size counts: characters of a string, items of an array or a set. */
const UNITS: Readonly<Record<string, string>> = { string: 'characters', array: 'items', set: 'items', file: 'bytes' };

/**
 * The house wording of a problem zod found by itself (`required`, `must be a string`, `must be at
 * most 10`), in place of zod's defaults (`Invalid input: expected string, received undefined`). A
 * message a schema gives its check is not this map's: zod keeps it (a schema's own map outranks a
 * parse's). Passed as the `error` of a parse.
 */
export const houseMessage: z.core.$ZodErrorMap = (iss) => {
  // JSON has no `undefined`: the field (or query parameter) was left out.
  if (iss.input === undefined && (iss.code === 'invalid_type' || iss.code === 'invalid_value' || iss.code === 'invalid_union')) return 'required';
  switch (iss.code) {
    case 'invalid_type':
      return `must be ${typeName(iss.expected)}`;
    case 'invalid_value':
      return `must be ${orList(iss.values.map((v) => (typeof v === 'bigint' ? String(v) : JSON.stringify(v) ?? String(v))))}`;
    case 'too_big': {
      const unit = UNITS[iss.origin];
      if (unit) return iss.exact ? `must have exactly ${String(iss.maximum)} ${unit}` : `at most ${String(iss.maximum)} ${unit}`;
      if (iss.origin === 'date') return `must not be after ${bound(iss.origin, iss.maximum)}`;
      return iss.inclusive === false ? `must be less than ${String(iss.maximum)}` : `must be at most ${String(iss.maximum)}`;
    }
    case 'too_small': {
      const unit = UNITS[iss.origin];
      if (unit) {
        if (iss.exact) return `must have exactly ${String(iss.minimum)} ${unit}`;
        return Number(iss.minimum) === 1 ? 'must not be empty' : `at least ${String(iss.minimum)} ${unit}`;
      }
      if (iss.origin === 'date') return `must not be before ${bound(iss.origin, iss.minimum)}`;
      if (iss.inclusive === false) return `must be greater than ${String(iss.minimum)}`;
      return Number(iss.minimum) === 0 ? 'must not be negative' : `must be at least ${String(iss.minimum)}`;
    }
    case 'invalid_format': {
      if (iss.format === 'regex' && iss.pattern) return `must match ${iss.pattern}`;
      if (iss.format === 'starts_with') return `must start with ${JSON.stringify((iss as { prefix?: string }).prefix ?? '')}`;
      if (iss.format === 'ends_with') return `must end with ${JSON.stringify((iss as { suffix?: string }).suffix ?? '')}`;
      if (iss.format === 'includes') return `must include ${JSON.stringify((iss as { includes?: string }).includes ?? '')}`;
      return `must be ${FORMAT_NAMES[iss.format] ?? `a valid ${iss.format}`}`;
    }
    case 'not_multiple_of':
      return `must be a multiple of ${String(iss.divisor)}`;
    case 'invalid_union': {
      // Each form refused the value's type: name the types the forms take (`must be a string or a number`).
      const types = iss.errors.map((b) => b.find((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (types.length > 0 && types.every((t) => t !== undefined)) {
        return `must be ${orList([...new Set(types.map((t) => typeName((t as { expected: string }).expected)))])}`;
      }
      return 'matches none of the accepted forms';
    }
    case 'invalid_key':
      return 'has an invalid key';
    case 'invalid_element':
      return 'has an invalid value';
    case 'unrecognized_keys':
      return 'unknown field';
    default:
      return 'is not valid';
  }
};

/** Parses `input` with `schema`, any problem zod finds by itself worded as the house words it. */
export function safeParseWorded<S extends z.ZodType>(schema: S, input: unknown): z.ZodSafeParseResult<z.output<S>> {
  return schema.safeParse(input, { error: houseMessage });
}

/**
 * A failed parse's issues as error details, each path under `path`: a union's problems are those of
 * the form the input has (when one has it), each unknown key is its own `unknown field`, and a path
 * gets one detail, its first problem (`ids[0]` past 2^53 - 1 broke two checks: one is said).
 */
export function detailsOfIssues(issues: readonly z.core.$ZodIssue[], path: string): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const seen = new Set<string>();
  const push = (d: ErrorDetail) => {
    if (seen.has(d.path)) return;
    seen.add(d.path);
    details.push(d);
  };
  const add = (list: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]) => {
    for (const issue of list) {
      const at = [...prefix, ...issue.path];
      const base = fieldPath(path, at);
      // A union (`"100/1m"` or `{ count, perMs }`): the problems of the form the input has, when one has it.
      const branch = issue.code === 'invalid_union' ? unionBranchOf(issue.errors) : undefined;
      if (branch) add(branch, at);
      else if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) push({ path: base ? `${base}.${key}` : key, message: 'unknown field' });
      } else push({ path: base, message: issue.message });
    }
  };
  add(issues, []);
  return details;
}

/** Of a failed union's branches, the only one whose problems are not the input's type itself. */
function unionBranchOf(branches: ReadonlyArray<readonly z.core.$ZodIssue[]>): readonly z.core.$ZodIssue[] | undefined {
  const shaped = branches.filter((b) => b.length > 0 && !b.some((i) => i.code === 'invalid_type' && i.path.length === 0));
  return shaped.length === 1 ? shaped[0] : undefined;
}
