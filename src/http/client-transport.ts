import {
  ConflictError,
  InvalidTransitionError,
  LeaseLostError,
  StaleDataError,
  NotFoundError,
  OrreryError,
  SchemaTooNewError,
  StorageError,
  StorageReadOnlyError,
  StorageUnavailableError,
  ValidationError,
  invalid,
  isNetworkError,
  type ErrorDetail,
  shown,
} from '../core/errors.js';
import { MAX_TIMER_MS, knownOptions } from '../core/options.js';
import { assertText } from '../core/storable.js';
import { HttpError } from './errors.js';
import { apiTokenProblem, serverUrlProblem } from './connection-checks.js';
import { parseApiJson, requestJson } from './client-json.js';
import type { TextAnswer } from './stream-upload.js';

const ERRORS: Record<string, new (m: string, d: ErrorDetail[]) => OrreryError> = {
  validation_error: ValidationError,
  not_found: NotFoundError,
  conflict: ConflictError,
  invalid_transition: InvalidTransitionError,
  lease_lost: LeaseLostError,
  stale_data: StaleDataError,
  schema_too_new: SchemaTooNewError,
  // The storage errors carry no details over the wire (their constructors take a cause instead).
  storage_error: StorageError as unknown as new (m: string, d: ErrorDetail[]) => OrreryError,
  storage_read_only: StorageReadOnlyError as unknown as new (m: string, d: ErrorDetail[]) => OrreryError,
};

/**
 * Rebuilds the server's error as the same OrreryError class. The server's store unavailable (503
 * `storage_unavailable`), or a proxy in front of it failing (a 502, 503 or 504 without an Orrery
 * code), is a StorageUnavailableError: the worker retries it. Anything else, a 500 included, is an
 * error that surfaces (an HttpError with the server's code, `internal` for a bug).
 */
export function toError(body: { error?: { code?: string; message?: string; details?: ErrorDetail[]; requestId?: string } } | null, status: number): Error {
  const e = body?.error;
  // A 5xx names the request id the server logged the error under.
  const rid = e?.requestId ? ` (request ${e.requestId})` : '';
  if (e?.code === 'storage_unavailable' || (GATEWAY.has(status) && !(e?.code && e.code in ERRORS))) {
    return new StorageUnavailableError(`orrery server answered ${status}: ${e?.message ?? 'no details'}${rid}`);
  }
  if (!e?.code) return new HttpError(status >= 500 ? 'internal' : 'bad_request', `orrery server answered ${status}: ${e?.message ?? 'no details'}${rid}`);
  const Cls = ERRORS[e.code];
  if (Cls) return new Cls(e.message ?? e.code, e.details ?? []);
  return new HttpError(e.code, status >= 500 ? `orrery server answered ${status}: ${e.message ?? e.code}${rid}` : (e.message ?? e.code), e.details ?? []);
}

/** How long a request may wait for its answer unless the client is told otherwise (`timeoutMs`). */
export const DEFAULT_CLIENT_TIMEOUT_MS = 60_000;

export interface OrreryClientOptions {
  /**
   * Milliseconds a request may take, from sending it to the end of its answer (default 60,000); `null`
   * for no limit of the client's own. A request past it is aborted and fails with a
   * StorageUnavailableError, which a worker retries. `importTasks` has no such limit.
   */
  timeoutMs?: number | null;
}

const CLOSED = Symbol('closed');
const TIMED_OUT = Symbol('timed out');
export const closedError = () => new HttpError('client_closed', 'the client was closed');

/** Statuses a proxy or the server answers while the service or its database is away for now. */
const GATEWAY = new Set([502, 503, 504]);

/** A response body as JSON, or null when it is not (a proxy's HTML error page). */
function parseBody(text: string): unknown {
  if (!text) return null;
  try {
    return parseApiJson(text);
  } catch {
    return null;
  }
}

/**
 * The typed client's transport (the base of OrreryClient): one request and its JSON answer, the
 * server's errors rebuilt as the library's classes, the request timeout, and `close()`'s abort.
 */
