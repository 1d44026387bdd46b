/**
 * How a value stored by the SQLite store becomes the value the PostgreSQL store keeps in a column of
 * the same name, and back (docs/operations.md, "Moving from SQLite to PostgreSQL"). SQLite keeps
 * instants as epoch milliseconds, booleans as 0 / 1, JSON and the workers' type lists as text;
 * PostgreSQL keeps timestamptz, boolean, jsonb / json and text[]. Each PostgreSQL column type the
 * schema uses has its rule both ways; a type without one is refused, so a new column cannot be
 * copied by guess.
 */

/** A value that cannot be copied: the copy names the table, row and column with it. */
export class CopyValueError extends Error {}

type Convert = (v: unknown) => unknown;

const number: Convert = (v) => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return v.toString();
  throw new CopyValueError(`${show(v)} is not a number`);
};

const text: Convert = (v) => {
  if (typeof v === 'string') return v;
  throw new CopyValueError(`${show(v)} is not text`);
};

const json: Convert = (v) => {
  if (typeof v !== 'string') throw new CopyValueError(`${show(v)} is not JSON text`);
  try {
    JSON.parse(v);
  } catch (e) {
    throw new CopyValueError(`${show(v)} is not valid JSON (${(e as Error).message})`);
  }
  return v;
};

/** By the column's type as PostgreSQL names it (information_schema.columns.udt_name). */
const RULES: Record<string, Convert> = {
  timestamptz: (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new CopyValueError(`${show(v)} is not an instant in epoch milliseconds`);
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) throw new CopyValueError(`${show(v)} is out of the range of instants`);
    return d;
  },
  bool: (v) => {
    if (v === 0 || v === 1) return v === 1;
    if (typeof v === 'boolean') return v;
    throw new CopyValueError(`${show(v)} is not a boolean (0 or 1)`);
  },
  jsonb: json,
  json,
  _text: (v) => {
    const list = typeof v === 'string' ? tryParse(v) : undefined;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new CopyValueError(`${show(v)} is not a JSON list of strings`);
    return list;
  },
  text,
  uuid: text,
  int2: number,
  int4: number,
  int8: number,
  float4: number,
  float8: number,
  numeric: number,
};

/** The conversion for a PostgreSQL column type, or null when the copy has none. */
export function converterFor(udtName: string): Convert | null {
  const rule = RULES[udtName];
  if (!rule) return null;
  return (v) => (v === null || v === undefined ? null : rule(v));
}

function tryParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function show(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? `${v}` : v instanceof Uint8Array ? `a blob of ${v.length} bytes` : String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Back, by the PostgreSQL column's type: what the pg driver reads (Date, boolean, parsed JSON, arrays, numbers) as the SQLite store keeps it. */
const BACK: Record<string, Convert> = {
  timestamptz: (v) => {
    if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw new CopyValueError(`${show(v)} is not an instant`);
    return v.getTime();
  },
  bool: (v) => {
    if (typeof v !== 'boolean') throw new CopyValueError(`${show(v)} is not a boolean`);
    return v ? 1 : 0;
  },
  // The driver parses json and jsonb; the SQLite store keeps their text.
  jsonb: (v) => JSON.stringify(v),
  json: (v) => JSON.stringify(v),
  _text: (v) => {
    if (!Array.isArray(v)) throw new CopyValueError(`${show(v)} is not a list`);
    return JSON.stringify(v);
  },
  text,
  uuid: text,
  int2: number,
  int4: number,
  int8: (v) => (typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : number(v)),
  float4: number,
  float8: number,
  numeric: (v) => (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : number(v)),
};

/** The conversion of a PostgreSQL column's values to the SQLite store's, or null when the copy has none. */
export function sqliteValueFor(udtName: string): Convert | null {
  const rule = BACK[udtName];
  if (!rule) return null;
  return (v) => (v === null || v === undefined ? null : rule(v));
}
