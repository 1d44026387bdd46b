import { createReadStream, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { createHttpApp } from '../../src/http/app.js';
import { startHttpServer } from '../../src/http/server.js';
import { OrreryClient } from '../../src/http/client.js';
import { main } from '../../src/cli/main.js';
import { createTestDatabase } from '../support/postgres.js';
import { BIN, removeTempDirs, runCli, tempDb, tempDir } from './cli-helpers.js';

afterAll(removeTempDirs);

const N = 4500;
const line = (i: number, extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'mail', arguments: { args: [`u${i}`] }, ...extra });
/** An NDJSON file of N tasks (and a blank line), with `bad` as line 3001 when given. */
function file(bad?: string): string {
  const lines = Array.from({ length: N }, (_, i) => line(i));
  if (bad !== undefined) lines.splice(3000, 0, bad);
  lines.splice(10, 0, '');
  const path = join(tempDir(), 'tasks.jsonl');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}
/** Progress lines of the write phase (a slow run prints some every 5 s, a terminal every 0.1 s) count the chunks written, one task a line here, and say they are uncommitted. */
function writtenLinesAreHonest(stderr: string): void {
  for (const m of stderr.matchAll(/^(?:\[[=> ]{24}\] +\d+% )?written ([\d,]+) lines? \(([\d,]+) tasks?(.*)\), /gm)) {
    expect(m[3]).toBe(', uncommitted');
    expect(Number(m[1]!.replaceAll(',', ''))).toBeLessThanOrEqual(Number(m[2]!.replaceAll(',', '')) + 1); // the blank line 11
  }
}
const countTasks = async (db: string[]) => (JSON.parse((await runCli(['task', 'list', '--limit', '100000', '--json', ...db])).stdout) as unknown[]).length;

async function database(store: 'sqlite' | 'postgres'): Promise<string[]> {
  const db = store === 'sqlite' ? tempDb().db : ['--db', (await createTestDatabase('cli-import')).url];
  const made = await runCli(['task-type', 'add', 'mail', '--default-interval', '1h', ...db]);
  expect(made.code, made.stderr).toBe(0);
  return db;
}

