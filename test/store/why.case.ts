import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/core/errors.js';
import type { StoreUnderTest } from './describe-store.js';
import { T0, plus, useOrrery } from './fixtures.js';

const oneshot = (type: string, i: number, extra: Record<string, unknown> = {}) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} }, ...extra });

/** Issue 18: "why isn't it running?" walks every gate and names the one that holds the task. */
export function whyCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('task why at a past instant (status audit)', () => {
    it('counts no worker activity after --at: a run ended later, a registration later; a stop that came later had not happened yet', async () => {
      const { orrery } = await setup([{ name: 'job' }]);
      const [a, b] = await orrery.createTasks([oneshot('job', 1), oneshot('job', 2)], { at: T0 });
      const [r] = await orrery.scheduleDue({ at: T0 });
      const mine = r!.task === a!.id ? b! : a!;
      await orrery.startRun(r!.backendId, { worker: 'w9', at: plus(T0, 20 * 60_000) });
      await orrery.endRun(r!.backendId, { status: 'eventful', worker: 'w9', at: plus(T0, 21 * 60_000) });
      const workers = async (at: Date) => (await orrery.whyTask(mine.id, { at })).gates.find((g) => g.gate === 'workers')!;
      expect(await workers(T0)).toMatchObject({ verdict: 'hold' });
      expect(await workers(plus(T0, 22 * 60_000))).toMatchObject({ verdict: 'pass', detail: expect.stringContaining('w9') });
      // A worker registered at 30m and stopped at 40m: not seen at 25m, live at 35m, stopped at 45m.
      await orrery.registerWorker({ id: 'wr', host: 'h', pid: 1, types: ['job'], concurrency: 1 }, { at: plus(T0, 30 * 60_000) });
      await orrery.stopWorker('wr', { at: plus(T0, 40 * 60_000) });
      expect((await workers(plus(T0, 29 * 60_000))).detail).not.toContain('wr');
      expect(await workers(plus(T0, 35 * 60_000))).toMatchObject({ verdict: 'pass', detail: expect.stringContaining('wr') });
      expect(await workers(plus(T0, 45 * 60_000))).toMatchObject({ verdict: 'hold', detail: expect.stringContaining('stopped: wr') });
      // Named however long ago it stopped, within the registry's 7 days (it was dropped 5 minutes after: operations audit).
      expect(await workers(plus(T0, 3 * 24 * 3_600_000))).toMatchObject({ verdict: 'hold', detail: expect.stringContaining('stopped: wr at 2026-01-01T00:40:00.000Z') });
    });
  });

  describe('task why: the gate that holds a task, and until when', () => {
    it('not due yet, then due with no worker seen, then paused type, then queued, held, running, lease expired', async () => {
      const { orrery } = await setup([{ name: 'job' }]);
      const t = await orrery.createTask(oneshot('job', 1, { nextRun: plus(T0, 60_000) }), { at: T0 });
      const early = await orrery.whyTask(t.id, { at: T0 });
      expect(early).toMatchObject({ state: 'blocked', heldBy: 'due', until: plus(T0, 60_000) });
      expect(early.gates.map((g) => g.gate)).toEqual(['task-status', 'task-paused', 'dag', 'type-paused', 'due', 'queue-length', 'max-running', 'max-running-per-key', 'rate-limit', 'rate-limit-per-key', 'workers', 'run']);
      expect(early.summary).toMatch(/not due until 2026-01-01T00:01:00.000Z \(in 1m\)/);
      // Not due yet, it waits for its time, not for a worker: the workers gate does not hold it, and the run
      // gate says when it is due (both held it and spoke of a queue "after 1s": operations audit).
      expect(early.gates.find((g) => g.gate === 'workers')).toMatchObject({ verdict: 'skip', detail: 'not due yet: nothing to claim before 2026-01-01T00:01:00.000Z; no live worker handles type job now (none seen in the last 5m)' });
      expect(early.gates.find((g) => g.gate === 'run')).toMatchObject({ verdict: 'pass', detail: 'no run yet: due at 2026-01-01T00:01:00.000Z; then a worker claims it directly, or the runner queues it 1s later' });

      const due = await orrery.whyTask(t.id, { at: plus(T0, 61_000) });
      expect(due).toMatchObject({ state: 'blocked', heldBy: 'workers' });
      expect(due.summary).toMatch(/no live worker handles type job: none registered for it and none claimed, heartbeated or ended a run of it in the last 5m/);

      await orrery.pauseTaskType('job', { reason: 'deploy', at: plus(T0, 61_000) });
      const paused = await orrery.whyTask(t.id, { at: plus(T0, 62_000) });
      expect(paused).toMatchObject({ heldBy: 'type-paused', summary: expect.stringMatching(/paused since .* \(deploy\)/) });
      // The run gate agrees with the hold: no run while paused (it said a worker claims it directly).
      expect(paused.gates.find((g) => g.gate === 'run')).toMatchObject({ verdict: 'skip', detail: 'no run while its type job is paused' });
      await orrery.resumeTaskType('job');
      await orrery.pauseTask(t.id, { at: plus(T0, 62_000) });
      expect((await orrery.whyTask(t.id, { at: plus(T0, 62_000) })).gates.find((g) => g.gate === 'run')).toMatchObject({ verdict: 'skip', detail: 'no run while its schedule is paused' });
      await orrery.resumeTask(t.id);
      // A maxQueueLength of 0 pauses the type too.
      await orrery.updateTaskType('job', { maxQueueLength: 0 });
      const zero = await orrery.whyTask(t.id, { at: plus(T0, 62_000) });
      expect(zero).toMatchObject({ heldBy: 'queue-length', summary: expect.stringMatching(/maxQueueLength is 0: the type is paused/) });
      // Its run gate agrees: no run comes (it said the runner queues it, a type with limits; the type has none).
      expect(zero.gates.find((g) => g.gate === 'run')).toMatchObject({ verdict: 'skip', detail: 'no run while maxQueueLength is 0: the runner queues none of the type and workers claim none of its due tasks' });
      await orrery.updateTaskType('job', { maxQueueLength: 1000 });

      // Another task of the type runs on w1: a worker is now seen for the type.
      const other = await orrery.createTask(oneshot('job', 2), { at: T0 });
      await orrery.scheduleDue({ at: plus(T0, 62_000) });
      const [first] = (await orrery.claim({ worker: 'w1', types: ['job'], limit: 1, startNow: 1, at: plus(T0, 62_000) })).runs;
      const queuedOne = first!.run.task === t.id ? other.id : t.id;
      const queued = await orrery.whyTask(queuedOne, { at: plus(T0, 63_000) });
      expect(queued).toMatchObject({ state: 'waiting', heldBy: null });
      expect(queued.gates.find((g) => g.gate === 'workers')).toMatchObject({ verdict: 'pass', detail: expect.stringContaining('w1') });
      expect(queued.gates.find((g) => g.gate === 'run')!.detail).toMatch(/queued 1s ago, 0 runs of the type ahead of it/);
      // Spans of a second and more read to the second (it said "1s1ms ago").
      expect((await orrery.whyTask(queuedOne, { at: plus(T0, 63_001) })).gates.find((g) => g.gate === 'run')!.detail).toMatch(/^queued 1s ago,/);

      const running = await orrery.whyTask(first!.run.task, { at: plus(T0, 63_000) });
      expect(running).toMatchObject({ state: 'running', heldBy: null, summary: expect.stringMatching(/running on w1 since/) });
      const expired = await orrery.whyTask(first!.run.task, { at: plus(T0, 62_000 + 31_000) });
      expect(expired).toMatchObject({ state: 'blocked', heldBy: 'run', summary: expect.stringMatching(/lease expired 1s ago .* the reaper ends it lost/) });

      const held = (await orrery.claim({ worker: 'w2', types: ['job'], limit: 5, startNow: 0, at: plus(T0, 64_000) })).runs;
      expect(held).toHaveLength(1);
      expect(await orrery.whyTask(queuedOne, { at: plus(T0, 64_000) })).toMatchObject({ state: 'held', summary: expect.stringMatching(/claimed by w2, its start not reported yet: waiting in that worker's buffer/) });
    });

    it('a run queued by a pass as of a later instant reads as queued ahead of now, not "0s ago"', async () => {
      const { orrery } = await setup([{ name: 'job' }]);
      const t = await orrery.createTask(oneshot('job', 1), { at: T0 });
      await orrery.scheduleDue({ at: plus(T0, 300_000) }); // task schedule --at, five minutes ahead
      const why = await orrery.whyTask(t.id, { at: T0 });
      expect(why.gates.find((g) => g.gate === 'due')!.detail).toMatch(/^its run \S+ was queued as of 2026-01-01T00:05:00.000Z \(in 5m\); claims take it already$/);
      expect(why.gates.find((g) => g.gate === 'run')!.detail).toMatch(/^queued as of 2026-01-01T00:05:00.000Z \(in 5m\); claims take it already, 0 runs of the type ahead of it$/);
      // Claims do take it already.
      expect((await orrery.claim({ worker: 'w1', types: ['job'], limit: 1, startNow: 1, at: T0 })).runs.map((r) => r.run.task)).toEqual([t.id]);
    });

    it('a full queue holds a task of a limited type, not one that workers claim directly (the claim takes it)', async () => {
      const { orrery } = await setup([{ name: 'q', maxQueueLength: 2 }, { name: 'lq', maxQueueLength: 2, maxRunning: 10 }]);
      const tasks = await orrery.createTasks([1, 2, 3].map((i) => oneshot('q', i)).concat([1, 2, 3].map((i) => oneshot('lq', i))), { at: T0 });
      await orrery.registerWorker({ id: 'wq', host: 'h', pid: 1, types: ['q', 'lq'], concurrency: 10 }, { at: T0 });
      const queued = await orrery.scheduleDue({ at: plus(T0, 1000) });
      const left = (type: string) => tasks.find((t) => t.type === type && !queued.some((r) => r.task === t.id))!;
      const direct = await orrery.whyTask(left('q').id, { at: plus(T0, 2000) });
      expect(direct).toMatchObject({ state: 'waiting', heldBy: null });
      expect(direct.gates.find((g) => g.gate === 'queue-length')).toMatchObject({ verdict: 'pass', detail: expect.stringMatching(/but workers claim its due tasks directly/) });
      // The worker's next claim takes it indeed, beside the two queued ones.
      const claimed = (await orrery.claim({ worker: 'wq', types: ['q'], limit: 5, at: plus(T0, 2000) })).runs.map((c) => c.run.task);
      expect(claimed).toContain(left('q').id);
      // A type with limits is not claimed directly: its full queue holds the task.
      expect(await orrery.whyTask(left('lq').id, { at: plus(T0, 2000) })).toMatchObject({ state: 'blocked', heldBy: 'queue-length' });
    });

    it('maxRunning full names the runs holding the slots; a rate limit names its next slot', async () => {
      const { orrery } = await setup([{ name: 'narrow', maxRunning: 1 }, { name: 'rated', rateLimit: '1/1m' }]);
      const [a, b] = await orrery.createTasks([oneshot('narrow', 1), oneshot('narrow', 2)], { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      const [held] = (await orrery.claim({ worker: 'w1', types: ['narrow'], limit: 5, at: T0 })).runs;
      const waiting = held!.run.task === a!.id ? b! : a!;
      const why = await orrery.whyTask(waiting.id, { at: plus(T0, 1000) });
      expect(why).toMatchObject({ state: 'blocked', heldBy: 'max-running' });
      expect(why.summary).toContain(`maxRunning 1 reached: 1 run held: ${held!.run.backendId}`);
      // A holder whose worker died frees its slot only at a reaper pass: the answer says so.
      expect(why.summary).toMatch(/; the next end frees a slot \(or a reaper pass, for a holder whose lease expired\)$/);

      const [r1, r2] = await orrery.createTasks([oneshot('rated', 1), oneshot('rated', 2)], { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      const [started] = (await orrery.claim({ worker: 'w1', types: ['rated'], limit: 5, at: T0 })).runs;
      const next = started!.run.task === r1!.id ? r2! : r1!;
      const rated = await orrery.whyTask(next.id, { at: plus(T0, 10_000) });
      expect(rated).toMatchObject({ state: 'blocked', heldBy: 'rate-limit', until: plus(T0, 60_000) });

      // maxRunning is type-wide: a task of another concurrency key is held by the runs of every key, all named.
      await orrery.createTaskType({ name: 'keyed', maxRunning: 2, maxRunningPerKey: 2 });
      const keyed = await orrery.createTasks(
        [{ ...oneshot('keyed', 1), concurrencyKey: 'a.org' }, { ...oneshot('keyed', 2), concurrencyKey: 'a.org' }, { ...oneshot('keyed', 3), concurrencyKey: 'b.org' }],
        { at: T0 },
      );
      await orrery.scheduleDue({ at: T0 });
      const holding = (await orrery.claim({ worker: 'w2', types: ['keyed'], limit: 2, at: T0 })).runs;
      expect(holding.map((c) => c.run.task).sort()).toEqual([keyed[0]!.id, keyed[1]!.id].sort());
      const other = await orrery.whyTask(keyed[2]!.id, { at: plus(T0, 1000) });
      expect(other).toMatchObject({ state: 'blocked', heldBy: 'max-running' });
      // Before: 'maxRunning 2 reached: 2 runs held; ...' naming none (only holders of key b.org were read)
      for (const c of holding) expect(other.summary).toContain(c.run.backendId);

      // A due task of a limited type with no run yet waits for the runner: no worker claims it directly.
      const fresh = await orrery.createTask(oneshot('narrow', 3), { at: T0 });
      const gate = (await orrery.whyTask(fresh.id, { at: T0 })).gates.find((g) => g.gate === 'run')!;
      expect(gate.detail).toBe('no run yet: the runner queues it (a type with limits is not claimed directly)');
    });

    it('a key\'s rate names its next slot; a throttled rate shows as such; fifoPerKey holds a key with a run', async () => {
      const { orrery } = await setup([{ name: 'api', rateLimit: '10/1m', rateLimitPerKey: '1/1m' }, { name: 'ledger', fifoPerKey: true }]);
      const [k1, k2] = await orrery.createTasks([oneshot('api', 1, { concurrencyKey: 'k' }), oneshot('api', 2, { concurrencyKey: 'k' })], { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      const [started] = (await orrery.claim({ worker: 'w1', types: ['api'], limit: 5, at: T0 })).runs;
      const next = started!.run.task === k1!.id ? k2! : k1!;
      const why = await orrery.whyTask(next.id, { at: plus(T0, 10_000) });
      expect(why).toMatchObject({ state: 'blocked', heldBy: 'rate-limit-per-key', until: plus(T0, 60_000) });
      expect(why.summary).toContain('rate limit of key "k" 1 per 1m reached');
      await orrery.store.throttleRate('api', null, plus(T0, 10_000));
      const throttled = await orrery.whyTask(next.id, { at: plus(T0, 10_000) });
      expect(throttled.gates.find((g) => g.gate === 'rate-limit')!.detail).toBe('1 of 5 (throttled from 10) starts in the last 1m');

      // A throttled rate's next slot is the earlier of its oldest start leaving the window and its count
      // growing back by one, as the claim's retryAt says (audit, 2026-12-05: why named the window's end).
      await orrery.createTaskType({ name: 'bursty', rateLimit: '100/1s', maxQueueLength: null });
      await orrery.store.throttleRate('bursty', null, T0);
      const many = await orrery.createTasks(Array.from({ length: 80 }, (_, i) => oneshot('bursty', i)), { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      const out = await orrery.claim({ worker: 'w1', types: ['bursty'], limit: 100, at: plus(T0, 500) });
      expect(out.runs).toHaveLength(55);
      const claimedTasks = new Set(out.runs.map((r) => r.run.task));
      const waiting = many.find((t) => !claimedTasks.has(t.id))!;
      const held = await orrery.whyTask(waiting.id, { at: plus(T0, 500) });
      expect(held).toMatchObject({ state: 'blocked', heldBy: 'rate-limit', until: out.retryAt });
      expect(out.retryAt!.getTime()).toBeLessThan(plus(T0, 1_000).getTime());

      const [l1, l2] = await orrery.createTasks([oneshot('ledger', 1, { concurrencyKey: 'acct' }), oneshot('ledger', 2, { concurrencyKey: 'acct' })], { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      const [first] = (await orrery.claim({ worker: 'w1', types: ['ledger'], limit: 5, at: T0 })).runs;
      const second = first!.run.task === l1!.id ? l2! : l1!;
      expect((await orrery.whyTask(second.id, { at: T0 })).summary).toContain('fifoPerKey (one run per key at a time) reached for key "acct": 1 run held');
    });

    it('a dead letter says how many times the task itself was lost; a paused task or type whose run is in hand is running or held (why audit)', async () => {
      const { orrery } = await setup([{ name: 'job', maxAbandons: 1 }]);
      const d = await orrery.createTask(oneshot('job', 1), { at: T0 });
      const [lostRun] = await orrery.scheduleDue({ at: T0 });
      await orrery.startRun(lostRun!.backendId, { at: T0, worker: 'w1' });
      await orrery.endRun(lostRun!.backendId, { status: 'lost', worker: 'w1', at: T0 });
      // Edited since: the answer counted the type's maxAbandons (7), not the task's one loss.
      await orrery.updateTaskType('job', { maxAbandons: 7 });
      expect((await orrery.whyTask(d.id, { at: T0 })).summary).toContain('in the dead-letter bin: lost 1 time in a row (maxAbandons)');

      const p = await orrery.createTask(oneshot('job', 2), { at: T0 });
      const [run] = await orrery.scheduleDue({ at: T0 });
      await orrery.startRun(run!.backendId, { at: T0, worker: 'w1' });
      await orrery.pauseTask(p.id, { at: plus(T0, 1000), reason: 'x' });
      const running = await orrery.whyTask(p.id, { at: plus(T0, 2000) });
      // It said "blocked (held by task-paused)" while its run's handler went on.
      expect(running).toMatchObject({ state: 'running', heldBy: null, summary: expect.stringMatching(/^running on w1 since/) });
      expect(running.gates.find((g) => g.gate === 'task-paused')).toMatchObject({ verdict: 'pass', detail: expect.stringMatching(/^its schedule is paused since 2026-01-01T00:00:01.000Z \(x\), but its run .* was handed to w1 before and finishes; no run after it until orrery task resume/) });
      await orrery.resumeTask(p.id);
      await orrery.pauseTaskType('job', { at: plus(T0, 1000) });
      const typePaused = await orrery.whyTask(p.id, { at: plus(T0, 2000) });
      expect(typePaused).toMatchObject({ state: 'running', heldBy: null });
      expect(typePaused.gates.find((g) => g.gate === 'type-paused')).toMatchObject({ verdict: 'pass', detail: expect.stringMatching(/^its type job is paused since .*, but its run .* began before and finishes/) });
      await orrery.endRun(run!.backendId, { status: 'eventful', worker: 'w1', at: plus(T0, 3000) });
      await orrery.resumeTaskType('job');

      // A claimed run of a paused task finishes too (held); of a paused type it goes back to the queue (blocked).
      const q = await orrery.createTask(oneshot('job', 3), { at: T0 });
      await orrery.scheduleDue({ at: plus(T0, 3000) });
      expect((await orrery.claim({ worker: 'w2', types: ['job'], limit: 5, startNow: 0, at: plus(T0, 3000) })).runs).toHaveLength(1);
      await orrery.pauseTask(q.id, { at: plus(T0, 3000) });
      expect(await orrery.whyTask(q.id, { at: plus(T0, 4000) })).toMatchObject({ state: 'held', heldBy: null });
      await orrery.resumeTask(q.id);
      await orrery.pauseTaskType('job', { at: plus(T0, 4000) });
      expect(await orrery.whyTask(q.id, { at: plus(T0, 5000) })).toMatchObject({ state: 'blocked', heldBy: 'type-paused' });
    });

    it('a finished task is done; an unknown task is not found', async () => {
      const { orrery } = await setup([{ name: 'job' }]);
      const t = await orrery.createTask(oneshot('job', 1), { at: T0 });
      await orrery.disableTasks([t.id], { at: T0 });
      expect(await orrery.whyTask(t.id, { at: T0 })).toMatchObject({ state: 'done', heldBy: 'task-status', summary: expect.stringMatching(/disabled by hand; respawn it/) });
      await expect(orrery.whyTask(999_999)).rejects.toThrow(NotFoundError);
      // The gates of the claim say the task is finished, not that it has a run a worker holds.
      await orrery.updateTaskType('job', { maxRunning: 2 });
      const done = await orrery.whyTask(t.id, { at: T0 });
      const detail = (gate: string) => done.gates.find((g) => g.gate === gate)!;
      for (const gate of ['queue-length', 'max-running', 'workers']) expect(detail(gate)).toMatchObject({ verdict: 'skip', detail: 'the task is disabled: no run to queue or claim' });
      expect(done.gates.map((g) => g.detail).join('\n')).not.toMatch(/has a run already|holds the run|past the claim/);
      // A completed one-shot task says how to respawn it too.
      const c = await orrery.createTask(oneshot('job', 2), { at: T0 });
      const [run] = await orrery.scheduleDue({ at: T0 });
      await orrery.startRun(run!.backendId, { at: T0 });
      await orrery.endRun(run!.backendId, { status: 'eventful', at: T0 });
      expect((await orrery.whyTask(c.id, { at: T0 })).summary).toContain(`the task completed (a one-shot task that ran): it will not run again; respawn it to run it again (orrery task respawn ${c.id})`);
      // A recurring task completed by the end of its schedule is not called a one-shot task (backfill audit).
      const r = await orrery.createTask({ type: 'job', arguments: { args: ['cron'] }, schedule: { kind: 'cron', expr: '0 * * * *', endAt: new Date(T0.getTime() + 3_600_000) } }, { at: T0 });
      const [only] = (await orrery.scheduleDue({ at: new Date(T0.getTime() + 3_600_000) })).filter((x) => x.task === r.id);
      await orrery.startRun(only!.backendId, { at: new Date(T0.getTime() + 3_600_000) });
      await orrery.endRun(only!.backendId, { status: 'eventful', at: new Date(T0.getTime() + 3_600_000) });
      expect((await orrery.getTask(r.id))!.status).toBe('completed');
      const summary = (await orrery.whyTask(r.id, { at: new Date(T0.getTime() + 3_600_000) })).summary;
      expect(summary).toContain('the task completed (its schedule has no occurrence left: past its endAt, or its rrule\'s COUNT or UNTIL): it will not run again');
      expect(summary).not.toContain('one-shot');
    });
  });
}
