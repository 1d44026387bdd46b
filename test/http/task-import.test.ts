import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/engine/clock.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createHttpApp } from '../../src/http/app.js';
import { startHttpServer } from '../../src/http/server.js';
import { createTestDatabase } from '../support/postgres.js';
import { ValidationError } from '../../src/core/errors.js';
import { OrreryClient } from '../../src/http/client.js';
import { MAX_BATCH_ITEM, MAX_BATCH_VALUES, parseTasksBody } from '../../src/http/large-body.js';
import { T0, errorOf } from './http-helpers.js';

const NDJSON = { 'content-type': 'application/x-ndjson' };
const line = (i: number, extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'mail', arguments: { args: [i] }, ...extra });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function openOn(store: 'sqlite' | 'postgres'): Promise<Orrery> {
  let db: string;
  if (store === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-import-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    db = `sqlite:${join(dir, 'orrery.db')}`;
  } else {
    const pg = await createTestDatabase('import');
    cleanups.push(pg.drop);
    db = pg.url;
  }
  const orrery = await openOrrery({ db, clock: new ManualClock(T0) });
  cleanups.push(() => orrery.close());
  await orrery.createTaskType({ name: 'mail', defaultIntervalMs: '1h' });
  return orrery;
}

for (const store of ['sqlite', 'postgres'] as const) {
  describe(`POST /api/tasks/import and compact batches (${store})`, () => {
    it('imports NDJSON streamed in pieces, answers a summary, and refuses a bad line naming it, writing nothing', async () => {
      const orrery = await openOn(store);
      const app = createHttpApp(orrery);
      const lines = Array.from({ length: 4500 }, (_, i) => line(i));
      const bad = [...lines.slice(0, 2500), line(0, { nextRun: 'yesterday' }), ...lines.slice(2500)].join('\n');
      const refused = await app.request('/api/tasks/import', { method: 'POST', headers: NDJSON, body: bad });
      expect(refused.status).toBe(400);
      const e = errorOf(await refused.json());
      expect(e.code).toBe('validation_error');
      expect(e.message).toMatch(/^line 2501: nextRun: .*; nothing written$/);
      expect(e.details[0]!.path).toBe('line 2501.nextRun');
      expect(await orrery.searchTasks({ limit: 5 })).toEqual([]);

      // A body sent as a stream of small pieces (chunked, no content-length).
      const text = `${lines.join('\n')}\n\n${line(7)}\n`;
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          const b = new TextEncoder().encode(text);
          for (let i = 0; i < b.length; i += 4096) c.enqueue(b.slice(i, i + 4096));
          c.close();
        },
      });
      const ok = await app.request('/api/tasks/import?return=ids', { method: 'POST', headers: NDJSON, body, duplex: 'half' } as RequestInit);
      expect(ok.status).toBe(201);
      const s = (await ok.json()) as { ids: number[] };
      expect(s).toMatchObject({ lines: 4502, count: 4501, created: 4500, existing: 1, replaced: 0 });
      expect(s.ids).toHaveLength(4501);
      expect(s.ids[4500]).toBe(s.ids[7]);
      expect(await orrery.searchTasks({ limit: 10_000 })).toHaveLength(4500);

      const plain = await app.request('/api/tasks/import', { method: 'POST', headers: NDJSON, body: `${line(1)}\n${line(9999)}` });
      expect(await plain.json()).toMatchObject({ lines: 2, count: 2, created: 1, existing: 1 });
      const wrongType = await app.request('/api/tasks/import', { method: 'POST', headers: { 'content-type': 'application/json' }, body: line(1) });
      expect(wrongType.status).toBe(415);
      expect(errorOf(await wrongType.json()).code).toBe('unsupported_media_type');
      const badQuery = await app.request('/api/tasks/import?return=tasks', { method: 'POST', headers: NDJSON, body: line(1) });
      expect(badQuery.status).toBe(400);
    });

    it('POST /api/tasks/batch answers tasks (default, streamed when large), ids or a count', async () => {
      const orrery = await openOn(store);
      const app = createHttpApp(orrery);
      const post = (q: string, tasks: unknown[]) => app.request(`/api/tasks/batch${q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tasks }) });
      const tasks = Array.from({ length: 4100 }, (_, i) => ({ type: 'mail', arguments: { args: [i] } }));
      const count = await post('?return=count', tasks);
      expect(count.status).toBe(201);
      expect(await count.json()).toEqual({ count: 4100, created: 4100, existing: 0, replaced: 0 });
      const ids = (await (await post('?return=ids', [...tasks.slice(0, 3), { type: 'mail', arguments: { args: ['new'] } }])).json()) as { ids: number[] };
      expect(ids).toMatchObject({ count: 4, created: 1, existing: 3, replaced: 0 });
      const full = await post('', tasks);
      expect(full.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await full.json()) as { tasks: Array<{ id: number; arguments: { args: unknown[] } }>; created: number };
      expect(body.created).toBe(0);
      expect(body.tasks.map((t) => t.arguments.args[0])).toEqual(tasks.map((t) => t.arguments.args[0]));
      expect(body.tasks.slice(0, 3).map((t) => t.id)).toEqual(ids.ids.slice(0, 3));
      const bad = await post('?return=count', [...tasks.slice(0, 3000), { type: 'mail', retriesLeft: -1 }]);
      expect(errorOf(await bad.json()).details[0]!.path).toBe('tasks[3000].retriesLeft');
      expect(await orrery.searchTasks({ limit: 10_000 })).toHaveLength(4101);
    });

    it('a batch task over 4 MB (400), and a body over 4 MB of another shape (400, not parsed whole), write nothing', async () => {
      const orrery = await openOn(store);
      const app = createHttpApp(orrery);
      const post = (text: string) => app.request('/api/tasks/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
      const big = JSON.stringify({ type: 'mail', arguments: { args: ['x'.repeat(MAX_BATCH_ITEM)] } });
      const long = await post(`{"tasks":[{"type":"mail"},${big}]}`);
      expect(long.status).toBe(400);
      expect(errorOf(await long.json())).toMatchObject({ code: 'bad_request', message: `tasks[1]: a task may be at most ${MAX_BATCH_ITEM} characters of JSON`, details: [{ path: 'tasks[1]' }] });
      const other = await post(`{"tasks":[{"type":"mail"}],"pad":"${'x'.repeat(MAX_BATCH_ITEM)}"}`);
      expect(other.status).toBe(400);
      expect(errorOf(await other.json()).message).toMatch(/^a body over 4 MB must be a JSON object with the one key "tasks" .*: it does not end with "\]}"/);
      expect(await orrery.searchTasks({ limit: 10 })).toHaveLength(0);
    });

    it('a body over 4 MB: its key written with escapes is "tasks"; a trailing comma or a bad task is refused naming its position', async () => {
      const orrery = await openOn(store);
      const app = createHttpApp(orrery);
      const post = (text: string) => app.request('/api/tasks/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
      // Over 4 MB of spaces between three small tasks (each item, its spaces included, under the 4 MB a task may take).
      const pad = ' '.repeat(2_200_000);
      const items = [1, 2, 3].map((i) => `${pad}{"type":"mail","arguments":{"args":[${i}]}}`);
      const escaped = await post(`{"\\u0074asks":[${items.join(',')}]}`);
      expect(escaped.status, await escaped.clone().text()).toBe(201);
      expect((await orrery.searchTasks({ limit: 10 })).map((t) => t.arguments.args[0]).sort()).toEqual([1, 2, 3]);
      const trailing = `{"tasks":[${items.join(',')},]}`;
      const comma = await post(trailing);
      expect(comma.status).toBe(400);
      expect(errorOf(await comma.json()).message).toBe(`invalid JSON: a comma at position ${trailing.length - 3} with no task after it (a trailing comma in "tasks")`);
      const broken = `{"tasks":[${items[0]},${pad}{"type":"mail",}]}`;
      const bad = await post(broken);
      expect(bad.status).toBe(400);
      expect(errorOf(await bad.json()).message).toBe(`invalid JSON: Expected double-quoted property name in JSON at position ${broken.length - 3} (in tasks[1])`);
      const unclosed = await post(`{"tasks":[${items.join(',')},"]}`);
      expect(errorOf(await unclosed.json()).message).toMatch(/^a body over 4 MB must be .*: a string in tasks\[3\] \(from position \d+\) is not closed$/);
      expect(await orrery.searchTasks({ limit: 10 })).toHaveLength(3);
    });

    it('a JSON body that is not UTF-8 is refused (400), small or large, not stored with U+FFFD', async () => {
      const orrery = await openOn(store);
      const app = createHttpApp(orrery);
      const bytes = (json: string, bad: number[]) => {
        const [head, tail] = json.split('@');
        return Buffer.concat([Buffer.from(head!), Buffer.from(bad), Buffer.from(tail!)]);
      };
      const send = (path: string, body: Buffer) => app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: new Uint8Array(body) });
      for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80]]) {
        const small = await send('/api/task-types', bytes('{"name":"t","description":"a@"}', bad));
        expect(small.status).toBe(400);
        expect(errorOf(await small.json()).message).toMatch(/not valid UTF-8/);
        const large = await send('/api/tasks/batch', bytes(`{"tasks":[{"type":"mail","arguments":{"args":["a@"]}}]}`, bad));
        expect(large.status).toBe(400);
        expect(errorOf(await large.json()).message).toMatch(/not valid UTF-8/);
      }
      expect((await orrery.listTaskTypes()).map((t) => t.name)).toEqual(['mail']);
      expect(await orrery.searchTasks({ limit: 10 })).toHaveLength(0);
      // Valid multi-byte text still goes through.
      expect((await send('/api/task-types', Buffer.from('{"name":"t","description":"żółw"}'))).status).toBe(201);
    });
  });
}

