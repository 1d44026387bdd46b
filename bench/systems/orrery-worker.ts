/**
 * Orrery's side in the worker process: only the compiled package (dist/), loaded through the entry
 * documented for worker processes, so the process's peak RSS is Orrery's own (the bench side,
 * orrery.ts, loads the TypeScript sources, `pg` and `better-sqlite3`).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Daemon } from '../../src/worker-entry.js';
import { BENCH_TYPE, type ClaimCounts, type Payload, type PreparedWorker } from './system.js';

const TYPE = BENCH_TYPE;

/**
 * The worker process runs Orrery as its users do: the compiled package in dist/ (which `npm run bench`
 * builds first when src/ is newer, bench/build-check.ts), not the TypeScript sources through tsx, as
 * the other systems run from their compiled packages; and through the entry documented for worker
 * processes, `orrery/worker` (dist/worker-entry.js), as graphile-worker's runs through its own.
 */
async function compiledOrrery() {
  const entry = join(import.meta.dirname, '..', '..', 'dist', 'worker-entry.js');
  return (await import(pathToFileURL(entry).href)) as typeof import('../../src/worker-entry.js');
}

export async function prepareWorker(opts: { db: string; concurrency: number; handle: (p: Payload) => void }): Promise<PreparedWorker> {
  const { openOrrery, Daemon } = await compiledOrrery();
  const orrery = await openOrrery({ db: opts.db });
  // Counts what the store's claims return: every run, and those created directly from due tasks
  // (the rest were taken from the queue the runner fills).
  const counts: ClaimCounts = { runs: 0, created: 0 };
  const store = orrery.store;
  const claimRuns = store.claimRuns.bind(store);
  store.claimRuns = async (req) => {
    const outcome = await claimRuns(req);
    counts.runs += outcome.runs.length;
    counts.created += outcome.created?.length ?? 0;
    return outcome;
  };
  let daemon: Daemon | null = null;
  return {
    claims: () => ({ ...counts }),
    async start() {
      daemon = new Daemon(orrery, {
        runner: true,
        reaper: true,
        worker: {
          concurrency: opts.concurrency,
          types: [TYPE],
          handlers: {
            [TYPE]: async ({ kwargs }) => {
              opts.handle(kwargs as Payload);
              return false;
            },
          },
        },
      });
      daemon.start();
    },
    async stop() {
      await daemon?.stop();
      await orrery.close();
    },
  };
}