for (const store of ['sqlite', 'postgres'] as const) {
  describe(`orrery task import (${store})`, () => {
    it('a bad line exits 2 naming the line and field and writes nothing; a good file imports all, with progress on stderr', async () => {
      const db = await database(store);
      const bad = await runCli(['task', 'import', file(line(0, { priority: 'urgent' })), ...db]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/^orrery: line 3002: priority: .*; nothing written\n$/m);
      expect(await countTasks(db)).toBe(0);
      // A line with several problems names each of them, in the same form, and still says nothing was written.
      const two = await runCli(['task', 'import', file(line(0, { priority: 'x', retriesLeft: -1 })), ...db]);
      expect(two.code).toBe(2);
      expect(two.stderr).toMatch(/^orrery: line 3002: priority: must be "high", "normal" or "low"; retriesLeft: must not be negative; nothing written\n$/m);
      expect(await countTasks(db)).toBe(0);

      const ok = await runCli(['task', 'import', file(), ...db]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(new RegExp(`^imported ${N} tasks from ${N + 1} lines: ${N} created, 0 existing, 0 replaced \\(\\d+\\.\\d s\\)\\n$`));
      // Not a terminal: plain lines, the last state of each phase.
      expect(ok.stderr).toMatch(new RegExp(`^validated ${(N + 1).toLocaleString('en-US')} lines, [\\d,]+ lines/s$`, 'm'));
      expect(ok.stderr).toMatch(new RegExp(`^committed ${(N + 1).toLocaleString('en-US')} lines \\(${N.toLocaleString('en-US')} tasks\\), [\\d,]+ lines/s$`, 'm'));
      writtenLinesAreHonest(ok.stderr);
      expect(await countTasks(db)).toBe(N);

      // Again from stdin, as JSON: every task exists already.
      const path = file();
      const again = await runCli(['-c', `"${process.execPath}" "${BIN}" task import - --json ${db.map((a) => `'${a}'`).join(' ')} < "${path}"`], { command: '/bin/sh' });
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ lines: N + 1, count: N, created: 0, existing: N, replaced: 0 });
      expect(await countTasks(db)).toBe(N);

      // Standard input that is a directory is refused as the path of one is, not read as empty input.
      const fromDir = await runCli(['-c', `"${process.execPath}" "${BIN}" task import - ${db.map((a) => `'${a}'`).join(' ')} < "${tempDir()}"`], { command: '/bin/sh' });
      expect(fromDir.code).toBe(2);
      expect(fromDir.stderr).toBe('orrery: FILE: standard input is a directory\n');
    });

    it('a conflict while writing: the last progress line says the tasks written so far were rolled back, not written', async () => {
      const db = await database(store);
      const path = join(tempDir(), 'late-conflict.jsonl');
      // Line 3300 (the fourth chunk) repeats line 5 with onConflict error: three chunks are in the transaction when it fails.
      writeFileSync(path, `${Array.from({ length: 3500 }, (_, i) => (i === 3299 ? line(4, { onConflict: 'error' }) : line(i))).join('\n')}\n`);
      const r = await runCli(['task', 'import', path, ...db]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /^rolled back after 3,000 lines \(3,000 tasks undone\)\norrery: line 3300: the same key or definition as an earlier line of this import \(onConflict error\); nothing written\n$/m,
      );
      expect(r.stderr).not.toMatch(/^committed /m);
      writtenLinesAreHonest(r.stderr);
      expect(await countTasks(db)).toBe(0);
    });

    it('onConflict error on every line: a key repeated within the file names both lines and writes nothing', async () => {
      const db = await database(store);
      const path = join(tempDir(), 'dup.jsonl');
      writeFileSync(path, ['k0', 'k7', 'k7'].map((key, i) => line(i, { key, onConflict: 'error' })).join('\n') + '\n');
      const r = await runCli(['task', 'import', path, ...db]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^orrery: line 3: the same key "k7" as line 2 \(onConflict error\); nothing written\n$/m);
      expect(await countTasks(db)).toBe(0);
    });

    it('onConflict error against a line of an earlier chunk: named as such, not as a later pair of the chunk', async () => {
      const db = await database(store);
      const path = join(tempDir(), 'chunks.jsonl');
      const keyed = (key: string, strict: boolean) => JSON.stringify({ type: 'mail', policy: 'oneshot', key, arguments: { args: [key] }, ...(strict ? { onConflict: 'error' } : {}) });
      // Line 1001 (the second chunk's first) repeats line 1's key; lines 1002 and 1003 repeat each other.
      const lines = [keyed('a', true), ...Array.from({ length: 999 }, (_, i) => keyed(`k${i}`, false)), keyed('a', true), keyed('b', true), keyed('b', true)];
      writeFileSync(path, `${lines.join('\n')}\n`);
      const r = await runCli(['task', 'import', path, ...db]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^orrery: lines 1001-1003: the same key or definition as an earlier line of this import \(onConflict error\); nothing written\n$/m);
      expect(await countTasks(db)).toBe(0);
    });

    it('onConflict error against a stored task: the stored task named once, and the message says nothing written once (not also "nothing created")', async () => {
      const db = await database(store);
      const first = join(tempDir(), 'first.jsonl');
      writeFileSync(first, `${JSON.stringify({ type: 'mail', arguments: { args: ['q'] } })}\n`);
      expect((await runCli(['task', 'import', first, ...db])).code).toBe(0);
      const path = join(tempDir(), 'again.jsonl');
      writeFileSync(path, `${[line(1), JSON.stringify({ type: 'mail', arguments: { args: ['q'] }, onConflict: 'error' })].join('\n')}\n`);
      const r = await runCli(['task', 'import', path, ...db]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^orrery: line 2: task 1 of type mail with the same definition is active \(next_run_not_scheduled\); nothing written\n$/m);
      expect(await countTasks(db)).toBe(1);
    });

    it('onConflict error on three lines of one definition: names the first two lines, not a task id rolled back', async () => {
      const db = await database(store);
      const path = join(tempDir(), 'same.jsonl');
      writeFileSync(path, `${[0, 1, 2].map(() => JSON.stringify({ type: 'mail', arguments: { args: ['q'] }, onConflict: 'error' })).join('\n')}\n`);
      const r = await runCli(['task', 'import', path, ...db]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^orrery: line 2: the same definition as line 1 \(onConflict error\); nothing written\n$/m);
      expect(await countTasks(db)).toBe(0);
    });
  });
}