describe('a batch body parsed a piece at a time', () => {
  it('gives what JSON.parse gives, or for any other shape why not (the caller parses a small body whole)', async () => {
    const same = [
      '{"tasks":[]}',
      ' {\n "tasks" : [ {"type":"a","arguments":{"args":["x,y]}", "\\"", [1,{"b":[]}]]}} , {"type":"b"} ,3,"s",null ] }\n',
      JSON.stringify({ tasks: Array.from({ length: 3000 }, (_, i) => ({ type: 't', arguments: { args: [i, `,${'}'.repeat(i % 5)}`], kwargs: { k: { '[': i } } } })) }),
    ];
    for (const text of same) expect(await parseTasksBody(text, 128)).toEqual(JSON.parse(text));
    // The key as JSON reads it: written with escapes it is still "tasks".
    for (const text of ['{"t\\u0061sks":[1]}', '{"\\u0074\\u0061\\u0073\\u006b\\u0073" : [{"a":"b"}]}']) expect(await parseTasksBody(text, 128)).toEqual(JSON.parse(text));
    // Any other shape: why, with a position where there is one (a small body is then parsed whole).
    const why: Array<[string, string]> = [
      ['{"tasks":[1],"x":2}', 'it does not end with "]}" (the array of tasks, then the end of the object): it ends with "{\\"tasks\\":[1],\\"x\\":2}"'],
      ['{"x":1,"tasks":[1]}', 'its first key is "x", not "tasks"'],
      ['{"t\\u0061skx":[1]}', 'its first key is "taskx", not "tasks"'],
      ['{"t\\x61sks":[1]}', 'its first key is not a valid JSON string (it begins "\\"t\\\\x61sks\\":[1]}")'],
      ['{"tasks" [1]}', 'no ":" after the key "tasks" (at position 9)'],
      ['{"tasks":{"a":[1]}}', '"tasks" does not hold an array (at position 9)'],
      ['{"tasks":[1]]}', 'the array of tasks ends at position 11, and more follows it before the end of the object'],
      ['{"tasks":[1}]}', 'an unmatched "}" at position 11 (in tasks[0])'],
      ['[1]', 'it does not begin with {"tasks": [ (it begins with "[1]")'],
      ['{"tasks":[1,"]}', 'a string in tasks[1] (from position 12) is not closed'],
      ['{"tasks":[1,[[2]]}', 'tasks[1] (from position 12) opens 1 more "[" or "{" than it closes'],
    ];
    for (const [text, reason] of why) expect(await parseTasksBody(text, 128), text).toBe(reason);
    // A task that is not JSON, or a comma with no task on one side: refused, with the position in the body.
    await expect(parseTasksBody('{"tasks":[1,,2]}', 128)).rejects.toThrow('invalid JSON: a comma at position 12 with no task before it (in "tasks")');
    await expect(parseTasksBody('{"tasks":[,1]}', 128)).rejects.toThrow('invalid JSON: a comma at position 10 with no task before it (in "tasks")');
    await expect(parseTasksBody('{"tasks":[1, ]}', 128)).rejects.toThrow('invalid JSON: a comma at position 11 with no task after it (a trailing comma in "tasks")');
    await expect(parseTasksBody('{"tasks":[1, {"a":1,}]}', 128)).rejects.toThrow('invalid JSON: Expected double-quoted property name in JSON at position 20 (in tasks[1])');
    await expect(parseTasksBody('{"tasks":[1, {"a" 1}]}', 128)).rejects.toThrow("invalid JSON: Expected ':' after property name in JSON at position 18 (in tasks[1])");
    await expect(parseTasksBody(`{"tasks":[${'['.repeat(126)}${']'.repeat(126)}]}`, 128)).resolves.not.toBeNull();
    await expect(parseTasksBody(`{"tasks":[${'['.repeat(127)}${']'.repeat(127)}]}`, 128)).rejects.toThrow(/nested deeper than 128/);
  });

  it('refuses a task longer than the item limit (400) and more values in all than the value limit (413), before parsing them', async () => {
    const limits = { maxItem: 20, maxValues: 12 };
    expect(await parseTasksBody('{"tasks":[{"type":"aaaaaaaaa"},1]}', 128, limits)).toEqual({ tasks: [{ type: "aaaaaaaaa" }, 1] });
    const long = await parseTasksBody('{"tasks":[1,{"type":"aaaaaaaaaa"}]}', 128, limits).catch((e: unknown) => e);
    expect(long).toMatchObject({ code: 'bad_request', message: 'tasks[1]: a task may be at most 20 characters of JSON' });
    expect(await parseTasksBody(`{"tasks":[${Array(6).fill('[]').join(',')}]}`, 128, limits)).toEqual({ tasks: Array(6).fill([]) }); // 11 values
    const many = await parseTasksBody(`{"tasks":[${Array(7).fill('[]').join(',')}]}`, 128, limits).catch((e: unknown) => e);
    expect(many).toMatchObject({ code: 'payload_too_large', message: expect.stringMatching(/^the batch holds more than 12 JSON values/) });
    // Blanks between tasks count toward no task's length, however many (past a turn's scan too).
    const blanks = ' \n\t'.repeat(100_000);
    const one = '{"type":"aaaaaaaaa"}';
    expect(await parseTasksBody(`{"tasks":[${blanks}${one}${blanks},${blanks}${one}${blanks}]}`, 128, limits)).toEqual({ tasks: [JSON.parse(one), JSON.parse(one)] });
    expect(await parseTasksBody(`{"tasks":[${blanks}]}`, 128, limits)).toEqual({ tasks: [] });
    const longString = await parseTasksBody(`{"tasks":[1,${blanks}"${'a'.repeat(300_000)}"]}`, 128, limits).catch((e: unknown) => e);
    expect(longString).toMatchObject({ code: 'bad_request', message: 'tasks[1]: a task may be at most 20 characters of JSON' });
    const longLast = await parseTasksBody(`{"tasks":[1, ${one}1${blanks}]}`, 128, limits).catch((e: unknown) => e);
    expect(longLast).toMatchObject({ code: 'bad_request', message: 'tasks[1]: a task may be at most 20 characters of JSON' });
    // The package's limit of values holds a batch of a million usual tasks.
    const usual = JSON.stringify({ type: 'check-feed', arguments: { args: ['https://example.org/a.xml'], kwargs: {} } });
    expect(((usual.match(/[[{,]/g) ?? []).length + 1) * 1_000_000).toBeLessThanOrEqual(MAX_BATCH_VALUES);
  });
});

describe('OrreryClient', () => {
  it('createTasksSummary and importTasks (text or a byte stream) over a real server', async () => {
    const orrery = await openOn('sqlite');
    const { server, port } = await startHttpServer(createHttpApp(orrery), '127.0.0.1', 0);
    cleanups.push(() => new Promise<void>((r) => (server as Server).close(() => r())));
    const client = new OrreryClient(`http://127.0.0.1:${port}`);
    expect(await client.createTasksSummary([{ type: 'mail', arguments: { args: [1], kwargs: {} } }], { ids: true })).toEqual({ ids: [1], count: 1, created: 1, existing: 0, replaced: 0 });
    const s = await client.importTasks(`${line(1)}\n${line(2)}\n`, { ids: true });
    expect(s).toMatchObject({ lines: 2, count: 2, created: 1, existing: 1, ids: [1, 2] });
    const stream = (async function* () {
      yield new TextEncoder().encode(`${line(3)}\n{"type":"ma`);
      yield new TextEncoder().encode('il","arguments":{"args":[4]}}\n');
    })();
    expect(await client.importTasks(stream)).toMatchObject({ lines: 2, count: 2, created: 2 });
    // The forms guide.md names, without a cast (its types took only text or an async iterable of bytes:
    // docs code audit): an array of byte chunks, an array of text, with the library too.
    const bytes = [new TextEncoder().encode(`${line(6)}\n`)];
    expect(await client.importTasks(bytes)).toMatchObject({ lines: 1, created: 1 });
    expect(await client.importTasks([`${line(7)}\n`])).toMatchObject({ lines: 1, created: 1 });
    expect(await orrery.importTasks([`${line(8)}\n`, new TextEncoder().encode(`${line(9)}\n`)])).toMatchObject({ lines: 2, created: 2 });
    expect(await orrery.importTasks(`${line(10)}\n`)).toMatchObject({ lines: 1, created: 1 });
    const e = await client.importTasks(`${line(5)}\n{"type":"mail","policy":"never"}\n`).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).message).toMatch(/^line 2: policy: /);
    expect(await orrery.searchTasks({ limit: 20 })).toHaveLength(9);
  });
});

