/**
 * The JSON shapes of docs/cli.md ("JSON shapes") are what `--json` prints: the same fields, in the
 * same order, for a task type, a task and a run, and the documented wrappers (`task show` adds
 * `runs`, `run show` adds `logs`, `run end` prints `{run, task, taskUpdated}`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ROOT, errorLines, removeTempDirs, runCli, runJson, tempDb } from './cli-helpers.js';

afterAll(removeTempDirs);

/** The first ```json block after `**NAME**` in the JSON shapes section of docs/cli.md. */
function documented(name: string): Record<string, unknown> {
  const text = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');
  const section = text.slice(text.indexOf('\n## JSON shapes'));
  const from = section.indexOf(`**${name}**`);
  expect(from, `**${name}** in the JSON shapes of docs/cli.md`).toBeGreaterThan(0);
  const block = /```json\n([\s\S]*?)\n```/.exec(section.slice(from))!;
  return JSON.parse(block[1]!) as Record<string, unknown>;
}

test('task-type add, task add, task schedule, task show, run show and run end print the documented fields, in order', async () => {
  const { db } = tempDb();
  const type = await runJson(['task-type', 'add', 'check-feed', '--default-interval', '1d', '--num-retries', '2', '--json', ...db]);
  const task = await runJson(['task', 'add', 'check-feed', 'https://example.org/news.xml', '--at', '2026-01-01T00:00:00Z', '--json', ...db]);
  const [run] = await runJson<any[]>(['task', 'schedule', '--at', '2026-01-01T00:00:00Z', '--json', ...db]);
  await runJson(['run', 'start', run.backendId, '--at', '2026-01-01T00:00:05Z', '--json', ...db]);
  const ended = await runJson(['run', 'end', run.backendId, '--status', 'uneventful', '--at', '2026-01-01T00:01:00Z', '--json', ...db]);
  const [shown, runShown] = await Promise.all([runJson(['task', 'show', String(task.id), '--json', ...db]), runJson(['run', 'show', run.backendId, '--json', ...db])]);

  const taskKeys = Object.keys(documented('Task'));
  const runKeys = Object.keys(documented('Run'));
  expect(Object.keys(type)).toEqual(Object.keys(documented('Task type')));
  expect(Object.keys(task)).toEqual(taskKeys);
  expect(Object.keys(run)).toEqual(runKeys);
  expect(Object.keys(shown)).toEqual([...taskKeys, 'runs']);
  expect(Object.keys(shown.runs[0])).toEqual(runKeys);
  expect(Object.keys(runShown)).toEqual([...runKeys, 'logs']);
  expect(Object.keys(ended)).toEqual(['run', 'task', 'taskUpdated']);
  expect(Object.keys(ended.run)).toEqual(runKeys);
  expect(Object.keys(ended.task)).toEqual(taskKeys);
});

test('task add KEY=VALUE: keys named like Object.prototype members are kwargs like any other; __proto__ is refused (exit 2)', async () => {
  const { db } = tempDb();
  await runJson(['task-type', 'add', 'job', '--json', ...db]);
  // `toString=1` was refused as "given twice" (an inherited member was taken for an earlier key).
  const task = await runJson(['task', 'add', 'job', 'toString=1', 'constructor=x', 'hasOwnProperty=[2]', '--policy', 'oneshot', '--json', ...db]);
  expect(task.arguments.kwargs).toEqual({ toString: 1, constructor: 'x', hasOwnProperty: [2] });
  const r = await runCli(['task', 'add', 'job', '__proto__={"a":1}', '--policy', 'oneshot', ...db]);
  expect(r.code).toBe(2);
  expect(errorLines(r.stderr)).toEqual(['orrery: argument __proto__: not accepted as a keyword (it would be dropped)']);
  expect(await runJson(['task', 'list', '--json', ...db])).toHaveLength(1);
});

test('task list --json over several pages prints one array, written as each page arrives, exactly as one JSON.stringify would', async () => {
  const { db, url } = tempDb();
  const { openOrrery } = await import('../../src/engine/service.js');
  const o = await openOrrery({ db: url });
  await o.createTaskType({ name: 'bulk', maxQueueLength: null });
  await o.createTasks(Array.from({ length: 2500 }, (_, i) => ({ type: 'bulk', policy: 'oneshot' as const, arguments: { args: [i, 'line\nbreak'], kwargs: { n: i } } })));
  await o.close();
  const r = await runCli(['task', 'list', '--limit', '2300', '--json', ...db]);
  expect(r.code, r.stderr).toBe(0);
  const parsed = JSON.parse(r.stdout) as Array<{ id: number; arguments: { args: unknown[] } }>;
  expect(parsed.map((t) => t.id)).toEqual(Array.from({ length: 2300 }, (_, i) => i + 1));
  expect(r.stdout).toBe(`${JSON.stringify(parsed, null, 2)}\n`);
  const table = await runCli(['task', 'list', '--limit', '2300', ...db]);
  expect(table.stdout.split('\n').filter((l) => /^\d+ /.test(l))).toHaveLength(2300);
  expect(table.stdout).toContain('more: orrery task list ... --after 2300');
  // Any id a number holds exactly is a place to start from (before: 16 digits blamed a "cursor" option).
  expect(await runCli(['task', 'list', '--after', '9007199254740991', '--json', ...db])).toMatchObject({ code: 0, stdout: '[]\n' });
  expect((await runCli(['task', 'list', '--after', '2499', '--json', ...db])).stdout).toContain('"id": 2500');
  const none = await runCli(['task', 'list', '--type', 'bulk', '--status', 'disabled', '--json', ...db]);
  expect(none.stdout).toBe('[]\n');
});
