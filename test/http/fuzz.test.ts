import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_WORKER_TYPES } from '../../src/core/worker-registry.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { routes } from '../../src/http/routes.js';
import { T0, dumpDatabase, errorOf, openHttp, templateOf, type HttpHarness } from './http-helpers.js';

/**
 * At least 10,000 generated malformed requests across every route: never a 5xx, always the error
 * shape, no crash, and the database unchanged. Every generated request is built to fail (a bad
 * field, a missing field, an unknown field, bad JSON, a bad path or query, a wrong method or path,
 * a wrong token), so none may legitimately write.
 */

const SEED = 0x0c0ffee;
const COUNT = 10_000;
const TOKEN = 'fuzz-token';
const ALLOWED = [400, 401, 404, 405, 409, 413, 415, 422];

// --- a tiny seeded PRNG ---------------------------------------------------------------------------
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  constructor(readonly next: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
}

/** A JSON literal sent verbatim (numbers JSON can carry but JS cannot: 1e400, -1e400, 1e-400). */
class Raw {
  constructor(readonly text: string) {}
}

function toJson(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Raw) {
      raws.push(v.text);
      return `\u0001RAW${raws.length - 1}\u0001`;
    }
    return v;
  });
  return text.replace(/"\\u0001RAW(\d+)\\u0001"/g, (_m, i: string) => raws[Number(i)]!);
}

/** An object with an own enumerable property of any name (including `__proto__`). */
function withKey(obj: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const out = { ...obj };
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

// --- value generators -----------------------------------------------------------------------------
type Gen = (r: Rng) => unknown;

const UNICODE = ['é', 'ß', 'Ω', 'жж', '中文', '😀', '👩‍👩‍👧', '\u200b', '\u202e', 'ﷺ', '\u0301', '\ud800', '\udfff', '\u0000', '\u0007', '\t', '\n', '"', '\\', '/', '<', '&', "'", '%', '%00', '%ZZ'];

function randomString(r: Rng, len = r.int(1, 24)): string {
  let s = '';
  while (s.length < len) s += r.chance(0.3) ? r.pick(UNICODE) : String.fromCharCode(r.int(0x20, 0x7e));
  return s;
}
const longString = (r: Rng, min: number) => 'x'.repeat(min + r.int(0, 64)) + randomString(r, 4);

const HUGE = [1e308, -1e308, 1e21, -1e21, 9007199254740993, -9007199254740993, 2 ** 53, 4294967296, 1.5, -0.5, 0.1, -1, -2147483649, 5e-324];
const RAW_NUMS = ['1e400', '-1e400', '1e999999', '-0', '1E+400', '123456789012345678901234567890'];

function garbage(r: Rng, depth = 0): unknown {
  const k = r.int(0, depth >= 3 ? 5 : 8);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick(HUGE);
    case 3:
      return r.chance(0.5) ? new Raw(r.pick(RAW_NUMS)) : r.int(-1000, 1000);
    case 4:
      return randomString(r);
    case 5:
      return '';
    case 6:
      return Array.from({ length: r.int(0, 4) }, () => garbage(r, depth + 1));
    default: {
      let o: Record<string, unknown> = {};
      for (let i = r.int(0, 4); i > 0; i--) o = withKey(o, randomString(r, r.int(0, 8)), garbage(r, depth + 1));
      return o;
    }
  }
}

/** encodeURIComponent that sends a lone surrogate as the (invalid UTF-8) bytes it would be. */
function enc(s: string): string {
  let out = '';
  for (const ch of s) {
    try {
      out += encodeURIComponent(ch);
    } catch {
      out += '%ED%A0%80';
    }
  }
  return out;
}

