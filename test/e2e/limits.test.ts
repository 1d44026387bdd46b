/**
 * Issue 10 end to end, on both stores: the built CLI's worker processes under concurrency and rate
 * limits (counted in the claim transaction), cancellation of waiting, running and DAG runs through
 * `orrery run cancel` / `orrery dag-run cancel`, and `task add --key --on-conflict`.
 *
 * Cancelling a running thread- or process-isolated handler is tested in test/e2e/isolation.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { waitFor } from '../engine/engine-helpers.js';
import { createTestDatabase } from '../support/postgres.js';
import { removeTempDirs, runCli } from '../cli/cli-helpers.js';
import { BIN, ROOT } from './process-helpers.js';

const HANDLERS = join(ROOT, 'test', 'fixtures', 'limits-handlers.ts');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
afterAll(removeTempDirs);

async function sqliteDb() {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-limits-'));
  dirs.push(dir);
  return { url: `sqlite:${join(dir, 'orrery.db')}`, drop: async () => {} };
}

/** Runs a CLI command to its end (the built CLI, in this process: test/cli/cli-helpers.ts): exit code and output. */
async function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const r = await runCli(args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

/**
 * Most handler executions at once, from the ledger the `slow` handler writes in every worker process
 * (what really ran, on the machine's one clock), for lines starting with `prefix`.
 */
function maxOverlap(ledger: string, prefix: string): number {
  const edges = readFileSync(ledger, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${prefix} `))
    .map((l) => l.split(' '))
    .map((p) => [Number(p[3]), Number(p[2])] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]); // at equal instants, an end before a start
  let now = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (now += d));
  return peak;
}

const oneshots = (type: string, n: number, extra: (i: number) => Record<string, unknown> = () => ({})) =>
  Array.from({ length: n }, (_, i) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} }, ...extra(i) }));

describe.each([
  ['sqlite', sqliteDb],
  ['postgres', () => createTestDatabase('limits')],
])('limits and cancellation across processes on %s', (_name, makeDb) => {
  let db: { url: string; drop(): Promise<void> };
  let orrery: Orrery;
  let ledger: string;
  const procs: Array<{ kill(): void; exited: Promise<unknown>; output: () => string }> = [];

  beforeAll(async () => {
    db = await makeDb();
    orrery = await openOrrery({ db: db.url });
    const dir = mkdtempSync(join(tmpdir(), 'orrery-limits-ledger-'));
    dirs.push(dir);
    ledger = join(dir, 'ledger.txt');
    writeFileSync(ledger, '');
    const common = ['--db', db.url, '--log-format', 'json'];
    const start = (args: string[]) => {
      const env = { ...process.env, ORRERY_LOG_LEVEL: 'warn', ORRERY_TEST_LEDGER: ledger };
      const child = spawn(process.execPath, [BIN, ...args, ...common], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      procs.push({ kill: () => child.kill('SIGKILL'), exited: new Promise((r) => child.on('exit', r)), output: () => out });
    };
    // The first worker creates the file's task types and DAG; then the others and the runner start.
    start(['worker', '--handlers', HANDLERS, '--concurrency', '20', '--poll', '200ms', '--id', 'w1']);
    await waitFor(async () => (await orrery.listTaskTypes(['capped', 'per-host', 'rated', 'blocking'])).length === 4 && (await orrery.store.dags.getDags(['cancellable'])).length === 1, 'the handlers file to be synced', 30_000, 100);
    await orrery.createTaskType({ name: 'idle' }); // no worker serves it: its runs wait
    start(['worker', '--handlers', HANDLERS, '--concurrency', '20', '--poll', '200ms', '--id', 'w2']);
    start(['worker', '--handlers', HANDLERS, '--concurrency', '20', '--poll', '200ms', '--id', 'w3']);
    start(['runner', '--max-sleep', '200ms']);
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) p.kill();
    await Promise.all(procs.map((p) => p.exited));
    await orrery?.close();
    await db?.drop();
  });

  const done = (type: string, n: number) => waitFor(async () => (await orrery.searchTasks({ type, status: 'completed', limit: n + 1 })).length === n, `${n} ${type} tasks to complete`, 60_000, 50);
  const runsOf = async (type: string) => (await Promise.all((await orrery.searchTasks({ type, limit: 10_000 })).map((t) => orrery.listRuns(t.id)))).flat();

  it('3 workers with room for 60 never run more than maxRunning 5 of a type (sampled from the database)', { timeout: 60_000 }, async () => {
    const tasks = await orrery.createTasks(oneshots('capped', 60));
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = (await orrery.store.queueStats(new Date())).find((q) => q.type === 'capped')!;
        peak = Math.max(peak, s.running);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await done('capped', tasks.length);
    sampling = false;
    await sampler;
    expect(peak).toBe(5);
    const runs = await runsOf('capped');
    expect(runs.map((r) => r.status)).toEqual(runs.map(() => 'uneventful'));
    expect(maxOverlap(ledger, 'capped')).toBe(5);
  });

  it('maxRunningPerKey 1 with 4 keys runs 4 at a time, one per key', { timeout: 60_000 }, async () => {
    const tasks = await orrery.createTasks(oneshots('per-host', 24, (i) => ({ concurrencyKey: `host${i % 4}`, arguments: { args: [i], kwargs: { host: `host${i % 4}` } } })));
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await orrery.store.queueStats(new Date())).find((q) => q.type === 'per-host')!.running);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await done('per-host', tasks.length);
    sampling = false;
    await sampler;
    expect(peak).toBe(4);
    for (let k = 0; k < 4; k++) expect(maxOverlap(ledger, `per-host host${k}`), `host${k}`).toBe(1);
    expect(maxOverlap(ledger, 'per-host')).toBe(4);
  });

  it('a rate limit of 50 per second: never 51 starts in a second, at most 251 in 5 seconds, and the limit (not the workers) sets the pace', { timeout: 60_000 }, async () => {
    const tasks = await orrery.createTasks(oneshots('rated', 320));
    await done('rated', tasks.length);
    const starts = (await runsOf('rated')).map((r) => r.started!.getTime()).sort((a, b) => a - b);
    expect(starts).toHaveLength(320);
    const inFive = starts.filter((s) => s < starts[0]! + 5000).length;
    expect(inFive, `${inFive} started in the first 5 s`).toBeLessThanOrEqual(251);
    const spans: number[] = []; // from each start to the 50th after it
    for (let i = 50; i < starts.length; i++) spans.push(starts[i]! - starts[i - 50]!);
    for (const s of spans) expect(s).toBeGreaterThanOrEqual(1000); // never 51 in a second
    // The workers (60 free slots) wait for the limit: 50 starts take a second, plus the time a slot
    // takes to be seen open (a few ms here; more on a loaded machine, which is why no count of the
    // first 5 s is asserted from below: 240 were seen under load). A limit that let fewer through,
    // say 50 every 2 s, would make this about 2,000 ms.
    const median = [...spans].sort((a, b) => a - b)[spans.length >> 1]!;
    expect(median, `median span of 50 starts, ms (${inFive} started in the first 5 s)`).toBeLessThan(1500);
  });

  it('orrery run cancel: a waiting run ends at once; a running inline handler is aborted through the wake-up', { timeout: 60_000 }, async () => {
    const waitingTask = await orrery.createTask({ type: 'idle', policy: 'oneshot' });
    const waiting = await waitFor(async () => (await orrery.listRuns(waitingTask.id))[0], 'the runner to schedule it');
    const a = await cli(['run', 'cancel', waiting.backendId, '--db', db.url, '--json']);
    expect(a.code, a.err).toBe(0);
    expect(JSON.parse(a.out)).toMatchObject({ outcome: 'ended', run: { status: 'lost', error: 'cancelled' }, task: { status: 'disabled' } });

    const blocking = await orrery.createTask({ type: 'blocking' });
    const running = await waitFor(async () => (await orrery.listRuns(blocking.id)).find((r) => r.status === 'started'), 'the blocking run to start', 30_000);
    const asked = Date.now();
    const b = await cli(['run', 'cancel', running.backendId, '--db', db.url]);
    expect(b.code, b.err).toBe(0);
    expect(b.out).toMatch(/asked it to stop/);
    const ended = await waitFor(async () => {
      const r = await orrery.getRun(running.backendId);
      return r?.status === 'started' ? null : r;
    }, 'the cancelled run to end', 15_000);
    expect(Date.now() - asked).toBeLessThan(10_000); // its next heartbeat would be 20 s away
    expect(ended).toMatchObject({ status: 'failed', error: 'cancelled' });
    expect(await orrery.getTask(blocking.id)).toMatchObject({ status: 'next_run_not_scheduled', retriesLeft: 3 });
    const again = await cli(['run', 'cancel', running.backendId, '--db', db.url]);
    expect(again.code).toBe(2); // already ended: a conflict
  });

  it('orrery dag-run cancel stops the running task and fails the rest', { timeout: 60_000 }, async () => {
    const run = await orrery.dags.trigger('cancellable');
    const attempt = await waitFor(async () => {
      const t = (await orrery.dags.run(run.id)).tasks.find((x) => x.taskId === 'wait');
      return t?.status === 'running' ? t : null;
    }, 'the DAG task to run', 30_000);
    const c = await cli(['dag-run', 'cancel', String(run.id), '--db', db.url, '--json']);
    expect(c.code, c.err).toBe(0);
    expect(JSON.parse(c.out)).toMatchObject({ id: run.id, status: 'failed' });
    const [jobRun] = await orrery.listRuns(attempt.orreryTask!);
    const ended = await waitFor(async () => {
      const r = await orrery.getRun(jobRun!.backendId);
      return r?.status === 'started' ? null : r;
    }, 'the attempt to be stopped', 15_000);
    expect(ended).toMatchObject({ status: 'failed', error: 'cancelled' });
    expect((await orrery.dags.run(run.id)).tasks.map((t) => [t.taskId, t.status, t.error])).toEqual([
      ['wait', 'failed', 'cancelled'],
      ['after', 'failed', 'cancelled'],
    ]);
  });

  it('task add --key: --on-conflict replace updates the waiting task; error exits 2', { timeout: 60_000 }, async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const first = await cli(['task', 'add', 'idle', 'v1', '--policy', 'oneshot', '--key', 'page-1', '--next-run', later, '--db', db.url, '--json']);
    expect(first.code, first.err).toBe(0);
    const created = JSON.parse(first.out) as { id: number; key: string };
    expect(created.key).toBe('page-1');
    const replaced = await cli(['task', 'add', 'idle', 'v2', 'depth=2', '--policy', 'oneshot', '--key', 'page-1', '--on-conflict', 'replace', '--next-run', later, '--db', db.url]);
    expect(replaced.code, replaced.err).toBe(0);
    expect(replaced.out).toMatch(new RegExp(`^replaced task ${created.id} `));
    expect((await orrery.getTask(created.id))!.arguments).toEqual({ args: ['v2'], kwargs: { depth: 2 } });
    const refused = await cli(['task', 'add', 'idle', 'v3', '--policy', 'oneshot', '--key', 'page-1', '--on-conflict', 'error', '--db', db.url]);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(new RegExp(`task ${created.id} of type idle with key "page-1" is active`));
    expect((await orrery.searchTasks({ type: 'idle' })).filter((t) => t.key === 'page-1')).toHaveLength(1);
  });
});
