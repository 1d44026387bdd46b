/** `orrery copy --to postgres://...` (docs/cli.md#orrery-copy): the CLI side of the SQLite-to-PostgreSQL copy. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { createTestDatabase } from '../support/postgres.js';
import { removeTempDirs, runCli, runJson, runOk, tempDb, tempDir } from './cli-helpers.js';

afterAll(removeTempDirs);

describe('orrery copy', () => {
  it('copies a SQLite database into PostgreSQL, where every command then reads it; a second copy is refused', async () => {
    const { db } = tempDb();
    await runOk(['task-type', 'add', 'mail', '--default-interval', '1h', ...db]);
    await runOk(['task', 'add', 'mail', 'a@example.org', '--policy', 'oneshot', ...db]);
    await runOk(['task', 'add', 'mail', 'b@example.org', ...db]);
    const target = await createTestDatabase('cli-copy');
    const pgDb = ['--db', target.url];
    const r = await runCli(['copy', '--to', target.url, ...db]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^copied \d+ rows of \d+ tables from .*x\.db to postgres:\/\/.* \(\d+\.\d s\)\n$/);
    expect(r.stderr).toContain('copied tasks: 2 rows\n');
    expect(r.stderr).toContain('copied task_types: 1 row\n');
    const listed = await runJson<Array<{ arguments: { args: string[] } }>>(['task', 'list', '--json', ...pgDb]);
    expect(listed.map((t) => t.arguments.args[0]).sort()).toEqual(['a@example.org', 'b@example.org']);
    expect(await runOk(['task', 'add', 'mail', 'c@example.org', ...pgDb])).toMatch(/created task 3\b/);

    const again = await runCli(['copy', '--to', target.url, '--json', ...db]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^orrery: the PostgreSQL database already holds Orrery data \(in task_types, tasks\): the copy fills an empty database only\n$/);
    await target.drop();
  });

  it('and back: a PostgreSQL database into a new SQLite file, which every command then reads', async () => {
    const { db } = tempDb();
    await runOk(['task-type', 'add', 'mail', '--default-interval', '1h', ...db]);
    await runOk(['task', 'add', 'mail', 'a@example.org', '--policy', 'oneshot', ...db]);
    const pg = await createTestDatabase('cli-copy-back');
    await runOk(['copy', '--to', pg.url, '--json', ...db]);
    await runOk(['task', 'add', 'mail', 'b@example.org', '--db', pg.url]);
    const back = join(tempDir(), 'back.db');
    const r = await runCli(['copy', '--db', pg.url, '--to', `sqlite:${back}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^copied \\d+ rows of \\d+ tables from postgres://postgres:\\*\\*\\*@.* to ${back.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(\\d+\\.\\d s\\)\n$`));
    const listed = await runJson<Array<{ arguments: { args: string[] } }>>(['task', 'list', '--json', '--db', `sqlite:${back}`]);
    expect(listed.map((t) => t.arguments.args[0]).sort()).toEqual(['a@example.org', 'b@example.org']);
    const again = await runCli(['copy', '--db', pg.url, '--to', `sqlite:${back}`]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^orrery: the SQLite database already holds Orrery data \(in task_types, tasks\): the copy fills an empty database only\n$/);
    await pg.drop();
  });

  it('--json prints the summary; a live worker is refused (exit 2) unless --ignore-workers', async () => {
    const { db, path } = tempDb();
    await runOk(['task-type', 'add', 'mail', '--default-interval', '1h', ...db]);
    const o = await openOrrery({ db: `sqlite:${path}` });
    await o.registerWorker({ id: 'still-here', host: 'h', pid: 1, types: ['mail'], concurrency: 1 });
    await o.close();
    const target = await createTestDatabase('cli-copy-json');
    const refused = await runCli(['copy', '--to', target.url, ...db]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^orrery: 1 worker is alive on the SQLite database \(still-here\): stop every Orrery process using it first, or its later writes are lost \(a worker seen in the last 30 s counts as alive\): --ignore-workers copies anyway\n$/);
    expect(refused.stdout).toBe('');
    const s = await runJson<{ from: string; to: string; tables: Array<{ table: string; rows: number }>; rows: number; heldRuns: number }>(['copy', '--to', target.url, '--json', '--ignore-workers', ...db]);
    expect(s.tables.find((t) => t.table === 'task_types')).toEqual({ table: 'task_types', rows: 1 });
    expect(s).toMatchObject({ rows: 2, heldRuns: 0 });
    expect(s.tables.find((t) => t.table === 'workers')).toEqual({ table: 'workers', rows: 1 });
    expect(s.to).not.toContain(':pw@');
    await target.drop();
  });

  it('bad arguments exit 2 naming the problem, and create no database', async () => {
    const dir = tempDir();
    const missing = join(dir, 'nope.db');
    const cases: Array<[string[], RegExp]> = [
      [['copy', '--db', `sqlite:${missing}`, '--to', 'postgres://u@127.0.0.1:1/x'], /^orrery: --db: no database at .*nope\.db\n$/],
      [['copy', '--db', 'sqlite::memory:', '--to', 'postgres://u@127.0.0.1:1/x'], /^orrery: --db: the copy reads a SQLite database file, not "sqlite::memory:"\n$/],
      [['copy', '--db', 'postgres://u@127.0.0.1:1/x', '--to', 'postgres://u@127.0.0.1:1/y'], /^orrery: --to: from PostgreSQL the copy fills a SQLite file \(sqlite:PATH\), not "postgres:\/\/u@127.0.0.1:1\/y"\n$/],
      [['copy', '--db', 'postgres://u@127.0.0.1:1/x', '--to', 'sqlite::memory:'], /^orrery: --to: the copy fills a SQLite database file, not "sqlite::memory:"\n$/],
      [['copy', '--db', 'mysql://u@h/x', '--to', 'sqlite:./y.db'], /^orrery: --db: mysql:\/\/u@h\/x is neither a SQLite file nor a PostgreSQL database/],
      [['copy', '--db', `sqlite:${missing}`, '--to', 'sqlite:./other.db'], /^orrery: --to: from SQLite the copy fills a PostgreSQL database \(postgres:\/\/...\), not "sqlite:.\/other.db"\n$/],
      [['copy', '--db', `sqlite:${missing}`], /required option '--to <url>' not specified/],
      [['copy', '--db', `sqlite:${dir}`, '--to', 'postgres://u@127.0.0.1:1/x'], /^orrery: --db: .* is a directory\n$/],
      [['copy', '--to', 'postgres://u@127.0.0.1:1/x'], /^orrery: the default --db: no database at \.\/orrery\.db\n$/],
      [['copy', '--db', `sqlite:${missing}`, '--to', 'postgres://u:secret@h:99999/db'], /^orrery: --to: "postgres:\/\/u:\*\*\*@h:99999\/db" is not a valid PostgreSQL URL/],
      [['copy', '--to', 'postgres://u@127.0.0.1:1/x', '--at', 'someday', '--db', `sqlite:${missing}`], /--at/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { cwd: dir });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect(existsSync(missing)).toBe(false);
  });
});