describe('orrery task import on a terminal', () => {
  it('redraws one progress line with a bar, then leaves the last state of each phase', async () => {
    const { db } = tempDb();
    expect((await runCli(['task-type', 'add', 'mail', '--default-interval', '1h', ...db])).code).toBe(0);
    let err = '';
    let out = '';
    const code = await main(['task', 'import', file(), ...db], { out: (s) => (out += s), err: (s) => (err += s), errIsTty: true });
    expect(code, err).toBe(0);
    expect(out).toMatch(/^imported 4500 tasks from 4501 lines/);
    expect(err).toMatch(/\r\[[=> ]{24}\] +\d+% (validated|written) [\d,]+ lines/);
    expect(err).toContain(`\rvalidated 4,501 lines, `);
    expect(err).toMatch(/\rcommitted 4,501 lines \(4,500 tasks\), [\d,]+ lines\/s\x1b\[K\n$/);
    writtenLinesAreHonest(err.replaceAll('\r', '\n'));
  });
});

describe('orrery task import --url', () => {
  it('streams the file to a running server: same summary, same refusal of a bad line', async () => {
    const { url } = tempDb();
    const orrery = await openOrrery({ db: url });
    const { server, port } = await startHttpServer(createHttpApp(orrery), '127.0.0.1', 0);
    try {
      await orrery.createTaskType({ name: 'mail', defaultIntervalMs: '1h' });
      const base = `http://127.0.0.1:${port}`;
      const bad = await runCli(['task', 'import', file(JSON.stringify({ type: 'mail', colour: 'red' })), '--url', base]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/^orrery: line 3002: colour: unknown field; nothing written$/m);
      const two = await runCli(['task', 'import', file(JSON.stringify({ type: 'mail', colour: 'red', retriesLeft: -1 })), '--url', base]);
      expect(two.code).toBe(2);
      expect(two.stderr).toMatch(/^orrery: line 3002: retriesLeft: must not be negative; colour: unknown field; nothing written$/m);
      expect(await orrery.searchTasks({ limit: 5 })).toEqual([]);
      const ok = await runCli(['task', 'import', file(), '--url', base, '--json']);
      expect(ok.code, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ lines: N + 1, count: N, created: N });
      expect(ok.stderr).toMatch(/^sent [\d,]+ lines, [\d,]+ lines\/s$/m);
      expect(await orrery.searchTasks({ limit: 10_000 })).toHaveLength(N);
      // The last line without its line break is counted, as the server counts it (it said sent 1 line for 2).
      const noBreak = join(tempDir(), 'two.jsonl');
      writeFileSync(noBreak, `${JSON.stringify({ type: 'mail', policy: 'oneshot', arguments: { args: ['s1'], kwargs: {} } })}\r\n${JSON.stringify({ type: 'mail', policy: 'oneshot', arguments: { args: ['s2'], kwargs: {} } })}`);
      const two2 = await runCli(['task', 'import', noBreak, '--url', base]);
      expect(two2.code, two2.stderr).toBe(0);
      expect(two2.stderr).toMatch(/^sent 2 lines, [\d,]+ lines\/s$/m);
      expect(two2.stdout).toMatch(/from 2 lines/);
      // The API's address as serve prints it at start (…/api, with or without a slash) is the server's too.
      for (const api of [`${base}/api`, `${base}/api/`]) {
        const again = await runCli(['task', 'import', file(), '--url', api, '--json']);
        expect(again.code, again.stderr).toBe(0);
        expect(JSON.parse(again.stdout)).toMatchObject({ count: N, existing: N });
      }
      const both = await runCli(['task', 'import', file(), '--url', base, '--db', url]);
      expect(both.code).toBe(2);
      expect(both.stderr).toContain('--url and --db cannot be combined');
    } finally {
      await new Promise<void>((r) => (server as Server).close(() => r()));
      await orrery.close();
    }
  });

  it('a server that closes the connection, or answers what is not an import summary, exits 1 saying so (it exited 13 without a word, or printed "imported undefined tasks"); the typed client says the same', async () => {
    // One server that closes every connection at once, one that answers [] (JSON, but not Orrery's).
    const closer = createNetServer((s) => s.destroy());
    const other = createServer((req, res) => {
      req.resume();
      req.on('end', () =>
        req.url!.startsWith('/json404')
          ? res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"nope"}}')
          : res.writeHead(200, { 'content-type': 'application/json' }).end('[]'),
      );
    });
    // And one that answers a web page, 404 or 501 (another kind of server): exit 2 as bad input, or its page printed (import audit).
    const pages = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(req.url!.includes('x') ? 404 : 501, { 'content-type': 'text/html' }).end('<html>Not Found</html>'));
    });
    const listen = (srv: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }) =>
      new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as AddressInfo).port)));
    const [closing, answering, paging] = [await listen(closer), await listen(other), await listen(pages)];
    try {
      for (let i = 0; i < 3; i++) {
        const cut = await runCli(['task', 'import', file(), '--url', `http://127.0.0.1:${closing}`]);
        expect(cut.code, cut.stderr).toBe(1);
        expect(cut.stderr).toMatch(new RegExp(`^orrery: cannot reach http://127\\.0\\.0\\.1:${closing}: .*\\((ECONNRESET|EPIPE)\\)$`, 'm'));
      }
      const wrong = await runCli(['task', 'import', file(), '--url', `http://127.0.0.1:${answering}`, '--json']);
      expect(wrong.code, wrong.stderr).toBe(1);
      expect(wrong.stdout).toBe('');
      expect(wrong.stderr).toMatch(/answered the import with \[\], not an import summary: is the URL an Orrery server's\?$/m);
      // A 404 in Orrery's error shape (a path past /api on an Orrery server, another server's JSON 404): exit 1 as well (it was 2).
      const json404 = await runCli(['task', 'import', file(), '--url', `http://127.0.0.1:${answering}/json404`]);
      expect(json404.code, json404.stderr).toBe(1);
      expect(json404.stderr).toMatch(/answered the import with 404 \(nope\), not an import summary: is the URL an Orrery server's\?$/m);
      for (const page of [`http://127.0.0.1:${paging}`, `http://127.0.0.1:${paging}/x`]) {
        const html = await runCli(['task', 'import', file(), '--url', page]);
        expect(html.code, html.stderr).toBe(1);
        expect(html.stderr).toMatch(/answered the import with (501|404) and a web page \(<html>Not Found<\/html>\), not an import summary: is the URL an Orrery server's\?$/m);
      }
      // status --url read the same server's answers as if they were Orrery's (a TypeError: Cannot read properties of undefined).
      const status = await runCli(['status', '--url', `http://127.0.0.1:${answering}`]);
      expect(status.code).toBe(1);
      expect(status.stderr).toMatch(/did not answer as an Orrery server does \(.*\): is the URL an Orrery server's\?$/m);
      const client = new OrreryClient(`http://127.0.0.1:${closing}`);
      await expect(client.importTasks(createReadStream(file()))).rejects.toMatchObject({ code: 'storage_unavailable', message: expect.stringMatching(/unreachable \((ECONNRESET|EPIPE)\)/) });
      await expect(new OrreryClient(`http://127.0.0.1:${answering}`).importTasks('{"type":"mail"}\n')).rejects.toThrow(/not an import summary/);
    } finally {
      closer.close();
      other.close();
      pages.close();
    }
  });

  it('a token the server refuses exits 1, as a refused login does, and writes nothing', async () => {
    const { url } = tempDb();
    const orrery = await openOrrery({ db: url });
    const { server, port } = await startHttpServer(createHttpApp(orrery, { token: 'the-right-token-0123' }), '127.0.0.1', 0);
    try {
      await orrery.createTaskType({ name: 'mail', defaultIntervalMs: '1h' });
      const r = await runCli(['task', 'import', file(), '--url', `http://127.0.0.1:${port}`, '--token', 'a-wrong-token-0123']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^orrery: the server refused the import \(401\): missing or wrong bearer token$/m);
      expect(await orrery.searchTasks({ limit: 5 })).toEqual([]);
    } finally {
      await new Promise<void>((r) => (server as Server).close(() => r()));
      await orrery.close();
    }
  });
});
