import { oneLine } from '../core/terminal-text.js';
import type { Command } from 'commander';
import type { TypePause } from '../core/model.js';
import { addDb, parseId, printJson, withOrrery, type DbOpts, type Io } from './common.js';

type PauseOpts = DbOpts & { reason?: string; json?: boolean };

const since = (p: TypePause) => `since ${p.at.toISOString()}${p.reason ? ` (${oneLine(p.reason)})` : ''}`;

/** `orrery task pause|resume ID`: a task's schedule held and released (docs/operations.md#pause-a-task-or-a-dag). */
export function addTaskPauseCommands(cmd: Command, io: Io): void {
  addDb(
    cmd
      .command('pause')
      .description("pause a task's schedule: it is neither scheduled nor claimed; a run waiting in the queue is taken back, a run a worker holds finishes")
      .argument('<id>', 'task id')
      .option('--reason <text>', 'why (shown in listings, the dashboard and `orrery task why`)')
      .option('--json', 'print the task as JSON'),
  ).action(async (id: string, o: PauseOpts) => {
    const taskId = parseId(id);
    const task = await withOrrery(o, (orrery) => orrery.pauseTask(taskId, o.reason !== undefined ? { reason: o.reason } : {}));
    if (o.json) return printJson(io, task);
    io.out(`paused task ${task.id} ${since(task.paused!)}\n`);
  });
  addDb(
    cmd
      .command('resume')
      .description("resume a paused task's schedule: due again at its next run (at once when that has passed)")
      .argument('<id>', 'task id')
      .option('--json', 'print the task as JSON'),
  ).action(async (id: string, o: PauseOpts) => {
    const taskId = parseId(id);
    const [was, task] = await withOrrery(o, async (orrery) => [await orrery.getTask(taskId), await orrery.resumeTask(taskId)] as const);
    if (o.json) return printJson(io, task);
    io.out(`${was?.paused ? 'resumed task' : 'task'} ${task.id}${was?.paused ? '' : ' was not paused'}; next run ${task.nextRun.toISOString()}\n`);
  });
}

/** `orrery dag pause|resume ID`. */
export function addDagPauseCommands(cmd: Command, io: Io): void {
  addDb(
    cmd
      .command('pause')
      .description('pause a DAG: no new DAG run, and its active runs create no further task attempts (running attempts finish)')
      .argument('<id>', 'DAG id')
      .option('--reason <text>', 'why (shown in listings and the dashboard)')
      .option('--json', 'print the DAG as JSON'),
  ).action(async (id: string, o: PauseOpts) => {
    const dag = await withOrrery(o, (orrery) => orrery.dags.pause(id, o.reason !== undefined ? { reason: o.reason } : {}));
    if (o.json) return printJson(io, dag);
    io.out(`paused DAG ${dag.id} ${since(dag.paused!)}\n`);
  });
  addDb(
    cmd
      .command('resume')
      .description('resume a paused DAG: missed schedule points follow its catch-up rule, its active runs go on')
      .argument('<id>', 'DAG id')
      .option('--json', 'print the DAG as JSON'),
  ).action(async (id: string, o: PauseOpts) => {
    const [was, dag] = await withOrrery(o, async (orrery) => [await orrery.dags.get(id, 1), await orrery.dags.resume(id)] as const);
    if (o.json) return printJson(io, dag);
    io.out(was?.paused ? `resumed DAG ${dag.id}\n` : `DAG ${dag.id} was not paused\n`);
  });
}
