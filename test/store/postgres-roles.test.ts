/**
 * docs/postgres.md, "Roles and privileges": a database created by an owner role that ran the page's
 * `ALTER DEFAULT PRIVILEGES` statements (read from the page itself, so the page cannot drift from
 * what works), migrated by the owner, then used by the second role for everything a daemon and the
 * CLI do day to day, the statements that delete rows included (rate-limit windows, the worker
 * registry, archiving, deleting a task type, pausing a task with a waiting run).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/index.js';
import { quoteIdent, withClient } from '../support/postgres-admin.js';
import { pgBaseUrl } from '../support/postgres.js';
import { MIGRATION_LOCK } from '../../src/store/postgres/postgres-connection.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** The statements the page runs as the owner before the first start, with `orrery_app` renamed. */
function documentedGrants(app: string): string[] {
  const page = readFileSync(new URL('../../docs/postgres.md', import.meta.url), 'utf8');
  const grants = page.split('\n').filter((l) => l.startsWith('ALTER DEFAULT PRIVILEGES'));
  expect(grants.length).toBeGreaterThan(0);
  return grants.map((l) => l.replaceAll('orrery_app', quoteIdent(app)));
}

function urlAs(role: string, database: string): string {
  const u = new URL(pgBaseUrl());
  u.username = role;
  u.password = 'orrery-test';
  u.pathname = `/${database}`;
  return u.toString();
}

/** An owner role, an application role and a database the owner owns; dropped after the test. */
async function rolesAndDatabase(): Promise<{ owner: string; app: string; database: string }> {
  const tag = randomBytes(4).toString('hex');
  const owner = `orrery_owner_${tag}`;
  const app = `orrery_app_${tag}`;
  const database = `orrery_roles_${tag}`;
  await withClient(pgBaseUrl(), async (c) => {
    await c.query(`CREATE ROLE ${quoteIdent(owner)} LOGIN PASSWORD 'orrery-test'`);
    await c.query(`CREATE ROLE ${quoteIdent(app)} LOGIN PASSWORD 'orrery-test'`);
    await c.query(`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(owner)}`);
  });
  cleanups.push(() =>
    withClient(pgBaseUrl(), async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
      await c.query(`DROP ROLE IF EXISTS ${quoteIdent(app)}`);
      await c.query(`DROP ROLE IF EXISTS ${quoteIdent(owner)}`);
    }),
  );
  return { owner, app, database };
}

describe('PostgreSQL migrations under a DBA\'s settings (docs/postgres.md)', () => {
  it("a migration that alters a table the role does not own names ownership, not CREATE; a role's statement_timeout does not cut the wait for another migrator", async () => {
    const { owner, app, database } = await rolesAndDatabase();
    await withClient(urlAs(owner, database), async (c) => {
      for (const sql of documentedGrants(app)) await c.query(sql);
    });
    const migrated = await openOrrery({ db: urlAs(owner, database) });
    await migrated.close();
    // The last migration undone, so the next open must alter tables the owner owns.
    const undo = async () =>
      withClient(urlAs(owner, database), async (c) => {
        await c.query('ALTER TABLE archived_task_runs ALTER COLUMN record TYPE jsonb USING record::jsonb');
        await c.query('ALTER TABLE archived_tasks ALTER COLUMN record TYPE jsonb USING record::jsonb');
        await c.query('DELETE FROM orrery_migrations WHERE version >= 17'); // later migrations are written to run again harmlessly
      });
    await undo();
    await withClient(urlAs(owner, database), (c) => c.query(`GRANT CREATE ON SCHEMA public TO ${quoteIdent(app)}`));
    const refused = await openOrrery({ db: urlAs(app, database) }).catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(/failed \(a migration that alters a table must run as the table's owner: .*\): migration 0017_archive_json: must be owner of table archived_task_runs/);

    // Another process holds the migration lock for a while; the owner's role has a short statement_timeout.
    await withClient(pgBaseUrl(), (c) => c.query(`ALTER ROLE ${quoteIdent(owner)} SET statement_timeout = '200ms'`));
    await withClient(urlAs(owner, database), async (holder) => {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      const opening = openOrrery({ db: urlAs(owner, database) });
      // Until the opener has waited for the lock longer than its role's statement_timeout.
      for (;;) {
        const { rows } = await holder.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event = 'advisory' AND clock_timestamp() - query_start > interval '500 ms'`,
          [database],
        );
        if (rows[0].n > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      const o = await opening;
      // Migrated; the pooled connection has the role's timeout again.
      expect((await withClient(urlAs(owner, database), (c) => c.query(`SELECT count(*)::int AS n FROM orrery_migrations WHERE name = '0017_archive_json'`))).rows[0].n).toBe(1);
      await o.close();
    });
  });
});

describe('PostgreSQL roles (docs/postgres.md)', () => {
  it('an application role with the documented privileges runs claims, limits, the worker registry, archiving and deletes', async () => {
    const { owner, app, database } = await rolesAndDatabase();
    const tag = owner.slice('orrery_owner_'.length);
    await withClient(urlAs(owner, database), async (c) => {
      for (const sql of documentedGrants(app)) await c.query(sql);
    });
    const migrated = await openOrrery({ db: urlAs(owner, database) }); // the first start, as the owner
    await migrated.close();

    const o = await openOrrery({ db: urlAs(app, database) });
    cleanups.push(() => o.close());
    const old = new Date(Date.now() - 3 * 86_400_000);
    await o.createTaskType({ name: 'limited', rateLimit: '100/1s', maxRunning: 5, defaultIntervalMs: '1d' });
    await o.createTaskType({ name: 'paused', defaultIntervalMs: '1d' });
    await o.createTaskType({ name: 'gone', rateLimit: '5/1m', defaultIntervalMs: '1d' });
    await o.registerWorker({ id: `w-${tag}`, host: 'test', pid: process.pid, types: ['limited'], concurrency: 2 });
    await o.createTasks(
      Array.from({ length: 3 }, (_, i) => ({ type: 'limited', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} }, nextRun: old })),
      { at: old },
    );
    expect(await o.scheduleDue({ type: 'limited', at: old })).toHaveLength(3); // limited types are claimed from the queue
    // A rate-limited claim prunes the type's window of starts (a DELETE) before it counts
    const claimed = await o.claimRuns({ worker: `w-${tag}`, types: ['limited'], limit: 3, at: old });
    expect(claimed).toHaveLength(3);
    for (const c of claimed) {
      if (c.run.status === 'claimed') await o.startRun(c.run.backendId, { worker: `w-${tag}`, at: old });
      await o.endRun(c.run.backendId, { status: 'eventful', worker: `w-${tag}`, at: old });
    }
    // Archiving moves finished runs and tasks out (DELETE from tasks, task_runs, run_logs)
    const summary = await o.archive({ before: new Date(old.getTime() + 1) });
    expect(summary).toMatchObject({ runs: 3, tasks: 3 });
    // Pausing a task whose run waits takes the run back (a DELETE of the run)
    const waiting = await o.createTask({ type: 'paused', nextRun: old });
    expect(await o.scheduleDue({ type: 'paused' })).toHaveLength(1);
    expect((await o.pauseTask(waiting.id)).paused).not.toBeNull();
    // Deleting a task type (one without tasks) deletes its row and its limits' state
    await o.deleteTaskType('gone');
    expect(await o.getTaskType('gone')).toBeNull();
  });
});
