/**
 * Bad requests found by checking the routes against docs/http.md: each is a 4xx in the error shape,
 * naming the field (for a batch, the row), and writes nothing (every table compared before and after).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/http/api-routes.js';
import { dumpDatabase, errorOf, openHttp, type HttpHarness, type Reply } from './http-helpers.js';

let h: HttpHarness;
beforeEach(async () => {
  h = await openHttp();
  expect((await h.call('POST', '/api/task-types', { name: 'mail', defaultIntervalMs: '1m', numRetries: 3 })).status).toBe(201);
});
afterEach(async () => {
  await h.close();
});

function expectError(r: Reply, status: number, code: string, paths: string[], message?: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  const e = errorOf(r.body);
  expect(e.code).toBe(code);
  expect(e.details.map((d) => d.path)).toEqual(paths);
  if (message !== undefined) expect(e.message).toContain(message);
}

describe('POST /api/tasks/batch: a conflict names the row, and nothing is written', () => {
  it('onConflict "error" against an active task: 409 naming tasks[i]', async () => {
    expect((await h.call('POST', '/api/tasks', { type: 'mail', arguments: { args: ['a'] } })).status).toBe(201);
    const before = dumpDatabase(h.dbPath);
    for (const ret of ['', '?return=ids', '?return=count']) {
      const r = await h.call('POST', `/api/tasks/batch${ret}`, {
        tasks: [{ type: 'mail', arguments: { args: ['b'] } }, { type: 'mail', arguments: { args: ['c'] } }, { type: 'mail', arguments: { args: ['a'] }, onConflict: 'error' }],
      });
      expectError(r, 409, 'conflict', ['tasks[2].arguments'], 'tasks[2]: task 1 of type mail with the same definition is active');
    }
    expect(dumpDatabase(h.dbPath)).toEqual(before);
  });

  it('onConflict "error" against an earlier row of the same batch, by key', async () => {
    const before = dumpDatabase(h.dbPath);
    const r = await h.call('POST', '/api/tasks/batch', {
      tasks: [{ type: 'mail', key: 'k1', arguments: { args: [1] } }, { type: 'mail', key: 'k1', arguments: { args: [2] }, onConflict: 'error' }],
    });
    // The earlier row is named, not the id its task had in the rolled-back batch
    expectError(r, 409, 'conflict', ['tasks[1].key'], 'tasks[1]: the same key "k1" as tasks[0] of this batch (onConflict error); nothing created');
    expect(dumpDatabase(h.dbPath)).toEqual(before);
  });

  it('onConflict "error" on every row against an earlier row of the same batch names the two rows', async () => {
    const before = dumpDatabase(h.dbPath);
    const r = await h.call('POST', '/api/tasks/batch', {
      tasks: [
        { type: 'mail', key: 'k0', arguments: { args: [0] }, onConflict: 'error' },
        { type: 'mail', key: 'k7', arguments: { args: [1] }, onConflict: 'error' },
        { type: 'mail', key: 'k7', arguments: { args: [2] }, onConflict: 'error' },
      ],
    });
    expectError(r, 409, 'conflict', ['tasks[2].key'], 'tasks[2]: the same key "k7" as tasks[1] of this batch (onConflict error); nothing created');
    expect(dumpDatabase(h.dbPath)).toEqual(before);
  });

  it('a keyed row meeting an active task is named, not a later row of the same key', async () => {
    expect((await h.call('POST', '/api/tasks', { type: 'mail', key: 'held', arguments: { args: ['e'] } })).status).toBe(201);
    const before = dumpDatabase(h.dbPath);
    const r = await h.call('POST', '/api/tasks/batch', {
      tasks: [
        { type: 'mail', arguments: { args: [0] } },
        { type: 'mail', key: 'held', arguments: { args: [1] }, onConflict: 'error' },
        { type: 'mail', key: 'held', arguments: { args: [2] }, onConflict: 'error' },
      ],
    });
    expectError(r, 409, 'conflict', ['tasks[1].key'], 'tasks[1]: task ');
    expect(errorOf(r.body).message).not.toContain('of this batch');
    expect(dumpDatabase(h.dbPath)).toEqual(before);
  });

  it('three onConflict "error" rows of one definition name the two first, not a task id rolled back with the batch', async () => {
    const before = dumpDatabase(h.dbPath);
    const row = { type: 'mail', arguments: { args: ['q'] }, onConflict: 'error' };
    const r = await h.call('POST', '/api/tasks/batch', { tasks: [row, row, row] });
    expectError(r, 409, 'conflict', ['tasks[1].arguments'], 'tasks[1]: the same definition as tasks[0] of this batch (onConflict error); nothing created');
    expect(dumpDatabase(h.dbPath)).toEqual(before);
  });

  it('several onConflict "error" rows: the one that can hold the stored definition is named; when several can, the message and details name each (http audit: a row of other arguments or a key was named, path tasks.arguments)', async () => {
    expect((await h.call('POST', '/api/tasks', { type: 'mail', arguments: { args: ['a'] } })).status).toBe(201);
    expect((await h.call('POST', '/api/tasks', { type: 'mail', key: 'k1', arguments: { args: ['k'] } })).status).toBe(201);
    const before = dumpDatabase(h.dbPath);
    const r = await h.call('POST', '/api/tasks/batch', {
      tasks: [{ type: 'mail', arguments: { args: ['x'] }, onConflict: 'error' }, { type: 'mail', arguments: { args: ['a'] }, onConflict: 'error' }, { type: 'mail', key: 'k9', onConflict: 'error' }],
    });
    expectError(r, 409, 'conflict', ['tasks[1].arguments'], 'tasks[1]: task 1 of type mail');
    // Two rows of those arguments (their priorities differ, so either may be the one): both named, each by its field.
    const two = await h.call('POST', '/api/tasks/batch', {
      tasks: [{ type: 'mail', arguments: { args: ['a'] }, priority: 'high', onConflict: 'error' }, { type: 'mail', key: 'k9', onConflict: 'error' }, { type: 'mail', arguments: { args: ['a'] }, onConflict: 'error' }],
    });
    expectError(two, 409, 'conflict', ['tasks[0].arguments', 'tasks[2].arguments'], 'one of tasks[0], tasks[2]: task 1 of type mail');
    expect(dumpDatabase(h.dbPath)).toEqual(before);
  });

  it('POST /api/tasks (one task) keeps the bare field', async () => {
    expect((await h.call('POST', '/api/tasks', { type: 'mail', arguments: { args: ['a'] } })).status).toBe(201);
    expectError(await h.call('POST', '/api/tasks', { type: 'mail', arguments: { args: ['a'] }, onConflict: 'error' }), 409, 'conflict', ['arguments']);
  });
});

describe('retryAfterMs only applies to a failed end (as `orrery run end --retry-after`)', () => {
  async function startedRun(): Promise<string> {
    expect((await h.call('POST', '/api/tasks', { type: 'mail' })).status).toBe(201);
    const [run] = (await h.call('POST', '/api/tasks/schedule', {})).body as { backendId: string }[];
    expect((await h.call('POST', `/api/runs/${run!.backendId}/start`, { worker: 'w1' })).status).toBe(200);
    return run!.backendId;
  }

  it('POST /api/runs/{backendId}/end with another status: 400 naming retryAfterMs, the run stays started', async () => {
    const id = await startedRun();
    const before = dumpDatabase(h.dbPath);
    for (const status of ['eventful', 'uneventful', 'permfailed', 'lost']) {
      expectError(await h.call('POST', `/api/runs/${id}/end`, { status, retryAfterMs: 5000 }), 400, 'validation_error', ['retryAfterMs'], 'only applies to status failed');
    }
    expect(dumpDatabase(h.dbPath)).toEqual(before);
    const failed = await h.call('POST', `/api/runs/${id}/end`, { status: 'failed', retryAfterMs: 5000 });
    expect(failed.status).toBe(200);
    expect(failed.body.task.nextRun).toBe(new Date(h.clock.now().getTime() + 5000).toISOString());
  });

  it('POST /api/jobboard/end: that item is refused with a validation_error outcome, the others are ended', async () => {
    expect((await h.call('POST', '/api/tasks/batch', { tasks: [{ type: 'mail', arguments: { args: [1] } }, { type: 'mail', arguments: { args: [2] } }] })).status).toBe(201);
    const claimed = (await h.call('POST', '/api/jobboard/claim', { worker: 'w1', types: ['mail'], limit: 2, startNow: 2 })).body as { run: { backendId: string } }[];
    expect(claimed).toHaveLength(2);
    const [a, b] = claimed.map((c) => c.run.backendId);
    const r = await h.call('POST', '/api/jobboard/end', {
      items: [
        { backendId: a, worker: 'w1', status: 'uneventful', retryAfterMs: 1000 },
        { backendId: b, worker: 'w1', status: 'uneventful' },
      ],
    });
    expect(r.status).toBe(200);
    expect(errorOf(r.body.outcomes[0])).toMatchObject({ code: 'validation_error', details: [{ path: 'retryAfterMs' }] });
    expect(r.body.outcomes[1].ok.run.status).toBe('uneventful');
    expect((await h.call('GET', `/api/runs/${a}`)).body.status).toBe('started');
  });
});

describe('retryAfterMs above 100 years: the library, POST /api/runs/{id}/end and POST /api/jobboard/end refuse it alike', () => {
  const CENTURY = 100 * 365 * 86_400_000;

  it('each refuses the same values with the same message, naming retryAfterMs, and nothing is written', async () => {
    expect((await h.call('POST', '/api/tasks', { type: 'mail' })).status).toBe(201);
    const [run] = (await h.call('POST', '/api/tasks/schedule', {})).body as { backendId: string }[];
    const id = run!.backendId;
    expect((await h.call('POST', `/api/runs/${id}/start`, { worker: 'w1' })).status).toBe(200);
    const before = dumpDatabase(h.dbPath);
    const cases: [number, string][] = [
      [CENTURY + 1, 'retryAfterMs: must be at most 100 years'],
      [36_501 * 86_400_000, 'retryAfterMs: must be at most 100 years'],
      [Number.MAX_SAFE_INTEGER, 'retryAfterMs: must be at most 100 years'],
      [1.5, 'retryAfterMs: must be a non-negative integer number of milliseconds'],
      [-1, 'retryAfterMs: must be a non-negative integer number of milliseconds'],
    ];
    for (const [retryAfterMs, message] of cases) {
      const http = await h.call('POST', `/api/runs/${id}/end`, { status: 'failed', retryAfterMs });
      expectError(http, 400, 'validation_error', ['retryAfterMs'], message);
      const board = await h.call('POST', '/api/jobboard/end', { items: [{ backendId: id, worker: 'w1', status: 'failed', retryAfterMs }] });
      expectError(board, 400, 'validation_error', ['items[0].retryAfterMs']);
      expect(errorOf(board.body).details[0]!.message).toBe(message.slice('retryAfterMs: '.length));
      await expect(h.orrery.endRun(id, { status: 'failed', retryAfterMs })).rejects.toThrow(message);
      const [outcome] = await h.orrery.endRuns([{ backendId: id, status: 'failed', retryAfterMs }]);
      expect(outcome).toMatchObject({ code: 'validation_error', message, details: [{ path: 'retryAfterMs' }] });
    }
    expect(dumpDatabase(h.dbPath)).toEqual(before);
    // Exactly 100 years is accepted: the retry is due 100 years after the end.
    const ended = await h.call('POST', `/api/runs/${id}/end`, { status: 'failed', retryAfterMs: CENTURY });
    expect(ended.status, JSON.stringify(ended.body)).toBe(200);
    expect(ended.body.task.nextRun).toBe(new Date(h.clock.now().getTime() + CENTURY).toISOString());
  });
});

describe('query parameters: a route that takes none refuses any (docs/http.md: unknown fields are refused in query strings)', () => {
  const sample = (path: string) =>
    path
      .replace(/:id/, path.startsWith('/listers') ? '00000000-0000-4000-8000-000000000000' : '1')
      .replace(/:(name|backendId|task|run)/g, (_m, p: string) => (p === 'run' ? '1' : 'x'))
      .replace(':action', 'disable');

  it('every route without a query contract: 400 query.zzz, before anything is read or written', async () => {
    const before = dumpDatabase(h.dbPath);
    const bare = apiRoutes.filter((r) => !r.query);
    expect(bare.length).toBeGreaterThan(30);
    for (const r of bare) {
      const init = r.streamBody ? { raw: '{}\n', headers: { 'content-type': r.streamBody.contentType } } : undefined;
      const res = await h.call(r.method.toUpperCase(), `/api${sample(r.path)}?zzz=1`, r.body && !r.streamBody ? {} : undefined, init);
      expect(res.status, `${r.method} ${r.path}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(errorOf(res.body).details, `${r.method} ${r.path}`).toEqual([{ path: 'query.zzz', message: 'unknown field' }]);
    }
    expect((await h.call('GET', '/api/events?zzz=1')).status).toBe(400);
    expect((await h.call('GET', '/api/openapi.json?zzz=1')).status).toBe(400);
    expect(dumpDatabase(h.dbPath)).toEqual(before);
  });

  it('a parameter named __proto__ is an unknown field too, on every route, with a query contract or without (it was taken without a word: HTTP audit)', async () => {
    const before = dumpDatabase(h.dbPath);
    for (const r of apiRoutes) {
      const init = r.streamBody ? { raw: '{}\n', headers: { 'content-type': r.streamBody.contentType } } : undefined;
      const res = await h.call(r.method.toUpperCase(), `/api${sample(r.path)}?__proto__=1`, r.body && !r.streamBody ? {} : undefined, init);
      expect(res.status, `${r.method} ${r.path}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(errorOf(res.body).details, `${r.method} ${r.path}`).toContainEqual({ path: 'query.__proto__', message: 'unknown field' });
    }
    for (const path of ['/api/events', '/api/openapi.json', '/api/tasks']) expect((await h.call('GET', `${path}?__proto__=1`)).status, path).toBe(400);
    expect((await h.call('POST', '/api/task-types?__proto__=1', { name: 'protoq' })).status).toBe(400);
    expect(dumpDatabase(h.dbPath)).toEqual(before);
  });

  it('a parameter without a name (?=1) and one given twice are 400 too, not left out', async () => {
    for (const q of ['?=1', '?limit=5&=x']) {
      const res = await h.call('GET', `/api/tasks${q}`);
      expect(res.status, q).toBe(400);
      expect(errorOf(res.body).details).toEqual([{ path: 'query', message: 'a parameter without a name (write name=value)' }]);
    }
    const twice = await h.call('GET', '/api/tasks?limit=1&limit=2');
    expect(errorOf(twice.body).details).toEqual([{ path: 'query.limit', message: 'given 2 times; give it once (a list of values goes comma-separated in one)' }]);
  });

  it('the same routes without a query string still answer', async () => {
    expect((await h.call('GET', '/api/task-types')).status).toBe(200);
    expect((await h.call('GET', '/api/stats/queues')).status).toBe(200);
    expect((await h.call('POST', '/api/task-types', { name: 'other' })).status).toBe(201);
  });
});

describe('PUT /api/dags: a bad definition among several is named by its index, and none is registered', () => {
  it('400 with every detail under dags[i]', async () => {
    const before = dumpDatabase(h.dbPath);
    const r = await h.call('PUT', '/api/dags', {
      dags: [
        { id: 'good', tasks: [{ id: 'a' }] },
        { id: 'bad', tasks: [{ id: 'a', after: ['zz'] }] },
      ],
    });
    expectError(r, 400, 'validation_error', ['dags[1].tasks[0].after[0]'], 'dags[1]: tasks[0].after[0]: task "a" depends on unknown task "zz"');
    expect(dumpDatabase(h.dbPath)).toEqual(before);
    expect((await h.call('GET', '/api/dags')).body).toEqual([]);
  });

  it('a definition alone is named dags[0] too (a null one included), and a task type of another backend writes nothing', async () => {
    expectError(await h.call('PUT', '/api/dags', { dags: [null] }), 400, 'validation_error', ['dags[0]'], 'dags[0]: ');
    expectError(await h.call('PUT', '/api/dags', { dags: [{ id: 'bad', tasks: [{ id: 'a', retries: -1 }] }] }), 400, 'validation_error', ['dags[0].tasks[0].retries'], 'dags[0]: tasks[0].retries');
    expect((await h.call('POST', '/api/task-types', { name: 'plainjob' })).status).toBe(201);
    const before = dumpDatabase(h.dbPath);
    const r = await h.call('PUT', '/api/dags', {
      dags: [
        { id: 'okx', tasks: [{ id: 'a', type: 'newdagtype' }] },
        { id: 'badx', tasks: [{ id: 'a', type: 'plainjob' }] },
      ],
    });
    expectError(r, 400, 'validation_error', ['dags[1].tasks[0].type'], 'dags[1]: tasks[0].type: task type "plainjob" has backend "plainjob"');
    expect(dumpDatabase(h.dbPath)).toEqual(before);
  });
});

describe('a URL whose percent-encoding decodes to no UTF-8: 400, not taken literally', () => {
  it('in a query parameter (named) or in the path', async () => {
    expectError(await h.call('GET', '/api/tasks?type=%ED%A0%80'), 400, 'validation_error', ['query.type'], 'query.type: is not valid UTF-8');
    expectError(await h.call('GET', '/api/tasks?args=%ff'), 400, 'validation_error', ['query.args'], 'query.args: is not valid UTF-8');
    const r = await h.call('GET', '/api/task-types/%ff');
    expect(r.status).toBe(400);
    expect(errorOf(r.body)).toMatchObject({ code: 'bad_request', message: expect.stringContaining('the URL path is not valid UTF-8') });
    // Well-formed encodings still answer as before.
    expect((await h.call('GET', '/api/tasks?type=mail&args=a%20b')).status).toBe(200);
    expect((await h.call('GET', '/api/task-types/%E2%9C%93')).status).toBe(404);
  });

  it('not in the query string of the probes and the metrics, which ignore theirs', async () => {
    for (const path of ['/healthz?%zz', '/healthz?a=%', '/readyz?a=%ff']) {
      expect((await h.call('GET', path)).status, path).toBe(200);
    }
    const m = await openHttp({ metrics: { contentType: 'text/plain; version=0.0.4', render: async () => 'orrery_up 1\n' } });
    try {
      expect((await m.call('GET', '/metrics?%E0%A4%A')).text).toBe('orrery_up 1\n');
    } finally {
      await m.close();
    }
    // Their path is still checked, and the API's queries are.
    expect((await h.call('GET', '/healthz%ff')).status).toBe(400);
    expect((await h.call('GET', '/api/task-types?%zz')).status).toBe(400);
    // An API route reached through an encoded path is the API still.
    expectError(await h.call('GET', '/%61pi/tasks/pending?type=%ff'), 400, 'validation_error', ['query.type'], 'query.type: is not valid UTF-8');
  });
});

describe('GET /api/tasks: the messages docs/http.md quotes', () => {
  it('a bad status or disabledReason list', async () => {
    expectError(await h.call('GET', '/api/tasks?status=asleep'), 400, 'validation_error', ['query.status'], 'query.status: must be task statuses, comma-separated, each one of next_run_not_scheduled');
    expectError(await h.call('GET', '/api/tasks?disabledReason=tired'), 400, 'validation_error', ['query.disabledReason'], 'must be disabled reasons, comma-separated, each one of manual');
    expectError(await h.call('GET', '/api/tasks?argsMatch=prefix'), 400, 'validation_error', ['query.argsMatch'], 'only applies with args');
  });
});

describe('a "__proto__" key is refused, never dropped silently (JSON.parse keeps it; the copies made while validating lost it)', () => {
  it('in kwargs, in metadata, nested, or spelled with escapes: 400 naming it, nothing written', async () => {
    const before = dumpDatabase(h.dbPath);
    const cases: [string, string, string, string][] = [
      ['POST', '/api/tasks', '{"type":"mail","arguments":{"kwargs":{"__proto__":{"x":1},"y":2}}}', 'arguments.kwargs.__proto__'],
      ['POST', '/api/tasks', '{"type":"mail","arguments":{"kwargs":{"\\u005f_proto__":1}}}', 'arguments.kwargs.__proto__'],
      ['POST', '/api/tasks', '{"type":"mail","arguments":{"args":[{"a":{"__proto__":[]}}]}}', 'arguments.args[0].a.__proto__'],
      ['POST', '/api/tasks/batch', '{"tasks":[{"type":"mail"},{"type":"mail","arguments":{"kwargs":{"__proto__":1}}}]}', 'tasks[1].arguments.kwargs.__proto__'],
      ['POST', '/api/task-types', '{"name":"t2","__proto__":{"numRetries":5}}', '__proto__'],
    ];
    for (const [method, path, raw, field] of cases) {
      expectError(await h.call(method, path, undefined, { raw }), 400, 'validation_error', [field], '"__proto__" is not accepted');
    }
    expect(dumpDatabase(h.dbPath)).toEqual(before);
  });

  it('the library and the NDJSON import refuse a kwargs "__proto__" too', async () => {
    await expect(h.orrery.createTask(JSON.parse('{"type":"mail","arguments":{"kwargs":{"__proto__":{"x":1}}}}'))).rejects.toThrow('arguments.kwargs.__proto__: the key "__proto__" is not accepted');
    const r = await h.call('POST', '/api/tasks/import', undefined, { raw: '{"type":"mail"}\n{"type":"mail","arguments":{"kwargs":{"__proto__":1}}}\n', headers: { 'content-type': 'application/x-ndjson' } });
    expectError(r, 400, 'validation_error', ['line 2.arguments.kwargs.__proto__']);
    expect((await h.call('GET', '/api/tasks')).body.items).toEqual([]);
  });

  it('other keys named like Object.prototype members are data like any other', async () => {
    const r = await h.call('POST', '/api/tasks', undefined, { raw: '{"type":"mail","arguments":{"kwargs":{"constructor":1,"toString":"x"}}}' });
    expect(r.status).toBe(201);
    expect(r.body.arguments.kwargs).toEqual({ constructor: 1, toString: 'x' });
  });
});

describe('an integer a body holds that parsing would change is refused, never stored rounded (JSON.parse would read 9007199254740993 as …992)', () => {
  it('in arguments, metadata, a batch or an NDJSON line: 400 naming where it is and what it would become, nothing written', async () => {
    const before = dumpDatabase(h.dbPath);
    const cases: [string, string, string, string][] = [
      ['POST', '/api/tasks', '{"type":"mail","arguments":{"args":[1,9007199254740993]}}', 'arguments.args[1]'],
      ['POST', '/api/tasks', '{"type":"mail","arguments":{"kwargs":{"id":-12345678901234567890}}}', 'arguments.kwargs.id'],
      ['POST', '/api/tasks/batch', '{"tasks":[{"type":"mail"},{"type":"mail","arguments":{"kwargs":{"a b":[99999999999999999999]}}}]}', 'tasks[1].arguments.kwargs["a b"][0]'],
    ];
    for (const [method, path, raw, field] of cases) {
      const r = await h.call(method, path, undefined, { raw });
      expectError(r, 400, 'validation_error', [field], 'cannot be kept exactly');
      expect(errorOf(r.body).message).toMatch(/it would be read as -?\d+\); send it as a JSON string \("-?\d+"\)$/);
    }
    const line = await h.call('POST', '/api/tasks/import', undefined, { raw: '{"type":"mail"}\n{"type":"mail","arguments":{"args":[18446744073709551615]}}\n', headers: { 'content-type': 'application/x-ndjson' } });
    expectError(line, 400, 'validation_error', ['line 2.arguments.args[0]'], 'it would be read as 18446744073709551616');
    expect(dumpDatabase(h.dbPath)).toEqual(before);
  });

  it('integers a double holds exactly (2^53, 2^60), digits inside strings, and numbers with a fraction or exponent are kept as sent', async () => {
    // 2^53 and 2^60 are doubles exactly (JSON.stringify writes a JavaScript client's 2 ** 60 so): read back unchanged, kept.
    const raw = '{"type":"mail","arguments":{"args":[9007199254740991,-9007199254740991,9007199254740992,1152921504606846976,-1152921504606846976,"12345678901234567890",1.5e30,12345678901234567890.0]}}';
    const r = await h.call('POST', '/api/tasks', undefined, { raw });
    expect(r.status).toBe(201);
    expect(r.body.arguments.args).toEqual([9007199254740991, -9007199254740991, 2 ** 53, 2 ** 60, -(2 ** 60), '12345678901234567890', 1.5e30, 12345678901234567890.0]);
  });
});

describe('POST /api/tasks/bulk/{action}: an empty run selection is refused like an empty filter', () => {
  it('{"runs":{}} and {"runs":{"status":""}}: 400 naming runs (runs.status), no task changed', async () => {
    expect((await h.call('POST', '/api/tasks', { type: 'mail' })).status).toBe(201);
    expect((await h.call('POST', '/api/tasks/schedule', {})).body).toHaveLength(1);
    const before = dumpDatabase(h.dbPath);
    for (const dryRun of [false, true]) {
      expectError(await h.call('POST', '/api/tasks/bulk/disable', { runs: {}, dryRun }), 400, 'validation_error', ['runs'], 'runs: is empty');
      // A status filter given empty names no status: refused as such, as GET /api/runs refuses it.
      for (const status of ['', ',']) expectError(await h.call('POST', '/api/tasks/bulk/disable', { runs: { status }, dryRun }), 400, 'validation_error', ['runs.status'], 'must name a run status');
    }
    expectError(await h.call('POST', '/api/tasks/bulk/disable', { filter: {} }), 400, 'validation_error', ['filter'], 'filter: is empty');
    expect(dumpDatabase(h.dbPath)).toEqual(before);
    const one = await h.call('POST', '/api/tasks/bulk/disable', { runs: { type: 'mail' } });
    expect(one.body).toMatchObject({ matched: 1, changed: 1 });
  });
});
