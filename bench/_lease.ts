import { openOrrery } from '../src/engine/service.js';
import { rmSync } from 'node:fs';
import { startOwnPostgres } from '../test/support/own-postgres.js';
const at = new Date(8.64e15 - 1000);
async function go(db: string) {
  const o = await openOrrery({ db });
  await o.createTaskType({ name: 'noop', leaseMs: 3600_000 });
  await o.createTasks([{ type: 'noop', policy: 'oneshot', nextRun: new Date(8.64e15 - 5000), arguments: { args: [], kwargs: {} } } as any]);
  try {
    const c = await o.claimRuns({ worker: 'w1', types: ['noop'], limit: 5, at } as any);
    console.log('claim', JSON.stringify(c).slice(0, 400));
    const runs = await o.heldRuns('w1');
    console.log('held', runs.map((r) => r.run.leaseExpiresAt));
  } catch (e) { console.log('ERR', (e as Error).message); }
  await o.close();
}
rmSync('/tmp/w/lease.db', { force: true });
await go('/tmp/w/lease.db');
const pg = await startOwnPostgres('lease');
try { await go(pg.url); } finally { await pg.remove(); }
