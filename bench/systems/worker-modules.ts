import type { SystemName } from './system.js';

/**
 * The worker side of each system (paths from bench/), loaded only in the worker process. This module
 * imports nothing else, so a worker process loads its own system alone: not the bench side of every
 * system (systems/index.ts pulls in graphile-worker, pg-boss and Orrery's TypeScript sources), which
 * would count in every system's peak RSS and start-up.
 */
export const WORKER_MODULES: Record<SystemName, string> = {
  'orrery-sqlite': './systems/orrery-worker.js',
  'orrery-pg': './systems/orrery-worker.js',
  'graphile-worker': './systems/graphile-worker.js',
  'pg-boss': './systems/pg-boss.js',
};
