/**
 * Text output with data anyone may have written (task arguments, a type's description and pause
 * reason, a handler's error and log lines, a worker id): no control character reaches the terminal
 * raw, so a value cannot retitle it, clear it or overwrite a line; a table keeps one line a row; and
 * `--json` gives the values back exactly (an audit saw ESC, BEL, CR and the C1 CSI printed raw).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { removeTempDirs, runCli, runJson, tempDb } from './cli-helpers.js';

const HOSTILE = 'A\u001b]0;PWNED\u0007\u001b[2J\rXX\bY\nNL\tTAB\u202eRTL\u009b31m\u007f';
/** Raw characters that must never be printed (newline and tab are the output's own). */
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

afterAll(removeTempDirs);

describe('hostile text in the data, printed by the CLI', () => {
  it('is escaped in every text listing and show, kept exact in --json', async () => {
    const db = tempDb();
    const o = await openOrrery({ db: db.url });
    await o.createTaskType({ name: 'evil', defaultIntervalMs: '1h', description: HOSTILE });
    await o.pauseTaskType('evil', { reason: HOSTILE });
    const task = await o.createTask({ type: 'evil', policy: 'oneshot', arguments: { args: [HOSTILE], kwargs: { [HOSTILE]: 1 } } });
    await o.resumeTaskType('evil');
    await o.scheduleDue({});
    const [claimed] = await o.claimRuns({ worker: `w${HOSTILE}`, types: ['evil'], limit: 1 });
    const run = claimed!.run;
    await o.appendRunLogs(run.backendId, [{ level: 'info', message: HOSTILE, at: new Date(), attributes: {} }]);
    await o.endRun(run.backendId, { status: 'failed', worker: `w${HOSTILE}`, error: HOSTILE });
    await o.close();

    for (const args of [['task-type', 'list'], ['task-type', 'list', '-v'], ['task', 'list'], ['task', 'show', String(task.id)], ['task', 'why', String(task.id)], ['run', 'list'], ['run', 'show', run.backendId], ['run', 'logs', run.backendId], ['worker', 'list']]) {
      const r = await runCli([...args, ...db.db]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(RAW.test(r.stdout), `${args.join(' ')} printed a raw control character: ${JSON.stringify(r.stdout)}`).toBe(false);
      if (args[1] !== 'why') expect(r.stdout, args.join(' ')).toContain('\\u001b]0;PWNED\\u0007');
    }
    // A log record stays one line; a table row too.
    const logs = (await runCli(['run', 'logs', run.backendId, ...db.db])).stdout.trimEnd().split('\n');
    expect(logs).toHaveLength(1);
    const types = (await runCli(['task-type', 'list', ...db.db])).stdout.trimEnd().split('\n');
    expect(types).toHaveLength(2);
    // --json: the values as stored, escapes only as JSON writes them.
    const shown = await runJson<{ arguments: { args: string[]; kwargs: Record<string, number> } }>(['task', 'show', String(task.id), '--json', ...db.db]);
    expect(shown.arguments).toEqual({ args: [HOSTILE], kwargs: { [HOSTILE]: 1 } });
  });

  it('task why keeps each gate on one line: a newline or tab in a pause reason shows as \\n, \\t', async () => {
    const db = tempDb();
    const o = await openOrrery({ db: db.url });
    await o.createTaskType({ name: 't', defaultIntervalMs: '1h' });
    const task = await o.createTask({ type: 't', arguments: { args: ['x'], kwargs: {} } });
    await o.pauseTask(task.id, { reason: 'line one\nline two' });
    await o.pauseTaskType('t', { reason: 'type\treason\nsecond' });
    await o.close();
    const out = (await runCli(['task', 'why', String(task.id), ...db.db])).stdout;
    const gates = out.split('\n').filter((l) => /^(ok|HOLD|-)\s/.test(l));
    expect(gates.find((l) => l.includes('task-paused'))).toContain('(line one\\nline two); orrery task resume');
    expect(gates.find((l) => l.includes('type-paused'))).toContain('(type\\treason\\nsecond); orrery task-type resume t');
    expect(out).not.toMatch(/\t/);
    expect(out).not.toMatch(/^line two/m);
  });

  it('error lines escape C1 controls and bidi overrides as well', async () => {
    const db = tempDb();
    const r = await runCli(['task', 'list', '-t', `x\u001b]0;T\u0007\u009b31m\u202eRTL`, ...db.db]);
    expect(r.code).toBe(2);
    expect(RAW.test(r.stderr)).toBe(false);
    expect(r.stderr).toContain('x\\u001b]0;T\\u0007\\u009b31m\\u202eRTL');
  });
});
