import { graphileWorker } from './graphile-worker.js';
import { orreryPostgres, orrerySqlite } from './orrery.js';
import { pgBoss } from './pg-boss.js';
import type { System, SystemName } from './system.js';

export const SYSTEMS: Record<SystemName, System> = {
  'orrery-sqlite': orrerySqlite,
  'orrery-pg': orreryPostgres,
  'graphile-worker': graphileWorker,
  'pg-boss': pgBoss,
};

/** The worker side of each system, loaded only in the worker process (paths from bench/). */
export const WORKER_MODULES: Record<SystemName, string> = {
  'orrery-sqlite': './systems/orrery-worker.js',
  'orrery-pg': './systems/orrery-worker.js',
  'graphile-worker': './systems/graphile-worker.js',
  'pg-boss': './systems/pg-boss.js',
};
