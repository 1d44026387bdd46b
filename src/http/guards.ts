import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { findTextProblem, textProblem } from '../core/storable.js';
import { ValidationError } from '../core/errors.js';
import { inexactIntegerDetail } from '../core/exact-json.js';
import { PROTO_KEY } from '../core/validation.js';
import { HttpError } from './errors.js';
import { isLoopback } from './loopback.js';

/**
 * The HTTP server's request guards (docs/http.md, "Security"): request ids, loopback `Host` and
 * same-origin checks without a token, the JSON content type of bodies, and text a store can hold.
 */

/** A caller's `x-request-id` is kept when it is 1 to 128 of these characters; otherwise one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function requestIdOf(header: string | undefined): string {
  return header !== undefined && REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * What is wrong with a request's `Host` header, or null when it names a host and port a URL can hold:
 * missing, empty, characters no host name has (spaces, `%`), a port that is not 1 to 5 digits, or a
 * name the URL parser refuses (`127.999.0.1`, `[::1`, `xn--`). Checked before the app sees the request.
 */
export function hostHeaderProblem(host: string | undefined, rawHeaders: readonly string[] = []): string | null {
  if (host === undefined || host === '') return 'a Host header is required';
  // Node keeps the first of several, the adapter joins them ("a, b"): one request, one Host (RFC 9112 §3.2).
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'host') hosts += 1;
  if (hosts > 1) return `${hosts} Host headers: a request names one host`;
  const authority = parseAuthority(host);
  if (!authority || host.includes('%')) return `Host "${host}" is not a host name with an optional port`;
  try {
    new URL(`http://${authority.hostname}/`);
  } catch {
    return `Host "${host}" is not a valid host name`;
  }
  if (authority.port !== '' && Number(authority.port) > 65_535) return `Host "${host}" has a port above 65535`;
  return null;
}

/** `host[:port]` split; null when it is not a plausible authority. */
function parseAuthority(authority: string): { hostname: string; port: string } | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/@\s]+)(?::(\d{1,5}))?$/.exec(authority);
  return m ? { hostname: m[1]!, port: m[2] ?? '' } : null;
}

