/**
 * The claim of due tasks on SQLite reads its rows in raw mode and names their columns in dueRow
 * (sqlite-queries.ts): the names and their order must be the statement's own, or a claimed task
 * would silently carry a wrong field.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/store/sqlite/sqlite-connection.js';
import { DUE_OF_TYPE_SQL, dueRow } from '../../src/store/sqlite/sqlite-queries.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

describe('dueRow', () => {
  it('names the columns of the due-task statement in its order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-due-row-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const db = openSqlite(join(dir, 'orrery.db'));
    cleanups.push(() => db.close());
    const columns = db.prepare(DUE_OF_TYPE_SQL).columns().map((c) => c.name);
    const row = dueRow(columns.map((_, i) => i));
    expect(Object.keys(row)).toEqual(columns);
    expect(Object.values(row)).toEqual(columns.map((_, i) => i));
  });
});