export abstract class ClientTransport {
  protected readonly base: string;
  /** Aborted by `close()`: every request in flight, and every later one, fails at once. */
  protected readonly closing = new AbortController();
  /**
   * The requests in flight, each with its controller: close() aborts them through one listener (a
   * listener per request on the close signal made Node warn of a leak past ten in flight, and
   * AbortSignal.any on Node 20 keeps every combined signal referenced by the close signal for good).
   */
  private readonly inFlight = new Set<AbortController>();
  protected readonly timeoutMs: number | null;

  constructor(
    url: string,
    protected readonly token: string | null = null,
    options: OrreryClientOptions = {},
  ) {
    this.base = serverBase(url);
    if (token !== null && token !== undefined) {
      const problem = apiTokenProblem(token);
      if (problem) throw invalid('token', problem);
    }
    // A misspelt option (`timeout`) would leave the default without a word, as in every call of the client.
    options = knownOptions(options, ['timeoutMs']);
    const t = options.timeoutMs === undefined ? DEFAULT_CLIENT_TIMEOUT_MS : options.timeoutMs;
    // At most what a timer takes (about 24.8 days): a longer one fired at once and every request timed out.
    if (t !== null && !(Number.isSafeInteger(t) && t > 0 && t <= MAX_TIMER_MS)) {
      throw new ValidationError(`timeoutMs: must be a positive whole number of milliseconds up to ${MAX_TIMER_MS}, or null, not ${String(t)}`, [
        { path: 'timeoutMs', message: `must be a positive whole number of milliseconds up to ${MAX_TIMER_MS}, or null` },
      ]);
    }
    this.timeoutMs = t;
    this.closing.signal.addEventListener('abort', () => {
      for (const c of this.inFlight) c.abort(CLOSED);
    }, { once: true });
  }

  protected async call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, timeoutMs: number | null = this.timeoutMs): Promise<T> {
    const init = {
      method,
      headers: { ...this.authHeader(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: requestJson(body) } : {}),
    };
    return this.exchange<T>(`${this.base}/api${path}`, init, timeoutMs);
  }

  /**
   * One request and its JSON answer: a network failure is a StorageUnavailableError (worth retrying),
   * an error status the server's error rebuilt (toError), a 2xx answer that is not JSON an HttpError.
   */
  protected async exchange<T>(url: string, init: RequestInit, timeoutMs: number | null = this.timeoutMs, signal?: AbortSignal, send: Sender = fetchText): Promise<T> {
    if (this.closing.signal.aborted) throw closedError();
    signal?.throwIfAborted();
    // One controller per request: aborted by close() (through inFlight) or by the timeout, whichever comes first.
    const abort = new AbortController();
    this.inFlight.add(abort);
    const timer = timeoutMs === null ? null : setTimeout(() => abort.abort(TIMED_OUT), timeoutMs);
    let res: TextAnswer;
    try {
      res = await send(url, { ...init, signal: signal ? AbortSignal.any([abort.signal, signal]) : abort.signal });
    } catch (e) {
      if (abort.signal.reason === CLOSED) throw closedError();
      if (signal?.aborted) throw signal.reason;
      if (abort.signal.reason === TIMED_OUT) {
        throw new StorageUnavailableError(`orrery server ${this.base} did not answer within ${timeoutMs} ms`, { cause: e });
      }
      // fetch fails with a TypeError whose cause carries the network error's code.
      const cause = (e as { cause?: unknown }).cause;
      const code = (cause as { code?: string } | undefined)?.code ?? (e as { code?: string }).code;
      if (isNetworkError(e) || isNetworkError(cause) || (e instanceof TypeError && e.message === 'fetch failed' && !isSetupError(code))) {
        throw new StorageUnavailableError(`orrery server ${this.base} unreachable (${code ?? 'network error'})`, { cause: e });
      }
      if (isSetupError(code)) {
        // TLS to a plain HTTP server, a certificate refused: a misconfiguration, not an outage to wait out.
        throw new Error(`orrery server ${this.base} cannot be used over TLS (${code}): is it a plain http:// server, or is its certificate not trusted here?`, { cause: e });
      }
      throw e;
    } finally {
      if (timer !== null) clearTimeout(timer);
      this.inFlight.delete(abort);
    }
    const { text } = res;
    if (res.status < 200 || res.status > 299) {
      const body = parseBody(text) as { error?: { code?: string; message?: string } } | null;
      // A route the server does not have: an older Orrery, or a URL whose path leads elsewhere.
      if (res.status === 404 && body?.error?.code === 'not_found' && body.error.message?.startsWith('no route')) {
        body.error.message = `orrery server ${this.base}: ${body.error.message} (is it an older Orrery, or does the URL's path lead elsewhere?)`;
      }
      throw toError(body as never, res.status);
    }
    if (!text) return null as T;
    try {
      return parseApiJson(text) as T;
    } catch {
      // The dashboard's page answers every path outside /api: a URL whose path leads there, not to the API.
      if (/^\s*</.test(text)) {
        throw new HttpError('bad_request', `orrery server ${this.base} answered ${res.status} with a web page, not JSON: give the server's root URL (http://host:port), under which the API is /api`);
      }
      throw new HttpError('bad_request', `orrery server answered ${res.status} with a body that is not JSON: ${text.slice(0, 80)}`);
    }
  }

  /** The `authorization` header of a request, when the client has a token. */
  protected authHeader(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }
}