/** The `Host` a request names (the header, else the request URL's authority). */
function hostOf(c: Context): string {
  return c.req.header('host') ?? new URL(c.req.url).host;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Without a token the server trusts this machine only, so it refuses what a web page elsewhere can
 * make a browser send: a `Host` that is not a loopback name (DNS rebinding) gets 403, and a mutation
 * whose `Origin` is not the server's own origin gets 403. With a token, the token is the defence.
 */
export function checkSameSite(c: Context): void {
  const host = hostOf(c);
  const authority = parseAuthority(host);
  if (!authority || !isLoopback(authority.hostname)) {
    throw new HttpError('forbidden', `Host "${host}" is not a loopback name; without an API token only 127.0.0.1, localhost and [::1] are served`);
  }
  if (SAFE_METHODS.has(c.req.method)) return;
  const origin = c.req.header('origin');
  if (origin === undefined) return; // not sent by a browser: curl, the HTTP client, remote workers
  let same = false;
  try {
    const o = new URL(origin);
    const defaultPort = o.protocol === 'https:' ? '443' : '80';
    same =
      (o.protocol === 'http:' || o.protocol === 'https:') &&
      o.hostname.toLowerCase() === authority.hostname.toLowerCase() &&
      (o.port || defaultPort) === (authority.port || defaultPort) &&
      isLoopback(o.hostname);
  } catch {
    same = false; // `null` (sandboxed pages, file://) or garbage
  }
  if (!same) throw new HttpError('forbidden', `cross-origin request refused: Origin "${origin}" is not this server's origin`);
}

/**
 * A body is read as sent: a compressed one (`Content-Encoding: gzip`, ...) is refused with 415, as
 * RFC 7694 §3 advises, instead of failing later as text that is not UTF-8 or not JSON.
 */
export function checkNoContentEncoding(c: Context): void {
  const encoding = c.req.header('content-encoding')?.trim();
  if (encoding && encoding.toLowerCase() !== 'identity') {
    throw new HttpError('unsupported_media_type', `Content-Encoding "${encoding}" is not accepted: send the request body uncompressed`, [
      { path: 'content-encoding', message: 'must be absent or identity' },
    ]);
  }
  // So is a transfer coding besides chunked (`gzip, chunked`): Node passes its bytes on as the body,
  // which then failed as text that is not UTF-8.
  const transfer = c.req.header('transfer-encoding')?.trim();
  if (transfer && transfer.split(',').some((t) => !['chunked', 'identity'].includes(t.trim().toLowerCase()))) {
    throw new HttpError('unsupported_media_type', `Transfer-Encoding "${transfer}" is not accepted: send the request body uncompressed (chunked alone)`, [
      { path: 'transfer-encoding', message: 'must be absent or chunked' },
    ]);
  }
}

/** A body must be sent as `application/json` (parameters such as `charset=utf-8` allowed). */
export function checkJsonContentType(c: Context): void {
  const type = c.req.header('content-type');
  const media = type?.split(';', 1)[0]!.trim().toLowerCase();
  if (media !== 'application/json') {
    throw new HttpError('unsupported_media_type', `the request body must be sent with Content-Type: application/json${type ? ` (got "${type}")` : ''}`);
  }
}

/** Escapes that decode to text no store holds: `\u0000` and UTF-16 surrogates (a pair is checked after parsing). */
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

/**
 * Refuses path and query parameters, and strings or keys of a JSON body, that contain NUL or a lone
 * surrogate (core/storable.ts): 400 naming the field, on both stores. A body's text is scanned first,
 * so the common body is not walked.
 */
export function checkStorableParams(params: Record<string, string>, query: Record<string, string>): void {
  // Named as the contracts name them: a path parameter by its name (`backendId`), a query one as `query.type`.
  for (const [prefix, values] of [['', params], ['query.', query]] as const) {
    for (const [name, v] of Object.entries(values)) {
      const p = textProblem(name) ?? textProblem(v);
      const path = `${prefix}${JSON.stringify(name).slice(1, -1)}`; // escaped: a NUL in a name is shown as \u0000
      if (p) throw new ValidationError(`${path}: ${p}`, [{ path, message: p }]);
    }
  }
}

/**
 * The query's parameters, one value each; a parameter given more than once (`?status=a&status=b`) is
 * refused: the contracts read one value per name, so the second would be dropped without a word.
 * Lists are comma-separated in one value.
 */
export function singleQueryValues(queries: Record<string, string[]>, url: string): Record<string, string> {
  // A parameter without a name (`?=1`, `?limit=5&=x`) is not left out without a word either.
  if (new URL(url).searchParams.has('')) {
    const message = 'a parameter without a name (write name=value)';
    throw new ValidationError(`query: ${message}`, [{ path: 'query', message }]);
  }
  const out: Record<string, string> = {};
  for (const [name, values] of Object.entries(queries)) {
    if (values.length > 1) {
      const path = `query.${JSON.stringify(name).slice(1, -1)}`;
      const message = `given ${values.length} times; give it once (a list of values goes comma-separated in one)`;
      throw new ValidationError(`${path}: ${message}`, [{ path, message }]);
    }
    // Defined, not assigned: `out.__proto__ = v` sets nothing, and the parameter would skip the route's
    // unknown-field check (`?__proto__=1` was taken without a word).
    Object.defineProperty(out, name, { value: values[0]!, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The body half of checkStorableParams: `body` is `bodyText` parsed. Also refuses `__proto__` keys (see protoKeyIn). */
export function checkStorableBody(bodyText: string, body: unknown): void {
  if (SUSPECT_PROTO.test(bodyText)) {
    const path = protoKeyIn(body, '');
    if (path !== null) throw new ValidationError(`${path}: ${PROTO_KEY}`, [{ path, message: PROTO_KEY }]);
  }
  // An integer past ±(2^53−1) would be stored as another number: refused, not rounded.
  const inexact = inexactIntegerDetail(bodyText);
  if (inexact) throw new ValidationError(inexact.path ? `${inexact.path}: ${inexact.message}` : inexact.message, [inexact]);
  if (!SUSPECT_ESCAPE.test(bodyText)) return;
  const problem = findTextProblem(body, '');
  if (problem) throw new ValidationError(`${problem.path}: ${problem.message}`, [problem]);
}

/**
 * A body that may hold a `__proto__` key: the name, or an escape of one of its letters (`\u005f` ...).
 * Other escapes (a client that escapes every non-ASCII character) do not make the body walked.
 */
const SUSPECT_PROTO = /__proto__|\\u00(?:5[fF]|6[fF]|7[0234])/;

/**
 * The path of the first own `__proto__` key in parsed JSON, or null. JSON.parse keeps such a key as
 * data, but the copies made while validating (records, merges) drop it silently: refused instead.
 */
export function protoKeyIn(value: unknown, path: string): string | null {
  const stack: Array<[unknown, string]> = [[value, path]];
  while (stack.length > 0) {
    const [v, at] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${at}[${i}]`]);
      continue;
    }
    if (Object.hasOwn(v, '__proto__')) return at ? `${at}.__proto__` : '__proto__';
    for (const k of Object.keys(v)) stack.push([(v as Record<string, unknown>)[k], at ? `${at}.${k}` : k]);
  }
  return null;
}
