/**
 * Example handlers for `npm start` (`orrery serve --handlers examples/handlers.ts`).
 *
 * A handlers file exports `handlers` (backend name -> async function), and optionally the
 * `taskTypes` they serve (created at start when missing), `dags` (DAG workflows, synced to the
 * database at start) and a `setup(orrery)` hook that `orrery serve` calls once started (here:
 * create a few tasks so runs happen at once).
 */
import { RetryAfter, dag, type Handler, type Orrery, type TaskTypeInput } from 'orrery';

export const taskTypes: TaskTypeInput[] = [
  {
    name: 'check-feed',
    description: 'Poll a feed; visited more often while it changes, less while it is idle',
    defaultIntervalMs: '10s',
    minIntervalMs: '5s',
    maxIntervalMs: '2m',
    backoffFactor: 2,
    numRetries: 2,
    retryDelayMs: '3s',
    leaseMs: '15s',
  },
  {
    name: 'send-email',
    description: 'Send one message (one-shot); transient failures retry after 2s',
    numRetries: 3,
    retryDelayMs: '2s',
    timeoutMs: '10s',
  },
];

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    // Its listener goes when the time is up: a handler sleeping many times keeps none behind.
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

const checkFeed: Handler = async ({ args, signal, log }) => {
  const [url] = args as [string];
  log('info', 'fetching feed', { url });
  await sleep(100 + Math.random() * 400, signal);
  const newItems = Math.random() < 0.4 ? Math.ceil(Math.random() * 5) : 0;
  log('info', newItems ? `found ${newItems} new items` : 'nothing new', { newItems });
  return { eventful: newItems > 0, result: { newItems } };
};

const sendEmail: Handler = async ({ kwargs, signal, log, run }) => {
  const { to, subject } = kwargs as { to: string; subject: string };
  log('info', `sending "${subject}"`, { to, attempt: run.attempt });
  await sleep(200, signal);
  if (Math.random() < 0.25) throw new RetryAfter(2_000, 'mail server busy');
  log('info', 'sent', { to });
  return { eventful: true, result: { messageId: `<${run.backendId}@example.org>` } };
};

export const handlers: Record<string, Handler> = {
  'check-feed': checkFeed,
  'send-email': sendEmail,
};

/**
 * A DAG workflow every minute (see docs/dags.md): extract, then two transforms in parallel, then load,
 * which sees both results. `transform-b` fails now and then and is retried after 5 s.
 */
const minutelyReport = dag('minutely-report', {
  description: 'extract -> (transform-a, transform-b) -> load, every minute',
  schedule: { cron: '* * * * *', tz: 'UTC' },
  maxActiveRuns: 2,
})
  .task('extract', async ({ execTs, log, signal }) => {
    await sleep(200, signal);
    const rows = 10 + Math.floor(Math.random() * 90);
    log('info', `extracted ${rows} rows`, { window: execTs.toISOString() });
    return { rows };
  })
  .task('transform-a', ({ upstream }) => ({ sum: (upstream.extract as { rows: number }).rows * 2 }), { after: ['extract'] })
  .task(
    'transform-b',
    async ({ upstream, attempt, signal }) => {
      await sleep(300, signal);
      if (attempt === 1 && Math.random() < 0.3) throw new Error('upstream API timed out');
      return { max: (upstream.extract as { rows: number }).rows };
    },
    { after: ['extract'], retries: 2, retryDelay: '5s', timeout: '30s' },
  )
  .task('load', ({ upstream, log }) => {
    log('info', 'loaded', upstream);
    return { loaded: true };
  }, { after: ['transform-a', 'transform-b'] });

export const dags = [minutelyReport];

/**
 * Called by `orrery serve` once started. Task creation is idempotent, so restarts add no duplicates of
 * the feeds. The e-mails are created again on every start: a one-shot task's `nextRun` (here the start
 * instant) is part of what makes two tasks equal, and a completed task never blocks a new equal one.
 */
export async function setup(orrery: Orrery): Promise<void> {
  await orrery.createTasks(
    ['https://example.org/news.xml', 'https://example.org/blog.xml', 'https://example.org/releases.xml'].map((url) => ({
      type: 'check-feed',
      arguments: { args: [url], kwargs: {} },
    })),
  );
  await orrery.createTasks(
    ['ada@example.org', 'grace@example.org', 'linus@example.org'].map((to) => ({
      type: 'send-email',
      policy: 'oneshot' as const,
      arguments: { args: [], kwargs: { to, subject: 'Welcome to Orrery' } },
    })),
  );
}
