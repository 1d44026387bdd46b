import type { DagTaskAlert } from '../core/dag-progress.js';
import { invalid, ValidationError } from '../core/errors.js';
import { hideUserInfo } from '../core/url-text.js';
import { checkMethods, knownOptions } from '../core/options.js';
import type { Logger } from './logger.js';

/** A DAG task that failed for good, or failed and will be retried. */
export type { DagTaskAlert } from '../core/dag-progress.js';

/** What a notifier is handed beside the alert: `signal` aborts when the delivery's 50 s are up (a webhook's request is cancelled). */
export interface Delivering {
  signal: AbortSignal;
}

/**
 * Alerts (SPEC §3, docs/dags.md#alerts): each is stored with the DAG step that records the failure
 * and delivered by a DAG scheduler, at least once. `onRetry` is optional: leave it out to hear only
 * of final failures. A notifier that throws or rejects is called again for the same alert later
 * (10 s, 20 s, 40 s ... apart, for 24 hours).
 */
export interface DagNotifier {
  /** A DAG task failed with no retry left (its run fails). */
  onFailure(alert: DagTaskAlert, delivery?: Delivering): void | Promise<void>;
  /** A DAG task failed and will be retried at `alert.retryAt` (optional). */
  onRetry?(alert: DagTaskAlert, delivery?: Delivering): void | Promise<void>;
}

/** A DAG alert in a log line: `DAG etl run 7 (…): task load attempt 2`. */
export function describeDagAlert(a: DagTaskAlert): string {
  return `DAG ${a.dag} run ${a.dagRunId} (${a.execTs.toISOString()}): task ${a.taskId} attempt ${a.attempt}`;
}

/** A log notifier's logger: required, with the methods it calls (without one every delivery failed, a TypeError, for a day). */
export function requireLogger(log: unknown): Logger {
  if (log === undefined || log === null) throw invalid('logger', 'is required (a pino logger, or an object with error and warn methods)');
  return checkMethods(log, 'logger', ['error', 'warn']) as Logger;
}

/** The default: failures logged at error level (retries at warn level when `retries` is set). */
export function logNotifier(log: Logger, opts: { retries?: boolean } = {}): DagNotifier {
  requireLogger(log);
  opts = knownOptions(opts, ['retries']);
  checkRetriesFlag(opts);
  return {
    onFailure: (a) => log.error({ dag: a.dag, dagRunId: a.dagRunId, task: a.taskId, attempt: a.attempt }, `${describeDagAlert(a)} failed: ${firstLine(a.error)}`),
    ...(opts.retries
      ? { onRetry: (a: DagTaskAlert) => log.warn({ dag: a.dag, dagRunId: a.dagRunId, task: a.taskId }, `${describeDagAlert(a)} failed, retry at ${a.retryAt?.toISOString()}: ${firstLine(a.error)}`) }
      : {}),
  };
}

export interface WebhookOptions {
  /** Also post retries (default: failures only). */
  retries?: boolean;
  /** How long one POST may take before it fails (and is tried again later): 1 to 50000 ms, default 10000. */
  timeoutMs?: number;
  /** Extra request headers (e.g. `authorization`). */
  headers?: Record<string, string>;
}

/** Posts each alert as JSON (`{ event: 'dag_task_failed' | 'dag_task_retry', dag, dagRunId, taskId, attempt, error, ... }`). */
export function webhookNotifier(url: string, opts: WebhookOptions = {}): DagNotifier {
  opts = webhookOptions(opts);
  const post = jsonPoster(url, opts);
  return {
    onFailure: (a, d) => post(dagBody('dag_task_failed', a), d?.signal),
    ...(opts.retries ? { onRetry: (a: DagTaskAlert, d?: Delivering) => post(dagBody('dag_task_retry', a), d?.signal) } : {}),
  };
}

/** A webhook's `retries` is a flag (post retries too): `1` or `-1` would be read as true without a word. */
export function checkRetriesFlag(opts: { retries?: unknown }): void {
  if (opts.retries !== undefined && typeof opts.retries !== 'boolean') throw invalid('retries', 'must be true or false (post retries too)');
}

