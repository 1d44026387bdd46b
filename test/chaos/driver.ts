/**
 * The chaos driver (issue 7): runners and workers as real processes on one database, SIGKILLed at
 * random and restarted, while one-shot and recurring tasks run handlers that fail at random and
 * record every execution in a ledger table. Then the guarantees of SPEC §2.3 are checked on the
 * database: nothing lost, nothing stuck, every success backed by an execution, duplicates only where
 * a run was lost.
 */
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'orrery.js');
const HANDLERS = join(ROOT, 'test', 'fixtures', 'chaos-handlers.ts');

export interface ChaosOptions {
  /** `sqlite:PATH` or `postgres://...` */
  db: string;
  oneshot: number;
  recurring: number;
  runners: number;
  workers: number;
  concurrency: number;
  /** A random process is killed every this many ms (uniform between the two). */
  killEveryMs: [number, number];
  /** Stop killing after this long even if one-shot tasks remain. */
  maxChaosMs: number;
  /** Called once, mid-round (e.g. restart the PostgreSQL server). */
  midRound?: () => Promise<void>;
  log?: (line: string) => void;
}

export interface ChaosReport {
  store: string;
  oneshot: number;
  recurring: number;
  kills: number;
  chaosMs: number;
  runs: number;
  executions: number;
  successfulEnds: number;
  lostRuns: number;
  /** Runs the reaper gave back as never started (claimed by a worker that was killed). */
  givenBack: number;
  /** One-shot tasks executed successfully more than once (each had a lost run: at-least-once). */
  duplicates: number;
  completed: number;
  disabled: Record<string, number>;
  violations: string[];
}

interface Sql {
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  run(sql: string): Promise<void>;
  close(): Promise<void>;
}

function connect(db: string): Sql {
  if (db.startsWith('sqlite:')) {
    const conn = new Database(db.slice('sqlite:'.length));
    conn.pragma('busy_timeout = 15000');
    return {
      all: async <T>(sql: string, params: unknown[] = []) => conn.prepare(sql).all(...params) as T[],
      run: async (sql) => void conn.exec(sql),
      close: async () => void conn.close(),
    };
  }
  const pool = new pg.Pool({ connectionString: db, max: 2 });
  pool.on('error', () => {});
  let n = 0;
  const dollar = (sql: string) => sql.replace(/\?/g, () => `$${++n}`);
  return {
    all: async <T>(sql: string, params: unknown[] = []) => {
      n = 0;
      for (let i = 0; ; i++) {
        try {
          return (await pool.query(dollar(sql), params)).rows as T[];
        } catch (e) {
          if (i > 50) throw e;
          await new Promise((r) => setTimeout(r, 200)); // the server may be restarting
        }
      }
    },
    run: async (sql) => void (await pool.query(sql)),
    close: () => pool.end(),
  };
}

interface Role {
  args: string[];
  proc: ChildProcess;
  exited: Promise<number | null>;
  output: string;
  /** Logged that it started (its signal handlers are installed). */
  up: boolean;
}

