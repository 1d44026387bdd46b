/**
 * Instants are read as ISO 8601 text. A database, role or URL with another DateStyle (`German`,
 * `SQL, DMY`) made every instant read back as 1970-01-01 and some commands throw (environment audit):
 * each connection sets DateStyle to ISO before any of Orrery's queries.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { createTestDatabase } from '../support/postgres.js';

const AT = new Date('2026-05-01T12:00:00.123Z');

describe('PostgreSQL with a DateStyle other than ISO', () => {
  it.each([
    ['the database\'s (ALTER DATABASE ... SET DateStyle = German)', 'german', ''],
    ['the URL\'s (options=-c DateStyle=SQL,DMY)', 'url', `?options=${encodeURIComponent('-c DateStyle=SQL,DMY')}`],
  ])('%s: instants are read as they were written', async (_what, hint, query) => {
    const db = await createTestDatabase(`datestyle_${hint}`);
    try {
      if (hint === 'german') {
        const admin = new pg.Client({ connectionString: db.url });
        await admin.connect();
        await admin.query(`ALTER DATABASE "${db.name}" SET DateStyle = 'German'`);
        await admin.end();
      }
      const orrery = await openOrrery({ db: db.url + query });
      try {
        await orrery.createTaskType({ name: 't' }, { at: AT });
        const task = await orrery.createTask({ type: 't', policy: 'oneshot', nextRun: AT, arguments: { args: ['x'], kwargs: {} } }, { at: AT });
        expect((await orrery.getTask(task.id))!).toMatchObject({ nextRun: AT, created: AT });
        const [run] = await orrery.scheduleDue({ at: AT });
        expect(run!.scheduled).toEqual(AT);
        const paused = await orrery.pauseTask(task.id, { at: AT }); // threw: reading 'at' of null
        expect(paused.paused?.at).toEqual(AT);
      } finally {
        await orrery.close();
      }
    } finally {
      await db.drop();
    }
  });

  it('the CLI under PGOPTIONS=-c DateStyle=German prints the instants written, and no driver warning (a SET per connection had pg warn of queued queries)', async () => {
    const db = await createTestDatabase('datestyle_cli');
    try {
      const orrery = await openOrrery({ db: db.url });
      await orrery.createTaskType({ name: 't' }, { at: AT });
      await orrery.createTask({ type: 't', policy: 'oneshot', nextRun: AT, arguments: { args: ['x'], kwargs: {} } }, { at: AT });
      await orrery.close();
      const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'orrery.js'), 'task', 'list', '--json', '--db', db.url], {
        env: { ...process.env, PGOPTIONS: '-c DateStyle=German' },
        encoding: 'utf8',
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect((JSON.parse(r.stdout) as Array<{ nextRun: string }>).map((t) => t.nextRun)).toEqual([AT.toISOString()]);
    } finally {
      await db.drop();
    }
  });

  it('the URL is given to the driver as written: of two options the last wins, an empty one leaves PGOPTIONS (a rewrite of the URL for DateStyle changed both)', async () => {
    const db = await createTestDatabase('datestyle_url');
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      await admin.query('CREATE SCHEMA foo; CREATE SCHEMA bar; CREATE SCHEMA baz');
      const where = async () => (await admin.query(`SELECT schemaname FROM pg_tables WHERE tablename = 'task_runs' ORDER BY 1`)).rows.map((r) => r.schemaname as string);
      const twice = await openOrrery({ db: `${db.url}?options=${encodeURIComponent('-c search_path=foo')}&options=${encodeURIComponent('-c search_path=bar')}` });
      await twice.close();
      expect(await where()).toEqual(['bar', 'public']); // the template's tables are in public
      const pgOptions = process.env.PGOPTIONS;
      process.env.PGOPTIONS = '-c search_path=baz';
      try {
        const empty = await openOrrery({ db: `${db.url}?options=` });
        await empty.close();
      } finally {
        if (pgOptions === undefined) delete process.env.PGOPTIONS;
        else process.env.PGOPTIONS = pgOptions;
      }
      expect(await where()).toEqual(['bar', 'baz', 'public']);
    } finally {
      await admin.end();
      await db.drop();
    }
  });
});
