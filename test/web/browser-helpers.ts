/**
 * What the browser tests of the dashboard share: a real `orrery serve` (the built bin/orrery.js) on a
 * temporary SQLite file, headless Debian chromium, and a wait that names what it waited for.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'orrery.js');
export const HANDLERS = join(ROOT, 'test', 'fixtures', 'web-handlers.ts');
export const SHOTS = process.env.ORRERY_SCREENSHOTS ? join(ROOT, process.env.ORRERY_SCREENSHOTS) : null;
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export interface Server {
  child: ChildProcess;
  url: string;
  api: (method: string, path: string, body?: unknown) => Promise<any>;
}

export function chromiumPath(): string {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not installed: apt-get install -y chromium (.ci/run does it)');
  }
}

/** Starts `orrery serve` on a fresh SQLite file and a free port; resolves once it listens. */
export async function startServe(dir: string, name: string, extra: string[] = [], token?: string): Promise<Server> {
  const db = join(dir, `${name}.db`);
  const child = spawn(process.execPath, [BIN, 'serve', '--db', `sqlite:${db}`, '--handlers', HANDLERS, '--port', '0', '--poll', '200ms', '--log-format', 'json', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: withoutToken(),
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // Under heavy load (a shared 2-core machine) starting node, tsx and the handlers file has taken over 20 s.
  const deadline = Date.now() + 55_000;
  while (!/"port":(\d+)/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = `http://127.0.0.1:${/"port":(\d+)/.exec(out)![1]}`;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/api${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return { child, url, api };
}

export async function until<T>(check: () => Promise<T>, what: string, ms = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** This process's environment without $ORRERY_API_TOKEN (an empty one is refused): serve runs without a token. */
function withoutToken(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.ORRERY_API_TOKEN;
  return env;
}
