/**
 * Instants are stored as given whatever the process's time zone. The driver writes a Date parameter
 * in local time with the zone's offset in whole minutes, so in a zone whose offset then had seconds
 * (local mean time: Asia/Kolkata +05:53:28 in 1800, Africa/Monrovia -00:44:30 until 1972) every
 * instant written that way was stored shifted by those seconds (a time-zone audit).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/index.js';
import { createTestDatabase } from '../support/postgres.js';

describe('PostgreSQL in a process whose time zone had an offset with seconds', () => {
  const saved = process.env.TZ;
  afterEach(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });

  it.each([
    ['Asia/Kolkata', '1800-01-02T00:00:00.000Z'],
    ['Africa/Monrovia', '1971-06-01T00:00:00.000Z'],
  ])('%s: a run scheduled, started and ended at %s is stored at those instants, as the task was created', async (zone, iso) => {
    const db = await createTestDatabase('local_zone');
    process.env.TZ = zone;
    const at = new Date(iso);
    expect(at.getSeconds()).not.toBe(0); // local time then had seconds the UTC one has not (else this proves nothing)
    const orrery = await openOrrery({ db: db.url });
    try {
      await orrery.createTaskType({ name: 'job' }, { at });
      const task = await orrery.createTask({ type: 'job', policy: 'oneshot', nextRun: at }, { at });
      expect(task.created).toEqual(at);
      const [run] = await orrery.scheduleDue({ at });
      expect(run).toMatchObject({ scheduled: at });
      await orrery.startRun(run!.backendId, { at: new Date(at.getTime() + 1_000) });
      const ended = await orrery.endRun(run!.backendId, { status: 'uneventful', at: new Date(at.getTime() + 10_000) });
      expect(ended.run).toMatchObject({ scheduled: at, started: new Date(at.getTime() + 1_000), ended: new Date(at.getTime() + 10_000) });
      expect((await orrery.getTask(task.id))!.created).toEqual(at);
    } finally {
      await orrery.close();
      await db.drop();
    }
  });
});
