/**
 * `p`, or a rejection with the signal's reason once it aborts (at once when it already has). Once the
 * signal wins, `p` is abandoned: a later rejection of it is nobody's to handle (it was an unhandled
 * rejection, which ends a Node process: a worker stopped while its first isolate loaded exited 1).
 */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  p.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason);
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([p, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}