const deep = (n: number): unknown => {
  let v: unknown = [];
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

/** Values that are never strings. */
const notString: Gen[] = [() => 1, (r) => r.pick(HUGE), () => true, () => [], () => ({}), (r) => [randomString(r)], (r) => ({ s: randomString(r) }), (r) => new Raw(r.pick(RAW_NUMS))];
const notNumber: Gen[] = [(r) => String(r.int(1, 9)), () => '', () => true, () => [], () => ({}), (r) => [r.int(1, 5)], (r) => randomString(r)];
const notArray: Gen[] = [() => 1, () => 'x', () => true, () => ({}), (r) => ({ 0: r.int(1, 5) }), (r) => randomString(r)];
const notObject: Gen[] = [() => 1, () => 'x', () => true, () => [], (r) => [{ a: r.int(1, 3) }], (r) => r.pick(HUGE)];
const nullGen: Gen[] = [() => null];
const deepGen: Gen[] = [
  (r) => deep(r.int(129, 400)),
  // Deep enough to overflow a recursive walk: sent as text (JSON.stringify would overflow here).
  (r) => {
    const n = r.int(2000, 50_000);
    return new Raw(r.chance(0.5) ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + 'null' + '}'.repeat(n));
  },
];

const BAD = {
  nonEmpty: [...notString, ...nullGen, () => '', (r: Rng) => longString(r, 257)],
  optNonEmpty: [...notString, ...nullGen, () => '', (r: Rng) => longString(r, 257)],
  typeName: [...notString, ...nullGen, () => '', () => 'Mail', () => 'a b', () => '-lead', () => '.dot', (r: Rng) => `x${r.pick(['✓', 'é', ' ', '/', '#', '?'])}y`, (r: Rng) => 'a'.repeat(129 + r.int(0, 50))],
  /** A task's `type`: a string naming no type, or not a string. */
  taskType: [...notString, ...nullGen, () => '', (r: Rng) => `zz-${randomString(r)}`, (r: Rng) => longString(r, 300)],
  duration: [() => -1, () => 1.5, (r: Rng) => r.pick([1e300, -1e300, 9007199254740993]), () => 'soon', () => '', () => '-5s', () => '5 parsecs', () => 'P99999999999Y', () => '99999999999999999d', () => true, () => [], () => ({}), () => new Raw('1e400')],
  count: [() => -1, () => 1.5, () => -0.5, (r: Rng) => r.pick([1e300, -1e300, 9007199254740993]), ...notNumber, () => new Raw('1e400')],
  positiveCount: [() => 0, () => -1, () => 1.5, () => 1e300, ...notNumber, ...nullGen],
  factor: [() => 0, () => -1, () => -1e308, () => new Raw('1e400'), ...notNumber, ...nullGen],
  string10k: [...notString, ...nullGen, (r: Rng) => longString(r, 10_001)],
  policy: [() => 'sometimes', () => '', () => 'ONESHOT', ...notString, ...nullGen],
  priority: [() => 'urgent', () => '', () => 'none', () => 'HIGH', ...notString],
  runEndStatus: [() => 'scheduled', () => 'started', () => 'done', () => '', () => 'EVENTFUL', (r: Rng) => randomString(r), ...notString, ...nullGen],
  logLevel: [() => 'fatal', () => 'trace', () => '', () => 'INFO', ...notString, ...nullGen],
  coreInstant: [() => 'tomorrow', () => '', () => 'P1D', () => '2030-13-45T99:00:00Z', () => '2030-02-30', () => '+275760-09-13T00:00:00.001Z', () => 1, () => true, () => [], () => ({}), () => null],
  // A date alone, no offset, or a space for the T are instants read as UTC (docs/http.md), not bad input.
  isoInstant: [() => 'tomorrow', () => '', () => '2030-02-30T00:00:00Z', () => '2030-01-01T00:00:00+99:99', () => '2030-13-01', () => ' 2030-01-01', ...notString, ...nullGen],
  metadata: [...notObject, ...nullGen, (r: Rng) => ({ x: new Raw(r.pick(['1e400', '-1e400'])) }), ...deepGen],
  result: [() => new Raw('1e400'), (r: Rng) => [1, { a: new Raw(r.pick(['1e400', '-1e400'])) }], ...deepGen],
  error: [...notString, (r: Rng) => longString(r, 1_000_001)],
  retryAfterMs: [() => -1, () => 1.5, () => 1e300, () => Number.MAX_SAFE_INTEGER, () => 3_153_600_000_001, ...notNumber, ...nullGen],
  limit: [() => 0, () => -1, () => 1001, () => 1.5, () => 1e308, () => -1e308, ...notNumber, ...nullGen, () => new Raw('1e400')],
  ids: [() => [], () => [0], () => [-1], () => [1.5], () => ['1'], () => [null], () => [1e300], () => [1, 'x'], () => [[1]], ...notArray, ...nullGen, () => Array.from({ length: 10_001 }, (_, i) => i + 1)],
  types: [() => [], () => [''], () => [1], () => [null], (r: Rng) => [longString(r, 257)], () => ['mail', {}], ...notArray, ...nullGen, () => Array.from({ length: MAX_WORKER_TYPES + 1 }, (_, i) => `t${i}`)],
  reason: [...notString, ...nullGen, (r: Rng) => longString(r, 10_001)],
  message: [...notString, ...nullGen, (r: Rng) => longString(r, 100_001)],
  attributes: [...notObject, ...nullGen],
  schedule: [() => 'daily', () => 1, () => true, () => [], () => ({}), () => ({ kind: 'cron' }), () => ({ kind: 'cron', expr: 'bad' }), () => ({ kind: 'cron', expr: '* * * * *', tz: 'Mars/Base' }), () => ({ kind: 'rrule', rule: '' }), () => ({ kind: 'rrule', rule: 'FREQ=NOPE' }), () => ({ kind: 'bogus' }), () => ({ kind: 'adaptive', every: 5 })],
} satisfies Record<string, Gen[]>;

// --- body specs: a valid template and, per field, values that make it invalid -----------------
interface FieldSpec {
  required?: boolean;
  bad: Gen[];
  /** A nested strict object whose own fields can be broken instead. */
  object?: ObjSpec;
  /** An array of strict objects: break one element. */
  elements?: ObjSpec;
}
interface ObjSpec {
  template: (ctx: Ctx) => Record<string, unknown>;
  fields: Record<string, FieldSpec>;
}
interface Ctx {
  scheduled: string[];
  started: string[];
  ended: string[];
  taskIds: number[];
  disabledIds: number[];
}

const argumentsSpec: ObjSpec = {
  template: (): Record<string, unknown> => ({ args: [99], kwargs: { k: 'v' } }),
  fields: {
    args: { bad: [...notArray, ...nullGen, () => [new Raw('1e400')], () => [deep(200)]] },
    kwargs: { bad: [...notObject, ...nullGen, () => ({ a: new Raw('-1e400') })] },
  },
};
const taskSpec: ObjSpec = {
  template: () => ({ type: 'mail', arguments: { args: [99], kwargs: {} }, priority: 'low', policy: 'recurring', nextRun: T0, retriesLeft: 1 }),
  fields: {
    type: { required: true, bad: BAD.taskType },
    arguments: { bad: [...notObject, ...nullGen, () => ({ args: [1], extra: true })], object: argumentsSpec },
    policy: { bad: BAD.policy },
    schedule: { bad: BAD.schedule },
    nextRun: { bad: BAD.coreInstant },
    priority: { bad: BAD.priority },
    retriesLeft: { bad: [...BAD.count, ...nullGen] },
  },
};
const taskTypeSpec: ObjSpec = {
  template: () => ({ name: 'fuzz-type', description: 'd', backendName: 'fuzz', defaultIntervalMs: 60_000, backoffFactor: 2, maxQueueLength: 10, numRetries: 1, retryDelayMs: '1m', timeoutMs: null, leaseMs: '30s', maxAbandons: 2 }),
  fields: {
    name: { required: true, bad: BAD.typeName },
    description: { bad: BAD.string10k },
    backendName: { bad: [...notString, ...nullGen, () => '', () => 'has space', (r) => longString(r, 257)] },
    defaultIntervalMs: { bad: BAD.duration },
    minIntervalMs: { bad: [...BAD.duration, () => 120_000] },
    maxIntervalMs: { bad: [...BAD.duration, () => 1000] },
    backoffFactor: { bad: BAD.factor },
    maxQueueLength: { bad: BAD.count },
    numRetries: { bad: [...BAD.count, ...nullGen] },
    retryDelayMs: { bad: [...BAD.duration, ...nullGen] },
    timeoutMs: { bad: [...BAD.duration, () => 0] },
    leaseMs: { bad: [...BAD.duration, ...nullGen, () => 999, () => '0s'] },
    maxAbandons: { bad: BAD.positiveCount },
  },
};
const endItemSpec: ObjSpec = {
  template: (c) => ({ backendId: c.started[0], worker: 'w1', status: 'eventful', result: { ok: 1 }, metadata: { m: 1 }, error: null, retryAfterMs: 1000 }),
  fields: {
    backendId: { required: true, bad: BAD.nonEmpty },
    worker: { required: true, bad: BAD.nonEmpty },
    status: { required: true, bad: BAD.runEndStatus },
    // Only values the HTTP contract refuses: an item the service refuses gets its own outcome in a
    // 200 reply while the other items end (a write), so e.g. a non-finite `result` is no good here.
    metadata: { bad: [...notObject, ...nullGen, ...deepGen] },
    result: { bad: deepGen },
    error: { bad: BAD.error },
    retryAfterMs: { bad: BAD.retryAfterMs },
    at: { bad: [() => T0] }, // /jobboard/end takes no `at`
  },
};
const logRecordSpec: ObjSpec = {
  template: () => ({ at: T0, level: 'info', message: 'm', attributes: { a: 1 } }),
  fields: {
    at: { required: true, bad: BAD.isoInstant },
    level: { required: true, bad: BAD.logLevel },
    message: { required: true, bad: BAD.message },
    attributes: { bad: [...BAD.attributes, ...deepGen] },
  },
};

interface BodyRoute {
  path: (c: Ctx, r: Rng) => string;
  spec: ObjSpec;
}
const runPath = (suffix: string) => (c: Ctx, r: Rng) => {
  const id = r.chance(0.8) ? r.pick([...c.scheduled, ...c.started, ...c.ended]) : r.pick([randomString(r, 12), longString(r, 257)]);
  return `/api/runs/${enc(id)}/${suffix}`;
};
const BODY_ROUTES: Record<string, BodyRoute> = {
  'post /task-types': { path: () => '/api/task-types', spec: taskTypeSpec },
  'post /tasks': { path: () => '/api/tasks', spec: taskSpec },
  'post /tasks/batch': {
    path: () => '/api/tasks/batch',
    spec: {
      template: () => ({ tasks: [taskSpec.template({} as Ctx), { type: 'sync', policy: 'oneshot', arguments: { args: [7] } }] }),
      fields: { tasks: { required: true, bad: [() => [], ...notArray, ...nullGen, () => [null], () => [1], () => [[]], () => [{ type: 'zz-none' }]], elements: taskSpec } },
    },
  },
  'post /tasks/disable': {
    path: () => '/api/tasks/disable',
    spec: { template: (c) => ({ ids: [c.taskIds[0]] }), fields: { ids: { required: true, bad: BAD.ids } } },
  },
  'post /tasks/respawn': {
    path: () => '/api/tasks/respawn',
    spec: { template: (c) => ({ ids: [c.disabledIds[0]], nextRun: '2030-01-02T00:00:00Z' }), fields: { ids: { required: true, bad: BAD.ids }, nextRun: { bad: BAD.isoInstant } } },
  },
  'post /tasks/schedule': {
    path: () => '/api/tasks/schedule',
    spec: { template: () => ({ type: 'mail', at: T0 }), fields: { type: { bad: BAD.optNonEmpty }, at: { bad: BAD.isoInstant } } },
  },
  'post /runs/:backendId/start': {
    path: runPath('start'),
    spec: {
      template: () => ({ worker: 'ext', metadata: { a: 1 }, at: T0 }),
      fields: { worker: { bad: BAD.optNonEmpty }, metadata: { bad: BAD.metadata }, at: { bad: BAD.isoInstant } },
    },
  },
  'post /runs/:backendId/cancel': {
    path: runPath('cancel'),
    spec: { template: () => ({ at: T0 }), fields: { at: { bad: BAD.isoInstant } } },
  },
  'post /runs/:backendId/end': {
    path: runPath('end'),
    spec: {
      template: () => ({ status: 'eventful', worker: 'w1', metadata: {}, result: [1], error: 'e', retryAfterMs: 5, at: T0 }),
      fields: {
        status: { required: true, bad: BAD.runEndStatus },
        worker: { bad: BAD.optNonEmpty },
        metadata: { bad: BAD.metadata },
        result: { bad: BAD.result },
        error: { bad: BAD.error },
        retryAfterMs: { bad: BAD.retryAfterMs },
        at: { bad: BAD.isoInstant },
      },
    },
  },
  'post /jobboard/claim': {
    path: () => '/api/jobboard/claim',
    spec: {
      template: () => ({ worker: 'w9', types: ['mail', 'sync'], limit: 5 }),
      fields: { worker: { required: true, bad: BAD.nonEmpty }, types: { required: true, bad: BAD.types }, limit: { required: true, bad: BAD.limit } },
    },
  },
  'post /jobboard/held': { path: () => '/api/jobboard/held', spec: { template: () => ({ worker: 'w1' }), fields: { worker: { required: true, bad: BAD.nonEmpty } } } },
  'post /jobboard/heartbeat-runs': {
    path: () => '/api/jobboard/heartbeat-runs',
    spec: {
      template: (c) => ({ worker: 'w1', runs: [{ backendId: c.started[0] }] }),
      fields: { worker: { required: true, bad: BAD.nonEmpty }, runs: { required: true, bad: [...notArray, ...nullGen, () => [null], () => [1], () => [{ backendId: '' }], () => [{ backendId: 'x', startedAt: 'soon' }]] } },
    },
  },
  'post /jobboard/release': {
    path: () => '/api/jobboard/release',
    spec: {
      template: () => ({ worker: 'w1', backendIds: ['none'] }),
      fields: { worker: { required: true, bad: BAD.nonEmpty }, backendIds: { required: true, bad: [...notArray, ...nullGen, () => [null], () => [1], () => ['']] } },
    },
  },
  'post /jobboard/heartbeat': {
    path: () => '/api/jobboard/heartbeat',
    spec: { template: (c) => ({ backendId: c.started[0], worker: 'w1' }), fields: { backendId: { required: true, bad: BAD.nonEmpty }, worker: { required: true, bad: BAD.nonEmpty } } },
  },
  'post /jobboard/end': {
    path: () => '/api/jobboard/end',
    spec: {
      template: (c) => ({ items: [endItemSpec.template(c), { backendId: c.started[1], worker: 'w1', status: 'failed' }] }),
      fields: { items: { required: true, bad: [() => [], ...notArray, ...nullGen, () => [null], () => [1], () => Array.from({ length: 1001 }, () => ({ backendId: 'x', worker: 'w', status: 'lost' }))], elements: endItemSpec } },
    },
  },
  'post /jobboard/abandon': {
    path: () => '/api/jobboard/abandon',
    spec: {
      template: (c) => ({ backendId: c.started[0], worker: 'w1', reason: 'r' }),
      fields: { backendId: { required: true, bad: BAD.nonEmpty }, worker: { required: true, bad: BAD.nonEmpty }, reason: { bad: BAD.reason } },
    },
  },
  'post /jobboard/logs': {
    path: () => '/api/jobboard/logs',
    spec: {
      template: (c) => ({ backendId: c.started[0], records: [logRecordSpec.template(c)] }),
      fields: {
        backendId: { required: true, bad: BAD.nonEmpty },
        records: { required: true, bad: [...notArray, ...nullGen, () => [null], () => [1], () => [[]], () => Array.from({ length: 10_001 }, () => ({ at: T0, level: 'info', message: '' }))], elements: logRecordSpec },
      },
    },
  },
};

const UNKNOWN_KEYS = ['bogus', 'x', '', ' ', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'ÿñíçødé', '😀', 'a'.repeat(300), 'Type', 'STATUS', 'worker ', 'ids[]', 'a.b', '$ref'];

/** Breaks a valid object by exactly one guaranteed-invalid change (possibly deep inside it). */
function breakObject(r: Rng, spec: ObjSpec, obj: Record<string, unknown>): Record<string, unknown> {
  const names = Object.keys(spec.fields);
  const required = names.filter((n) => spec.fields[n]!.required);
  const nested = names.filter((n) => spec.fields[n]!.object || spec.fields[n]!.elements);
  const roll = r.next();
  if (roll < 0.12) {
    let key = r.pick(UNKNOWN_KEYS);
    if (names.includes(key)) key = `${key}_`;
    return withKey(obj, key, garbage(r));
  }
  if (roll < 0.22 && required.length > 0) {
    const { [r.pick(required)]: _gone, ...rest } = obj;
    return rest;
  }
  if (roll < 0.35 && nested.length > 0) {
    const name = r.pick(nested);
    const f = spec.fields[name]!;
    if (f.object) return { ...obj, [name]: breakObject(r, f.object, f.object.template(ctx)) };
    const arr = [...((obj[name] as Record<string, unknown>[] | undefined) ?? [f.elements!.template(ctx)])];
    if (arr.length === 0) arr.push(f.elements!.template(ctx));
    const i = r.int(0, arr.length - 1);
    arr[i] = breakObject(r, f.elements!, arr[i]!);
    return { ...obj, [name]: arr };
  }
  const name = r.pick(names);
  return { ...obj, [name]: r.pick(spec.fields[name]!.bad)(r) };
}

/** Text neither store can hold (docs/http.md, "Values both stores can hold"). */
const BAD_TEXT = ['\u0000', 'a\u0000b', '\ud800', 'x\udfff', '\udbff\u0000', '\udc00\ud800'];

/**
 * A valid body with one string leaf, or one object key, made unstorable: a NUL or a lone surrogate
 * anywhere. Each must be refused with 400 naming a field; before the check, most would have written.
 */
function withBadText(r: Rng, valid: unknown): unknown {
  const v = JSON.parse(JSON.stringify(valid)) as unknown;
  const spots: Array<() => void> = [];
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) {
      x.forEach((y, i) => (typeof y === 'string' ? spots.push(() => (x[i] = `${y}${r.pick(BAD_TEXT)}`)) : walk(y)));
    } else if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      for (const [k, y] of Object.entries(o)) {
        if (typeof y === 'string') spots.push(() => (o[k] = r.chance(0.5) ? `${r.pick(BAD_TEXT)}${y}` : `${y}${r.pick(BAD_TEXT)}`));
        else walk(y);
        if (y && typeof y === 'object' && !Array.isArray(y)) spots.push(() => ((y as Record<string, unknown>)[`k${r.pick(BAD_TEXT)}`] = 1));
      }
    }
  };
  walk(v);
  if (spots.length === 0 || r.chance(0.1)) return withKey(v as Record<string, unknown>, `k${r.pick(BAD_TEXT)}`, 'x');
  r.pick(spots)();
  return v;
}