/**
 * The server's address from a URL a user gives: trailing slashes dropped, and the API's own address
 * as `orrery serve` prints it at start (`http://HOST:PORT/api`) taken as the server's.
 */
export function serverBase(url: string): string {
  const problem = serverUrlProblem(url);
  if (problem) throw invalid('url', problem);
  return url.replace(/\/+$/, '').replace(/\/api$/, '');
}

/** Codes of a connection that can never work as configured: TLS and certificate errors (OpenSSL's and Node's). */
export function isSetupError(code: string | undefined): boolean {
  return code !== undefined && /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|ERR_OSSL_)/.test(code);
}

/**
 * The path of a run's route, its backend id checked as the library checks it: missing or empty is a
 * ValidationError naming `backendId`; `.` and `..`, which no run has and a URL would collapse into
 * another route, are not found, as an unknown run is.
 */
export function runPath(backendId: unknown, rest = ''): string {
  if (typeof backendId !== 'string' || backendId === '') throw invalid('backendId', 'a run backend id is required');
  assertText(backendId, 'backendId');
  if (backendId === '.' || backendId === '..') throw new NotFoundError(`run ${shown(backendId)} not found`, [{ path: 'backendId', message: `no run ${shown(backendId)}` }]);
  return `/runs/${encodeURIComponent(backendId)}${rest}`;
}

/** How an exchange sends its request: fetch, or postStream for a streamed upload (stream-upload.ts). */
export type Sender = (url: string, init: RequestInit & { signal: AbortSignal }) => Promise<TextAnswer>;

/** A request through fetch, answered as text. */
const fetchText: Sender = async (url, init) => {
  const res = await fetch(url, init);
  return { status: res.status, text: await res.text() };
};

/**
 * How a streamed upload (an import) is sent: under Node, over Node's own HTTP client (stream-upload.ts,
 * loaded when first needed and never bundled for the dashboard), since fetch never settled when the
 * server closed the connection during the upload; elsewhere, fetch with the body as a stream.
 */
export async function uploadSender(body: AsyncIterable<Uint8Array>): Promise<Sender> {
  if (typeof process === 'undefined' || typeof process.versions?.node !== 'string') {
    return (url, init) => {
      const it = body[Symbol.asyncIterator]();
      const stream = new ReadableStream<Uint8Array>({
        async pull(c) {
          const r = await it.next();
          if (r.done) c.close();
          else c.enqueue(r.value);
        },
      });
      return fetchText(url, { ...init, body: stream, duplex: 'half' } as RequestInit & { signal: AbortSignal });
    };
  }
  const path = './stream-upload.js';
  const { postStream } = (await import(/* @vite-ignore */ path)) as typeof import('./stream-upload.js');
  return (url, init) => postStream(url, init.headers as Record<string, string>, body, init.signal);
}