/**
 * A webhook notifier's options, checked when it is made: an object (null was a TypeError) of known
 * keys, `retries` a flag, `headers` an object of names and values (a string or an array was posted
 * as headers named 0, 1 ...).
 */
export function webhookOptions(opts: WebhookOptions | null | undefined): WebhookOptions {
  const o = knownOptions(opts, ['retries', 'timeoutMs', 'headers']);
  checkRetriesFlag(o);
  const h: unknown = o.headers;
  if (h !== undefined && (h === null || typeof h !== 'object' || Array.isArray(h) || Object.getPrototypeOf(h) !== Object.prototype)) {
    throw invalid('headers', 'must be an object of header names and values ({ authorization: "Bearer ..." })');
  }
  return o;
}

/** What is wrong with a webhook URL (not a URL, not http(s), credentials in it), or null. */
export function webhookUrlProblem(url: string): string | null {
  if (typeof url !== 'string' || !URL.canParse(url)) return 'is not a URL';
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be http or https';
  if (u.username !== '' || u.password !== '') return 'must not hold credentials (user:password@; a request cannot carry them)';
  return null;
}

/** A URL with its user and password shown as `***` (an error must not print them). */
export function redactCredentials(u: URL): string {
  return u.username !== '' || u.password !== '' ? `${u.protocol}//***@${u.host}${u.pathname}` : u.toString();
}

/** The longest `timeoutMs` of a webhook: below the 50 s a stored alert's delivery may take. */
export const MAX_WEBHOOK_TIMEOUT_MS = 50_000;

/**
 * A function that POSTs a JSON body to `url` (http or https, checked now), failing on a non-2xx
 * answer, after `timeoutMs`, or when `signal` aborts (the sender's delivery limit).
 */
export function jsonPoster(url: string, opts: Pick<WebhookOptions, 'timeoutMs' | 'headers'> = {}): (body: object, signal?: AbortSignal) => Promise<void> {
  const problem = webhookUrlProblem(url);
  if (problem) {
    const shown = typeof url === 'string' && URL.canParse(url) ? redactCredentials(new URL(url)) : hideUserInfo(String(url));
    throw new ValidationError(`webhook URL "${shown}" ${problem}${problem.startsWith('must not hold') ? ': pass them in headers, e.g. { authorization }' : ''}`, [{ path: 'url', message: problem }]);
  }
  // Left out, the default; null is no duration (it was read as the default).
  const timeoutMs = opts.timeoutMs === undefined ? 10_000 : opts.timeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_WEBHOOK_TIMEOUT_MS) {
    throw invalid('timeoutMs', `must be an integer number of milliseconds from 1 to ${MAX_WEBHOOK_TIMEOUT_MS} (a delivery is cut at 50 s)`);
  }
  const parsed = new URL(url);
  const headers = postHeaders(opts.headers);
  return async (body, signal) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    let res: Response;
    try {
      // A redirect is an answer other than 2xx, as any: followed, a 301, 302 or 303 became a GET
      // without the alert, which the 2xx at its end had counted delivered (and deleted).
      res = await fetch(parsed, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        redirect: 'manual',
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
    } catch (e) {
      // fetch says only "fetch failed": name the webhook and the cause (ECONNREFUSED, a timeout...).
      throw new Error(`webhook ${parsed.origin} ${unreachable(e, timeout, timeoutMs)}`, { cause: e });
    }
    await res.body?.cancel();
    if (!res.ok) throw new Error(`webhook ${parsed.origin} answered ${res.status}`);
  };
}

/**
 * A post's headers: JSON's content type, replaced by a `content-type` given in any case (both were
 * sent, `application/json, text/plain`). A header name or value a request cannot carry is refused now,
 * naming it, not at every delivery for 24 hours.
 */