// --- request generators ---------------------------------------------------------------------------
interface FuzzRequest {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

const AUTH = { authorization: `Bearer ${TOKEN}` };
const BAD_AUTH: Array<Record<string, string>> = [{}, { authorization: 'Bearer nope' }, { authorization: TOKEN }, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Bearer ${TOKEN.toUpperCase()}` }, { authorization: 'Basic Zm9vOmJhcg==' }];
const CONTENT_TYPES = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', ''];
const OTHER_METHODS = ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'FOO', 'GET', 'POST'];

function invalidJsonText(r: Rng, valid: string): string {
  switch (r.int(0, 11)) {
    case 0:
      return valid.slice(0, r.int(0, Math.max(0, valid.length - 1)));
    case 1:
      return `${valid},`;
    case 2:
      return valid.replace(/"/g, "'");
    case 3:
      return `{${valid}`;
    case 4:
      return r.pick(['NaN', 'undefined', 'Infinity', '-Infinity', '{a:1}', '{"a":01}', '{"a":1,}', '[1,]', '{"a" 1}', '\u0000', '{"a":"\u0001"}', '}{', "{'a':1}", '{"a":.5}', '{"a":+1}', '{"a":0x10}']);
    case 5:
      return randomString(r, r.int(1, 200));
    case 6:
      return `${valid}${valid}`;
    case 7:
      return `${valid} trailing`;
    case 8:
      return valid.replace(/:/, '');
    case 9:
      return '['.repeat(r.int(1, 50));
    case 10:
      return Buffer.from(valid).toString('base64');
    default:
      return `{"a":"${'\\u12'}"}`;
  }
}

/** Text of a body that is not a JSON object at all: empty, whitespace, or another top-level value. */
/**
 * A body that is not an object. An empty one (or only white space) is left out of routes whose body
 * fields are all optional: they take it as `{}` (docs/http.md).
 */
function nonObjectBody(r: Rng, template: Record<string, unknown>, routeKey: string): string {
  const [method, path] = routeKey.split(' ') as [string, string];
  const route = apiRoutes.find((x) => x.method === method && x.path === path);
  const optional = route?.body !== undefined && (route.body as { safeParse(v: unknown): { success: boolean } }).safeParse({}).success;
  return r.pick([...(optional ? [] : ['', ' ', '\n\t ']), 'null', 'true', 'false', '0', '-1', '1e400', '"a string"', '[]', '[null]', toJson([template]), toJson([template, template]), toJson(randomString(r))]);
}

function garbageSegment(r: Rng): string {
  return r.pick([
    () => enc(randomString(r)),
    () => String(r.int(-99, 99)),
    () => r.pick(['0', '-1', '1.5', '1e3', '01', '0x1', 'NaN', 'null', 'undefined', 'true', '%2F', '%252F', '%00', '%E0%A4%A', '%', '%%', '9999999999999999', '99999999999999999999', '+1', '%201', '1%20', '%091', '１']),
    () => enc(longString(r, r.pick([10, 257, 2000]))),
    () => 'abc',
  ])();
}

/** Everything Hono would consider the path: URL normalisation, then `decodeURI`. */
function effectivePath(p: string): string {
  const pathname = new URL(`http://localhost${p.startsWith('/') ? '' : '/'}${p}`).pathname; // as app.request builds it
  try {
    return decodeURI(pathname);
  } catch {
    return pathname;
  }
}

const TASK_ID = /^[1-9]\d{0,14}$/;
function decodedParam(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

let ctx: Ctx;

function generate(r: Rng, i: number): FuzzRequest {
  const roll = r.next();
  const headers: Record<string, string> = { ...AUTH };
  if (r.chance(0.3)) {
    const ct = r.pick(CONTENT_TYPES);
    if (ct) headers['content-type'] = ct;
  } else headers['content-type'] = 'application/json';
  const query = () => (r.chance(0.2) ? `?${enc(randomString(r, 5))}=${enc(randomString(r, 5))}` : '');

  // 1. POST bodies broken in one place (the bulk); now and then one over the size limit.
  const tooLarge = i % 1500 === 750;
  if (roll < 0.55 || tooLarge) {
    const entries = Object.entries(BODY_ROUTES).filter(([k]) => !tooLarge || k !== 'post /tasks/batch');
    const [key, route] = r.pick(entries);
    const valid = route.spec.template(ctx);
    const how = tooLarge ? 1 : r.next();
    let body: string;
    let kind: string;
    if (how < 0.7) {
      body = toJson(breakObject(r, route.spec, valid));
      kind = 'field';
    } else if (how < 0.85) {
      body = invalidJsonText(r, toJson(valid));
      kind = 'json';
    } else if (how < 1) {
      body = nonObjectBody(r, valid, key);
      kind = 'non-object';
    } else {
      // Over the 4 MB limit (every body route but /tasks/batch, whose limit is larger).
      body = toJson({ ...valid, pad: 'p'.repeat(4 * 1024 * 1024 + 10) });
      kind = 'too-large';
    }
    return { kind: `${kind} ${key}`, method: 'POST', path: route.path(ctx, r) + query(), headers, body };
  }

  // 2a. Unstorable text (NUL, lone surrogates) in a valid body, a path parameter or a query.
  if (roll < 0.62) {
    const where = r.int(0, 3);
    // A URL cannot carry a lone surrogate (it would be invalid UTF-8, and then the whole value stays
    // percent-encoded, `%00` included): NUL only there, between ASCII letters.
    const ascii = (n: number) => Array.from({ length: n }, () => String.fromCharCode(r.int(0x61, 0x7a))).join('');
    const withNul = () => `${ascii(r.int(0, 3))}%00${ascii(r.int(0, 3))}`;
    if (where === 0) {
      const seg = withNul();
      const path = r.pick([`/api/task-types/${seg}`, `/api/runs/${seg}`, `/api/runs/${seg}/logs`, `/api/dags/${seg}`]);
      return { kind: 'text param', method: 'GET', path, headers: { ...AUTH } };
    }
    if (where === 1) {
      const q = r.pick(['type', 'status', 'priority']);
      return { kind: 'text query', method: 'GET', path: `/api/tasks?${q}=${withNul()}`, headers: { ...AUTH } };
    }
    const [key, route] = r.pick(Object.entries(BODY_ROUTES));
    // A run route on a real run, so that the body, not the path, is what is refused.
    const path = key.startsWith('post /runs/') ? `/api/runs/${r.pick([...ctx.scheduled, ...ctx.started])}/${key.split('/').pop()!}` : route.path(ctx, r);
    return { kind: `text ${key}`, method: 'POST', path, headers: { ...AUTH, 'content-type': 'application/json' }, body: toJson(withBadText(r, route.spec.template(ctx))) };
  }

  // 2. GET routes with a bad path parameter or query.
  if (roll < 0.72) {
    const which = r.int(0, 4);
    if (which === 0) {
      // /api/tasks?...: at least one bad parameter, maybe some good ones.
      const good = ['type=mail', 'status=disabled', 'priority=none', 'policy=oneshot', 'disabledReason=manual', 'cursor=1', 'limit=5'];
      const bad = [
        `status=${enc(r.pick(['sleeping', '', 'DISABLED', randomString(r)]))}`,
        `priority=${r.pick(['urgent', '', 'NONE', '1'])}`,
        `policy=${r.pick(['x', ''])}`,
        `disabledReason=${r.pick(['x', '', 'Manual'])}`,
        `limit=${enc(r.pick(['0', '-1', '1001', 'abc', '1.5', '', 'Infinity', '1e308', '-0', ' ', 'NaN']))}`,
        `cursor=${enc(r.pick(['abc', '-1', '1.5', '', '9999999999999999', '0x1', ' 1', randomString(r)]))}`,
        `type=${r.chance(0.5) ? '' : enc(longString(r, 257))}`,
        `${enc(r.pick(UNKNOWN_KEYS.filter((k) => k !== '')))}=${enc(randomString(r))}`,
      ];
      // The bad parameter's name appears once only (a repeated name is read from its first value).
      const broken = r.pick(bad);
      const name = broken.split('=')[0];
      const parts = [broken, ...Array.from({ length: r.int(0, 3) }, () => r.pick(good)).filter((g) => g.split('=')[0] !== name)];
      parts.sort(() => r.next() - 0.5);
      return { kind: 'query /tasks', method: r.pick(['GET', 'HEAD']), path: `/api/tasks?${parts.join('&')}`, headers };
    }
    if (which === 1 || which === 2) {
      let seg = garbageSegment(r);
      while (TASK_ID.test(decodedParam(seg)) || seg === '' || seg === '.' || seg === '..') seg = `${seg}x`;
      return { kind: 'param /tasks/:id', method: 'GET', path: `/api/tasks/${seg}${which === 2 ? '/runs' : ''}${query()}`, headers };
    }
    if (which === 3) {
      const seg = r.chance(0.5) ? enc(longString(r, 129)) : `zz${garbageSegment(r)}`;
      return { kind: 'param /task-types/:name', method: 'GET', path: `/api/task-types/${seg}${query()}`, headers };
    }
    const seg = r.chance(0.4) ? enc(longString(r, 257)) : `zz${garbageSegment(r)}`;
    return { kind: 'param /runs/:backendId', method: 'GET', path: `/api/runs/${seg}${r.chance(0.5) ? '/logs' : ''}${query()}`, headers };
  }

  // 3. Wrong methods and unknown paths (bodies may be anything, even valid JSON).
  if (roll < 0.95) {
    for (;;) {
      let path: string;
      if (r.chance(0.6)) {
        const route = r.pick(routes);
        path = `/api${route.path.replace(/:(\w+)/g, () => (r.chance(0.5) ? '1' : ctx.started[0]!))}`;
        if (r.chance(0.3)) path += r.pick(['/', '/x', '//', '/1', '/..x', '/%2e%2e%2fx']);
      } else {
        const segs = Array.from({ length: r.int(0, 5) }, () => (r.chance(0.4) ? r.pick(['api', 'tasks', 'runs', 'jobboard', 'task-types', 'logs', 'events', 'API', 'Tasks', '']) : garbageSegment(r)));
        path = `${r.chance(0.7) ? '/api/' : '/'}${segs.join('/')}`;
      }
      path += query();
      const method = r.pick(OTHER_METHODS);
      if (templateOf(method, effectivePath(path)) !== null) continue; // an existing route: not malformed
      const withBody = method !== 'GET' && method !== 'HEAD' && r.chance(0.7);
      return { kind: `route ${method}`, method, path, headers, ...(withBody ? { body: r.chance(0.5) ? toJson(garbage(r)) : randomString(r, r.int(0, 100)) } : {}) };
    }
  }

  // 4. A well-formed request (even a valid one that would write) without the right token.
  const [key, route] = r.pick(Object.entries(BODY_ROUTES));
  const bad = r.pick(BAD_AUTH);
  const h: Record<string, string> = { 'content-type': 'application/json', ...bad };
  if (r.chance(0.3)) {
    const get = r.pick(['/api/task-types', '/api/tasks', '/api/tasks/1', '/api/tasks/1/runs', `/api/runs/${ctx.started[0]}`, '/api/openapi.json', '/api/events', '/api/nope']);
    return { kind: 'auth GET', method: 'GET', path: get, headers: h };
  }
  return { kind: `auth ${key}`, method: 'POST', path: route.path(ctx, r), headers: h, body: toJson(route.spec.template(ctx)) };
}

// --- the test ------------------------------------------------------------------------------------
let h: HttpHarness;
let before: Record<string, unknown[]>;

async function seed(h: HttpHarness): Promise<Ctx> {
  const o = h.orrery;
  await o.createTaskType({ name: 'mail', defaultIntervalMs: 60_000, numRetries: 1 });
  await o.createTaskType({ name: 'sync' });
  await o.createTaskType({ name: 'report', defaultIntervalMs: '1d' });
  await o.createTasks([
    { type: 'mail', arguments: { args: [1] } },
    { type: 'mail', arguments: { args: [2] }, priority: 'high' },
    { type: 'mail', arguments: { args: [3] } },
    { type: 'mail', arguments: { args: [4] } },
    { type: 'sync', policy: 'oneshot', arguments: { kwargs: { id: 'a' } } },
    { type: 'sync', policy: 'oneshot', arguments: { kwargs: { id: 'b' } } },
    { type: 'report', schedule: { kind: 'cron', expr: '0 * * * *', tz: 'UTC' } },
    { type: 'mail', arguments: { args: [5] }, nextRun: new Date('2030-06-01T00:00:00Z') },
  ]);
  const runs = await o.scheduleDue();
  const claimed = await o.claimRuns({ worker: 'w1', types: ['mail'], limit: 3 });
  const syncRuns = runs.filter((r) => r.type === 'sync');
  await o.startRun(syncRuns[0]!.backendId, { worker: 'ext' });
  await o.endRun(syncRuns[0]!.backendId, { status: 'eventful', worker: 'ext', result: { done: true } });
  await o.appendRunLogs(claimed[0]!.run.backendId, [{ at: new Date(T0), level: 'info', message: 'hello', attributes: { a: 1 } }]);
  const [disabled] = await o.disableTasks([4]);
  const all = await o.searchTasks({});
  const allRuns = (await Promise.all(all.map((t) => o.listRuns(t.id)))).flat();
  return {
    scheduled: allRuns.filter((r) => r.status === 'scheduled').map((r) => r.backendId),
    started: claimed.map((c) => c.run.backendId),
    ended: allRuns.filter((r) => r.ended !== null).map((r) => r.backendId),
    taskIds: all.map((t) => t.id),
    disabledIds: [disabled!.id],
  };
}

beforeAll(async () => {
  h = await openHttp({ token: TOKEN });
  ctx = await seed(h);
  expect(ctx.scheduled.length).toBeGreaterThan(0);
  expect(ctx.started.length).toBe(3);
  expect(ctx.ended.length).toBeGreaterThan(0);
  before = dumpDatabase(h.dbPath);
});
afterAll(async () => {
  await h?.close();
});

describe(`fuzz: ${COUNT} malformed requests (seed ${SEED})`, () => {
  it('the database dump sees a write made through the service', async () => {
    const other = await openHttp();
    try {
      await other.orrery.createTaskType({ name: 'a' });
      const one = dumpDatabase(other.dbPath);
      expect(one.task_types).toHaveLength(1);
      await other.orrery.createTasks([{ type: 'a', policy: 'oneshot' }]);
      expect(dumpDatabase(other.dbPath)).not.toEqual(one);
    } finally {
      await other.close();
    }
  });

  it('the generator is deterministic', () => {
    const a = new Rng(mulberry32(SEED));
    const b = new Rng(mulberry32(SEED));
    for (let i = 0; i < 200; i++) expect(generate(a, i)).toEqual(generate(b, i));
  });

  // The timeout guards against a hang only: 10,000 requests in process take some 10 s of CPU, more on a busy machine.
  it('never a 5xx, always the error shape, no crash, and the database is unchanged', { timeout: 300_000 }, async () => {
    const crashes: unknown[] = [];
    const onCrash = (e: unknown) => crashes.push(e);
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    const r = new Rng(mulberry32(SEED));
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const kinds = new Map<string, number>();
    const touched = new Set<string>();
    const started = Date.now();
    try {
      for (let i = 0; i < COUNT; i++) {
        const req = generate(r, i);
        const kind = req.kind.split(' ')[0]!;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        const hit = templateOf(req.method, effectivePath(req.path));
        if (hit) touched.add(`${req.method === 'HEAD' ? 'GET' : req.method} ${hit}`);
        for (const x of routes) if (req.path.startsWith(`/api${x.path.split('/:')[0]}`)) touched.add(`near ${x.method} ${x.path}`);
        let res: Response;
        try {
          res = await h.app.request(req.path, { method: req.method, headers: req.headers, ...(req.body !== undefined ? { body: req.body } : {}) });
        } catch (e) {
          failures.push(`#${i} ${req.kind} ${req.method} ${req.path.slice(0, 100)}: threw ${String(e)}`);
          continue;
        }
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const describe = () => `#${i} ${req.kind} ${req.method} ${req.path.slice(0, 100)} ${String(req.body).slice(0, 160)} -> ${res.status}`;
        if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
          await res.body?.cancel();
          failures.push(`${describe()}: opened an event stream`);
          continue;
        }
        const text = await res.text();
        if (!ALLOWED.includes(res.status)) {
          failures.push(`${describe()} ${text.slice(0, 200)}`);
          continue;
        }
        if (req.method === 'HEAD') continue; // no body by definition
        try {
          const e = errorOf(JSON.parse(text));
          // Unstorable text is refused as such: 400 naming the field, never another error first.
          if (kind === 'text' && (res.status !== 400 || !/NUL|surrogate/.test(e.message) || !e.details[0]?.path)) failures.push(`${describe()}: not refused for its text: ${text.slice(0, 200)}`);
        } catch (e) {
          failures.push(`${describe()}: not the error shape: ${text.slice(0, 200)} (${String(e)})`);
        }
        if (failures.length > 20) break;
      }
    } finally {
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
    }
    const elapsed = Date.now() - started;
    expect(failures).toEqual([]);
    expect(crashes).toEqual([]);

    // Enough requests of every kind, across every route.
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(10_000);
    for (const k of ['field', 'json', 'non-object', 'too-large', 'text', 'query', 'param', 'route', 'auth']) expect(kinds.get(k) ?? 0, k).toBeGreaterThan(0);
    for (const x of routes) expect(touched.has(`near ${x.method} ${x.path}`), `${x.method} ${x.path}`).toBe(true);
    for (const key of Object.keys(BODY_ROUTES)) {
      const [m, p] = key.split(' ');
      expect(routes.some((x) => x.method === m && x.path === p), key).toBe(true);
    }
    expect(routes.filter((x) => x.method === 'post').length).toBe(Object.keys(BODY_ROUTES).length);
    for (const s of [400, 401, 404, 413]) expect(statuses.get(s) ?? 0, `status ${s}`).toBeGreaterThan(0);
    console.log(`fuzz: ${total} requests in ${elapsed} ms; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; kinds ${JSON.stringify(Object.fromEntries(kinds))}`);

    // The database is exactly as seeded, and the app still answers.
    expect(dumpDatabase(h.dbPath)).toEqual(before);
    const alive = await h.call('GET', '/api/task-types', undefined, { headers: AUTH });
    expect(alive.status).toBe(200);
    expect((alive.body as { name: string }[]).map((t) => t.name)).toEqual(['mail', 'report', 'sync']);
  });
});
