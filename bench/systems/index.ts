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