/**
 * The CPU time this process spent between two turns of its event loop, at most: how long the loop
 * was held by work of its own. Wall-clock gaps would also count the time a loaded machine gave the
 * CPU to other processes, which says nothing about the server (and made this test time out under load).
 */
function longestBusyTurn(): { stop(): number } {
  let last = process.cpuUsage();
  let longest = 0;
  let on = true;
  const tick = () => {
    const now = process.cpuUsage();
    longest = Math.max(longest, (now.user - last.user + now.system - last.system) / 1000);
    last = now;
    if (on) setTimeout(tick, 5);
  };
  setTimeout(tick, 5);
  return {
    stop() {
      on = false;
      return longest;
    },
  };
}

describe('a big batch and a big import do not stall the server', () => {
  it('/healthz answers throughout, never behind more than a second of work (SQLite, 100,000 tasks each)', { timeout: 180_000 }, async () => {
    const orrery = await openOn('sqlite');
    const { server, port } = await startHttpServer(createHttpApp(orrery), '127.0.0.1', 0);
    cleanups.push(() => new Promise<void>((r) => (server as Server).close(() => r())));
    const base = `http://127.0.0.1:${port}`;
    const N = 100_000;
    const batch = JSON.stringify({ tasks: Array.from({ length: N }, (_, i) => ({ type: 'mail', arguments: { args: [`b${i}`] } })) });
    const ndjson = Array.from({ length: N }, (_, i) => line(i)).join('\n');

    const turns = longestBusyTurn();
    const answers: number[] = [];
    let busy = true;
    const poll = (async () => {
      while (busy) {
        const t = performance.now();
        const r = await fetch(`${base}/healthz`);
        expect(r.status).toBe(200);
        await r.arrayBuffer();
        answers.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      const b = await fetch(`${base}/api/tasks/batch?return=count`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batch });
      expect(await b.json()).toMatchObject({ count: N, created: N });
      const i = await fetch(`${base}/api/tasks/import`, { method: 'POST', headers: NDJSON, body: ndjson });
      expect(await i.json()).toMatchObject({ count: N, created: N });
    } finally {
      busy = false;
      await poll;
    }
    const longestTurn = turns.stop();
    // The polls overlapped the work (each took its turn while chunks were processed) ...
    expect(answers.length).toBeGreaterThan(10);
    // ... and no turn of the event loop held more than a second of CPU work: done in one go, each
    // 100,000-task write would hold it for several seconds.
    console.log(`healthz: ${answers.length} answers, the longest ${Math.round(Math.max(...answers))} ms; the longest turn of the event loop held ${Math.round(longestTurn)} ms of CPU`);
    expect(longestTurn, `longest turn ${Math.round(longestTurn)} ms of CPU; answers (ms): ${answers.map(Math.round).join(' ')}`).toBeLessThan(1000);
  });
});
