/**
 * PostgreSQL: the one-statement end of held runs (END_HELD) stores the task alerts its ends call for
 * itself, so failing and retrying ends take no transaction; a run whose task changed since its claim
 * has its task finished, and its alert stored, by the careful path, once.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { claimStarted } from './fixtures.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const plus = (ms: number) => new Date(T0.getTime() + ms);
const HOUR = 3_600_000;
const oneshot = (type: string, i: number) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } });

describe('PostgreSQL held ends that call for alerts', () => {
  let db: TestDatabase;
  let orrery: Orrery;
  const statements: string[] = [];
  const query = pg.Client.prototype.query;
  beforeAll(async () => {
    db = await createTestDatabase('held_end_alerts');
    orrery = await openOrrery({ db: db.url });
    // Every statement sent from this file's clients (their first words), to see which path an end took.
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const q = args[0] as string | { text?: string; name?: string };
      statements.push(typeof q === 'string' ? q : (q.text ?? q.name ?? ''));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
  });
  afterAll(async () => {
    pg.Client.prototype.query = query;
    await orrery.close();
    await db.drop();
  });

  async function during<T>(fn: () => Promise<T>): Promise<{ value: T; begins: number }> {
    statements.length = 0;
    const value = await fn();
    return { value, begins: statements.filter((s) => s.trim().toUpperCase() === 'BEGIN').length };
  }

  it('ends that fail for good or retry are one statement with their alerts; a task changed since its claim goes the careful way, alerted once', async () => {
    await orrery.createTaskType({ name: 'fatal' });
    await orrery.createTaskType({ name: 'flaky', numRetries: 2, retryDelayMs: HOUR });
    const [fatal, flaky, moved, fine] = await orrery.createTasks([oneshot('fatal', 1), oneshot('flaky', 1), oneshot('flaky', 2), oneshot('fatal', 3)], { at: T0 });
    const claimed = await claimStarted(orrery, { worker: 'w', types: ['fatal', 'flaky'], limit: 10, due: true, at: T0 });
    const of = (id: number) => claimed.find((c) => c.run.task === id)!;
    const held = (id: number, status: 'permfailed' | 'failed' | 'uneventful', at: Date) => ({
      backendId: of(id).run.backendId, status, worker: 'w', at, error: status === 'uneventful' ? undefined : `${status} here`, held: { run: of(id).run, task: of(id).task! },
    });

    // Held ends only (one of them a success): one statement, no transaction.
    const first = await during(() => orrery.endRuns([held(fatal!.id, 'permfailed', plus(10)), held(flaky!.id, 'failed', plus(11)), held(fine!.id, 'uneventful', plus(12))]));
    expect(first.begins).toBe(0);
    expect(first.value.map((r) => (r instanceof Error ? r.message : [r.run.status, r.task.status]))).toEqual([
      ['permfailed', 'disabled'],
      ['failed', 'next_run_not_scheduled'],
      ['uneventful', 'completed'],
    ]);

    // The moved task's retries changed after its claim: the statement records the run, the careful path finishes the task (one transaction).
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query('UPDATE tasks SET retries_left = 0 WHERE id = $1', [moved!.id]).finally(() => admin.end());
    const second = await during(() => orrery.endRuns([held(moved!.id, 'failed', plus(13))]));
    expect(second.begins).toBe(1);
    const [end] = second.value;
    expect(end instanceof Error ? end.message : [end!.run.status, end!.task.status, end!.task.disabledReason]).toEqual(['failed', 'disabled', 'retries_exhausted']);

    const { alerts } = await orrery.store.alerts.takeAlerts({ sources: ['task'], at: plus(HOUR), limit: 10, leaseMs: 60_000 });
    expect(alerts.map((a) => (a.source === 'task' ? [a.alert.taskId, a.alert.kind, a.alert.status, a.alert.disabledReason, a.alert.error, a.recorded.getTime()] : null))).toEqual([
      [fatal!.id, 'failed', 'permfailed', 'permfailed', 'permfailed here', plus(10).getTime()],
      [flaky!.id, 'retry', 'failed', null, 'failed here', plus(11).getTime()],
      [moved!.id, 'failed', 'failed', 'retries_exhausted', 'failed here', plus(13).getTime()],
    ]);
    const retry = alerts[1]!;
    expect(retry.source === 'task' && retry.alert).toMatchObject({ type: 'flaky', backendId: of(flaky!.id).run.backendId, attempt: 1, nextRun: plus(11 + HOUR), ended: plus(11) });
  });
});
