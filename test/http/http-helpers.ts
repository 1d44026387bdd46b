import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Hono } from 'hono';
import { ManualClock } from '../../src/engine/clock.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createHttpApp, type HttpOptions } from '../../src/http/app.js';
import { apiRoutes } from '../../src/http/api-routes.js';

export const T0 = '2030-01-01T00:00:00.000Z';
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface Reply {
  status: number;
  /** Parsed JSON, or the raw text when the body is not JSON, or null when empty. */
  body: any;
  text: string;
  headers: Headers;
}

/** One request as sent and answered, with the route template it hit (OpenAPI form: `/api/tasks/{id}`). */
export interface Exchange {
  method: string;
  path: string;
  template: string | null;
  requestBody: unknown;
  /** True when the request body was sent as given text rather than as JSON of `requestBody`. */
  raw: boolean;
  status: number;
  body: unknown;
  contentType: string | null;
}

export interface CallInit {
  /** Send this text as the body instead of JSON.stringify(body). */
  raw?: string;
  headers?: Record<string, string>;
}

/** Route templates (`/api/tasks/:id`) as regular expressions, plus the routes mounted outside `routes`. */
const TEMPLATES: Array<{ method: string; template: string; re: RegExp }> = [
  ...apiRoutes.map((r) => ({
    method: r.method.toUpperCase(),
    template: `/api${r.path.replace(/:(\w+)/g, '{$1}')}`,
    re: new RegExp(`^/api${r.path.replace(/:\w+/g, '[^/]+')}$`),
  })),
  { method: 'GET', template: '/api/openapi.json', re: /^\/api\/openapi\.json$/ },
  { method: 'GET', template: '/api/events', re: /^\/api\/events$/ },
  { method: 'GET', template: '/healthz', re: /^\/healthz$/ },
  { method: 'GET', template: '/readyz', re: /^\/readyz$/ },
  { method: 'GET', template: '/metrics', re: /^\/metrics$/ },
];

/** The route template a request hits, or null when no route has this method and path. */
export function templateOf(method: string, path: string): string | null {
  const p = path.split('?')[0]!;
  const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
  // Static segments win over parameters (`/tasks/batch` before `/tasks/:id`), as in Hono.
  const hits = TEMPLATES.filter((t) => t.method === m && t.re.test(p));
  hits.sort((a, b) => a.template.split('{').length - b.template.split('{').length);
  return hits[0]?.template ?? null;
}

export interface HttpHarness {
  app: Hono;
  orrery: Orrery;
  clock: ManualClock;
  dbPath: string;
  /** Every exchange made through `call`, in order. */
  log: Exchange[];
  call(method: string, path: string, body?: unknown, init?: CallInit): Promise<Reply>;
  close(): Promise<void>;
}

/** Orrery on a fresh SQLite file with a manual clock at T0, and its HTTP app. */
export async function openHttp(opts: HttpOptions = {}): Promise<HttpHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-http-'));
  const dbPath = join(dir, 'orrery.db');
  const clock = new ManualClock(T0);
  const orrery = await openOrrery({ db: `sqlite:${dbPath}`, clock });
  const app = createHttpApp(orrery, opts);
  const log: Exchange[] = [];
  const call = async (method: string, path: string, body?: unknown, init: CallInit = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    let payload: string | undefined = init.raw;
    if (payload === undefined && body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    const res = await app.request(path, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await res.text();
    let parsed: unknown = null;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    log.push({
      method: method.toUpperCase(),
      path,
      template: templateOf(method, path),
      requestBody: init.raw !== undefined ? init.raw : body,
      raw: init.raw !== undefined,
      status: res.status,
      body: parsed,
      contentType: res.headers.get('content-type'),
    });
    return { status: res.status, body: parsed, text, headers: res.headers };
  };
  return {
    app,
    orrery,
    clock,
    dbPath,
    log,
    call,
    close: async () => {
      await orrery.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every row of every table, read through a separate read-only connection. */
export function dumpDatabase(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[];
    const out: Record<string, unknown[]> = {};
    for (const { name } of tables) out[name] = db.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}" ORDER BY rowid`).all();
    return out;
  } finally {
    db.close();
  }
}

/** Asserts the `{"error":{"code","message","details"}}` shape; returns the error. */
export function errorOf(body: unknown): { code: string; message: string; details: { path: string; message: string }[] } {
  const e = (body as { error?: unknown } | null)?.error as { code?: unknown; message?: unknown; details?: unknown } | undefined;
  const ok =
    !!e &&
    typeof e.code === 'string' &&
    typeof e.message === 'string' &&
    Array.isArray(e.details) &&
    e.details.every((d) => d && typeof d === 'object' && typeof (d as { path?: unknown }).path === 'string' && typeof (d as { message?: unknown }).message === 'string') &&
    Object.keys(body as object).length === 1 &&
    ['code,details,message', 'code,details,message,requestId'].includes(Object.keys(e).sort().join(',')); // requestId: on 5xx
  if (!ok) throw new Error(`not an error body: ${JSON.stringify(body)?.slice(0, 300)}`);
  return e as { code: string; message: string; details: { path: string; message: string }[] };
}
