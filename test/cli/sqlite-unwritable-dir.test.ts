/**
 * A new SQLite database in a directory this process may not write (guarantees.md, "A read-only
 * database"): exit 1 saying it is read-only for this process and what it must be able to write (it
 * said only SQLite's `unable to open database file`). Root may write anywhere: as root the CLI runs as
 * user nobody (setpriv), otherwise in a directory made unwritable.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { BIN, removeTempDirs, tempDir } from './cli-helpers.js';

afterAll(removeTempDirs);

test('a new database file in a directory the process may not write: exit 1, read-only, naming what it must write', () => {
  const base = tempDir();
  chmodSync(base, 0o755); // others may reach the directory below (mkdtemp makes it 700)
  const dir = join(base, 'ro');
  mkdirSync(dir);
  chmodSync(dir, 0o555);
  const file = join(dir, 'new.db');
  const asRoot = process.getuid?.() === 0;
  const argv = [BIN, '--db', `sqlite:${file}`, 'task-type', 'add', 'a'];
  const r = asRoot
    ? spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...argv], { encoding: 'utf8', cwd: '/' })
    : spawnSync(process.execPath, argv, { encoding: 'utf8' });
  chmodSync(dir, 0o755);
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr.trim()).toMatch(
    new RegExp(`^orrery: cannot open database ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: it is read-only for this process \\(SQLITE_CANTOPEN: unable to open database file; the file does not exist and its directory may not be written\\): it must be able to write its directory`),
  );
  expect(existsSync(file)).toBe(false);
});