function postHeaders(given: Record<string, string> | undefined): Headers {
  const headers = new Headers({ 'content-type': 'application/json' });
  for (const [name, value] of Object.entries(given ?? {})) {
    // Sent as `undefined`, `null` or `[object Object]` otherwise.
    if (typeof value !== 'string') throw invalid(`headers.${name}`, 'must be a string (a header value)');
    // The connection's own headers, which fetch sets or refuses: every post then failed, as unreachable.
    if (CONNECTION_HEADERS.has(name.toLowerCase())) throw invalid(`headers.${name}`, 'is set by the connection, not by a notifier (a post cannot carry it)');
    try {
      headers.set(name, value);
    } catch {
      throw invalid(`headers.${name}`, 'is not a header a request can carry (a token name, and a value without line breaks)');
    }
  }
  return headers;
}

/** Headers of the connection itself, which a post's caller cannot set (fetch refuses them, or the post hangs). */
const CONNECTION_HEADERS = new Set(['connection', 'content-length', 'expect', 'keep-alive', 'transfer-encoding', 'upgrade']);

/** Why a post got no answer, in words: the timeout, the delivery limit, or the network's own code. */
function unreachable(e: unknown, timeout: AbortSignal, timeoutMs: number): string {
  if (timeout.aborted) return `did not answer within ${timeoutMs} ms`;
  if (e instanceof Error && e.name === 'AbortError') return 'was not answered before the delivery was cut off';
  const cause = e instanceof Error ? (e.cause as { code?: string; message?: string } | undefined) : undefined;
  return `unreachable (${cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e))})`;
}

/** A DAG alert as its webhook posts it: `event` in place of `kind`, as a task alert's webhook does. */
function dagBody(event: string, { kind: _kind, ...a }: DagTaskAlert): object {
  return { event, ...a };
}

/**
 * Calls every notifier; one that fails does not stop the others, but the combination then fails, so
 * the stored alert is delivered again later (to every notifier).
 */
export function combineNotifiers(list: readonly DagNotifier[]): DagNotifier {
  return combined(list);
}

/** A notifier (task or DAG) that calls every one of `list`, and fails when one of them failed. */
export function combined<A>(list: ReadonlyArray<{ onFailure(a: A, d?: Delivering): void | Promise<void>; onRetry?(a: A, d?: Delivering): void | Promise<void> }>) {
  // Checked now: a bad one would fail only when an alert is delivered, and fail it for good.
  if (!Array.isArray(list)) throw invalid('notifiers', 'must be an array of notifiers');
  list.forEach((n, i) => checkNotifier(n, `notifiers[${i}]`));
  return {
    onFailure: (a: A, d?: Delivering) => allOrFail(list.map((n) => called(() => n.onFailure(a, d)))),
    onRetry: (a: A, d?: Delivering) => allOrFail(list.map((n) => called(() => n.onRetry?.(a, d)))),
  };
}

/** One notifier's call as a promise: a synchronous throw is its failure, not a stop of the calls after it. */
function called(call: () => void | Promise<void>): Promise<void> {
  try {
    return Promise.resolve(call());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Waits for every call; rejects (an AggregateError naming each failure) when one of them failed. */
async function allOrFail(calls: ReadonlyArray<void | Promise<void>>): Promise<void> {
  const failed = (await Promise.allSettled(calls)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) throw new AggregateError(failed.map((f) => f.reason), failed.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('; '));
}

/** The first line of an error text (its message without the stack), for a log line. */
export function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i === -1 ? s : s.slice(0, i);
}

/** A ValidationError naming `field` unless `n` has an onFailure method and, if any, an onRetry function (a task or a DAG notifier). */
export function checkNotifier(n: unknown, field: string): void {
  if (typeof n !== 'object' || n === null || typeof (n as DagNotifier).onFailure !== 'function') throw invalid(field, 'must be an object with an onFailure(alert) method');
  const retry = (n as DagNotifier).onRetry;
  if (retry !== undefined && typeof retry !== 'function') throw invalid(`${field}.onRetry`, 'must be a function (or left out)');
}
