/**
 * Column readers shared by every store's row mappers: SQLite gives numbers and JSON text,
 * PostgreSQL Dates and parsed JSON. A leaf module, so any mapper can import it without a cycle.
 */

/** A database row (snake_case columns). */
export type Row = Record<string, unknown>;

export const ms = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
export const date = (v: unknown): Date => (v instanceof Date ? v : new Date(ms(v)));
export const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : ms(v));
export const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));