/** The lease of the chaos task types (test/fixtures/chaos-handlers.ts). */
const LEASE_MS = 2_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaosRound(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => {});
  const sql = connect(opts.db);
  const env = { ...process.env, ORRERY_CHAOS_LEDGER: opts.db };
  const roles: Role[] = [];
  const start = (args: string[]): Role => {
    const proc = spawn(process.execPath, [BIN, ...args, '--db', opts.db, '--log-format', 'json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const role: Role = { args, proc, output: '', up: false, exited: new Promise((r) => proc.on('exit', (code) => r(code))) };
    // ORRERY_CHAOS_LOGS=DIR: every process's whole output in DIR/<pid>-<role>.log (a violation's trail).
    const logFile = process.env.ORRERY_CHAOS_LOGS ? join(process.env.ORRERY_CHAOS_LOGS, `${proc.pid}-${args[0]}.log`) : null;
    const keep = (d: Buffer) => {
      if (logFile) appendFileSync(logFile, d);
      role.output = (role.output + d.toString()).slice(-20_000);
      if (!role.up && role.output.includes('orrery started')) role.up = true;
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    return role;
  };
  const violations: string[] = [];
  try {
    await sql.run('CREATE TABLE IF NOT EXISTS chaos_ledger (exec_id TEXT PRIMARY KEY, backend_id TEXT NOT NULL, task INTEGER NOT NULL, outcome TEXT NOT NULL, pid INTEGER NOT NULL)');
    // The first worker creates the task types; then the tasks are created in batches through the CLI's library.
    const workerArgs = ['worker', '--handlers', HANDLERS, '--concurrency', String(opts.concurrency), '--poll', '200ms', '--grace', '2s'];
    const runnerArgs = ['runner', '--max-sleep', '200ms'];
    for (let i = 0; i < opts.workers; i++) roles.push(start(workerArgs));
    await until(async () => (await sql.all(`SELECT count(*) AS n FROM task_types WHERE name LIKE 'chaos-%'`))[0]!.n == 2, 'task types', 60_000);
    const { openOrrery } = await import('../../src/engine/service.js');
    const orrery = await openOrrery({ db: opts.db });
    try {
      for (let i = 0; i < opts.oneshot; i += 1000) {
        const n = Math.min(1000, opts.oneshot - i);
        await orrery.createTasks(Array.from({ length: n }, (_, j) => ({ type: 'chaos-once', policy: 'oneshot' as const, arguments: { args: [i + j], kwargs: {} } })));
      }
      await orrery.createTasks(Array.from({ length: opts.recurring }, (_, j) => ({ type: 'chaos-recur', arguments: { args: [j], kwargs: {} } })));
    } finally {
      await orrery.close();
    }
    for (let i = 0; i < opts.runners; i++) roles.push(start(runnerArgs));

    // Chaos: kill a random process, restart its role at once, until the one-shot work is done.
    const t0 = Date.now();
    let kills = 0;
    let lastKill = t0;
    let midDone = !opts.midRound;
    const oneshotLeft = async () =>
      Number((await sql.all(`SELECT count(*) AS n FROM tasks WHERE type = 'chaos-once' AND status NOT IN ('completed', 'disabled')`))[0]!.n);
    while (Date.now() - t0 < opts.maxChaosMs && (await oneshotLeft()) > 0) {
      await sleep(opts.killEveryMs[0] + Math.random() * (opts.killEveryMs[1] - opts.killEveryMs[0]));
      // Every other kill is a worker's (the roles list starts with them), so a round that drains its
      // work in a few seconds still kills workers holding runs.
      const i = Math.floor(Math.random() * (kills % 2 === 0 ? opts.workers : roles.length));
      const victim = roles[i]!;
      if (victim.proc.exitCode !== null || victim.proc.signalCode !== null) {
        violations.push(`a ${victim.args[0]} exited by itself (code ${victim.proc.exitCode}): ${lastLines(victim.output)}`);
      }
      victim.proc.kill('SIGKILL');
      await victim.exited;
      kills += 1;
      lastKill = Date.now();
      roles[i] = start(victim.args);
      if (!midDone && Date.now() - t0 > opts.maxChaosMs / 4) {
        midDone = true;
        log('mid-round fault');
        await opts.midRound!();
      }
    }
    const chaosMs = Date.now() - t0;
    log(`chaos over after ${chaosMs} ms and ${kills} kills; settling`);

    // Settle without kills: every one-shot task reaches completed or disabled.
    await until(async () => (await oneshotLeft()) === 0, 'every one-shot task to finish', 120_000);
    // Runs held by the last killed workers come back only when their 2 s leases expire: wait that
    // long, so that stopping the reapers below cannot leave them started.
    await sleep(Math.max(0, lastKill + LEASE_MS + 500 - Date.now()));
    // No run stays started past its lease (the reapers run); reapers poll every 200 ms.
    await until(
      async () => Number((await sql.all(`SELECT count(*) AS n FROM task_runs WHERE status IN ('claimed', 'started') AND lease_expires_at < ?`, [leaseCut(opts.db, 1000)]))[0]!.n) === 0,
      'no run started past its lease',
      30_000,
    ).catch(() => violations.push('runs stayed started past their lease'));
    // Each process up (signal handlers installed) before the graceful stop: SIGTERM during start-up simply kills.
    await until(async () => roles.every((r) => r.up), 'every process to be up', 60_000);
    for (const r of roles) {
      if (r.proc.exitCode !== null || r.proc.signalCode !== null) violations.push(`a ${r.args[0]} exited by itself: ${lastLines(r.output)}`);
      r.proc.kill('SIGTERM');
    }
    const codes = await Promise.all(roles.map((r) => r.exited));
    codes.forEach((c, i) => c !== 0 && violations.push(`${roles[i]!.args[0]} exited ${c} on SIGTERM: ${lastLines(roles[i]!.output)}`));

    // The guarantees, read from the database.
    const stuck = await sql.all(`SELECT t.id FROM tasks t WHERE t.status = 'next_run_scheduled'
      AND NOT EXISTS (SELECT 1 FROM task_runs r WHERE r.task = t.id AND r.status IN ('scheduled', 'claimed', 'started'))`);
    if (stuck.length) violations.push(`${stuck.length} tasks next_run_scheduled without a live run: ${stuck.slice(0, 5).map((r) => r.id).join(', ')}`);
    const started = await sql.all(`SELECT count(*) AS n FROM task_runs WHERE status = 'started'`);
    if (Number(started[0]!.n) > 0) violations.push(`${started[0]!.n} runs still started after every process stopped gracefully`);
    const unbacked = await sql.all(`SELECT r.backend_id FROM task_runs r WHERE r.status IN ('eventful', 'uneventful')
      AND NOT EXISTS (SELECT 1 FROM chaos_ledger l WHERE l.backend_id = r.backend_id AND l.outcome = 'ok')`);
    if (unbacked.length) violations.push(`${unbacked.length} successful ends without an execution in the ledger`);
    const dupRows = await sql.all<{ task: number; n: number; lost: number }>(`SELECT l.task, count(*) AS n,
        (SELECT count(*) FROM task_runs r WHERE r.task = l.task AND r.status = 'lost') AS lost
      FROM chaos_ledger l JOIN tasks t ON t.id = l.task WHERE t.type = 'chaos-once' AND l.outcome = 'ok' GROUP BY l.task HAVING count(*) > 1`);
    // A run given back by the reaper as never started may have begun just before its worker died.
    const givenBackOf = async (task: number) =>
      (await sql.all<{ m: unknown }>(`SELECT metadata AS m FROM task_runs WHERE task = ${Number(task)}`)).some((r) => Number((typeof r.m === 'string' ? JSON.parse(r.m) : r.m)?.['orrery.givenBack'] ?? 0) > 0);
    const unexplained: typeof dupRows = [];
    for (const d of dupRows) if (Number(d.lost) === 0 && !(await givenBackOf(d.task))) unexplained.push(d);
    if (unexplained.length) violations.push(`${unexplained.length} one-shot tasks executed successfully twice without a lost run`);
    const runTwiceRows = await sql.all<{ backend_id: string; task: number }>(`SELECT backend_id, min(task) AS task FROM chaos_ledger GROUP BY backend_id HAVING count(*) > 1`);
    const runTwice: typeof runTwiceRows = [];
    for (const r of runTwiceRows) if (!(await givenBackOf(r.task))) runTwice.push(r);
    if (runTwice.length) {
      const pids = async (b: string) => (await sql.all<{ pid: number }>('SELECT pid FROM chaos_ledger WHERE backend_id = ' + (opts.db.startsWith('sqlite:') ? '?' : '$1'), [b])).map((r) => r.pid).join('+');
      const named = await Promise.all(runTwice.slice(0, 5).map(async (r) => `${r.backend_id} (task ${r.task}, pids ${await pids(r.backend_id)})`));
      violations.push(`${runTwice.length} runs executed twice (a claim handed out twice, not given back by the reaper): ${named.join(', ')}`);
    }
    const completedTwice = await sql.all(`SELECT task FROM task_runs r JOIN tasks t ON t.id = r.task
      WHERE t.type = 'chaos-once' AND r.status IN ('eventful', 'uneventful') GROUP BY task HAVING count(*) > 1`);
    if (completedTwice.length) violations.push(`${completedTwice.length} one-shot tasks with two successful ends (a state transition applied twice)`);
    const disabled = await sql.all<{ reason: string; n: number }>(`SELECT disabled_reason AS reason, count(*) AS n FROM tasks WHERE type = 'chaos-once' AND status = 'disabled' GROUP BY disabled_reason`);
    for (const d of disabled) if (!['retries_exhausted', 'dead_letter'].includes(d.reason)) violations.push(`${d.n} one-shot tasks disabled as ${d.reason}`);
    const exhaustedEarly = await sql.all(`SELECT t.id FROM tasks t WHERE t.type = 'chaos-once' AND t.status = 'disabled' AND t.disabled_reason = 'retries_exhausted'
      AND (SELECT count(*) FROM task_runs r WHERE r.task = t.id AND r.status IN ('failed', 'lost')) < 4`);
    if (exhaustedEarly.length) violations.push(`${exhaustedEarly.length} tasks disabled as retries_exhausted before 4 failed runs`);
    const count = async (q: string) => Number((await sql.all(q))[0]!.n);
    return {
      store: opts.db.startsWith('sqlite:') ? 'sqlite' : 'postgres',
      oneshot: opts.oneshot,
      recurring: opts.recurring,
      kills,
      chaosMs,
      runs: await count('SELECT count(*) AS n FROM task_runs'),
      executions: await count('SELECT count(*) AS n FROM chaos_ledger'),
      successfulEnds: await count(`SELECT count(*) AS n FROM task_runs WHERE status IN ('eventful', 'uneventful')`),
      lostRuns: await count(`SELECT count(*) AS n FROM task_runs WHERE status = 'lost'`),
      givenBack: (await sql.all<{ m: unknown }>(`SELECT metadata AS m FROM task_runs`)).filter(
        (r) => Number((typeof r.m === 'string' ? JSON.parse(r.m) : r.m)?.['orrery.givenBack'] ?? 0) > 0,
      ).length,
      duplicates: dupRows.length,
      completed: await count(`SELECT count(*) AS n FROM tasks WHERE type = 'chaos-once' AND status = 'completed'`),
      disabled: Object.fromEntries(disabled.map((d) => [d.reason, Number(d.n)])),
      violations,
    };
  } finally {
    for (const r of roles) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGKILL');
    await Promise.all(roles.map((r) => r.exited));
    await sql.close();
  }
}

/** The instant `ms` ago, in the store's representation of instants. */
function leaseCut(db: string, ms: number): number | Date {
  const at = Date.now() - ms;
  return db.startsWith('sqlite:') ? at : new Date(at);
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A check that fails (the schema not created yet, the server restarting) counts as not yet.
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`chaos: timed out waiting for ${what}`);
    await sleep(100);
  }
}

function lastLines(s: string): string {
  return s.trim().split('\n').slice(-3).join(' | ');
}

export function describeReport(r: ChaosReport): string {
  return `${r.store}: ${r.oneshot} one-shot + ${r.recurring} recurring tasks, ${r.kills} kills in ${(r.chaosMs / 1000).toFixed(1)} s; ` +
    `${r.runs} runs, ${r.executions} executions, ${r.successfulEnds} successful ends, ${r.lostRuns} lost runs, ${r.givenBack} runs given back by the reaper, ` +
    `${r.duplicates} one-shot tasks executed twice (each after a lost or given-back run); ${r.completed} completed, disabled ${JSON.stringify(r.disabled)}; ` +
    `violations: ${r.violations.length === 0 ? 'none' : r.violations.join('; ')}`;
}
