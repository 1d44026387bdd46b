/** `task backfill --follow --json`: progress on stderr, exactly one JSON document on stdout (docs/cli.md). */
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli/cli-helpers.js';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';
import { FIXTURE_HANDLERS, useProcesses } from './process-helpers.js';

describe('orrery task backfill --follow --json', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  it('prints the final progress as the only thing on stdout; the progress lines go to stderr', async () => {
    const { orrery, path } = await setup();
    const worker = spawnOrrery(['serve', '--db', `sqlite:${path}`, '--port', '0', '--handlers', FIXTURE_HANDLERS, '--types', 'noop', '--poll', '100ms']);
    await waitFor(() => /orrery started/.test(worker.output()), 'serve to start');
    const task = await orrery.createTask({ type: 'noop', arguments: { args: ['hourly'], kwargs: {} }, schedule: { kind: 'cron', expr: '0 * * * *' } });
    const r = await runCli(['task', 'backfill', String(task.id), '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-01T02:00:00Z', '--follow', '--json', '--db', `sqlite:${path}`], { spawn: true });
    expect(r.code).toBe(0);
    const progress = JSON.parse(r.stdout) as { status: string; total: number; runs: unknown[] };
    expect(progress).toMatchObject({ status: 'done', total: 3 });
    expect(progress.runs).toHaveLength(3);
    expect(r.stderr).toMatch(/^backfill \d+ of task \d+: 3 occurrences from 2026-01-01T00:00:00.000Z/);
    expect(r.stderr).toMatch(/backfill \d+ done: 3 of 3 occurrences ran/);
  });
});
