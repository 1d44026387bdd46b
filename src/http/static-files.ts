import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { Context } from 'hono';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** The dashboard only talks to its own origin: no inline script, no third-party anything, no framing. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * Serves the built dashboard (`dist/web`) for GET and HEAD outside `/api`: a file when the path names
 * one inside the root (never outside it), else `index.html`, so deep links such as `/dags/daily-etl`
 * load the app, which routes in the browser. Hashed assets (`/assets/...`) are cached for a year;
 * `index.html` is revalidated every time. Returns null when the path is not the dashboard's.
 */
export function staticFiles(root: string): (c: Context) => Promise<Response | null> {
  const base = resolve(root);
  return async (c) => {
    const path = c.req.path;
    if (path === '/api' || path.startsWith('/api/')) return null;
    let rel: string;
    try {
      rel = decodeURIComponent(path);
    } catch {
      return null;
    }
    if (rel.includes('\0')) return null;
    const file = resolve(join(base, rel));
    if (file !== base && !file.startsWith(base + sep)) return null;
    const found = await isFile(file);
    // A missing asset is a 404 (a stale page asking for an old bundle, a top-level /favicon.ico), not
    // the app; a deeper path is the app's, dots included (`/types/orrery.dag`, `/dags/etl.v2`).
    if (!found && (rel.startsWith('/assets/') || (extname(rel) !== '' && rel.lastIndexOf('/') === 0))) return null;
    const target = found ? file : join(base, 'index.html');
    let body: Buffer;
    try {
      body = await readFile(target);
    } catch {
      return null; // not built
    }
    const immutable = found && rel.startsWith('/assets/');
    return c.body(new Uint8Array(body), 200, {
      'content-type': TYPES[extname(target)] ?? 'application/octet-stream',
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...SECURITY_HEADERS,
    });
  };
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}
