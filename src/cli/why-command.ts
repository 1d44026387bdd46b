import { Command } from 'commander';
import type { WhyAnswer } from '../core/why.js';
import { oneLine } from '../core/terminal-text.js';
import { addDb, instantArg, parseId, printJson, withOrrery, type DbOpts, type Io } from './common.js';

const MARK: Record<string, string> = { pass: 'ok  ', hold: 'HOLD', skip: '-   ' };

/** `orrery task why ID`: every gate between the task and a running handler (docs/operations.md#why-isnt-it-running). */
export function whyCommand(io: Io): Command {
  return addDb(
    new Command('why')
      .description("why a task is (not) running: every gate in order, the one that holds it, and until when")
      .argument('<id>', 'task id')
      .option('--at <instant>', 'as of this instant (default now)', instantArg)
      .option('--json', 'print the answer as JSON'),
  ).action(async (id: string, o: DbOpts & { at?: Date; json?: boolean }) => {
    const taskId = parseId(id);
    const answer = await withOrrery(o, (orrery) => orrery.whyTask(taskId, o.at ? { at: o.at } : {}));
    if (o.json) return printJson(io, answer);
    io.out(render(answer));
  });
}

/** The answer as text: each line is one line, whatever the pause reasons and names in it hold (a newline or tab shows as `\n`, `\t`, as in every table). */
export function render(a: WhyAnswer): string {
  const lines = [`task ${a.task}: ${a.state}${a.heldBy ? ` (held by ${oneLine(a.heldBy)})` : ''}`, `  ${oneLine(a.summary)}`];
  if (a.until) lines.push(`  until ${a.until.toISOString()}`);
  lines.push('');
  const width = Math.max(...a.gates.map((g) => g.gate.length));
  for (const g of a.gates) lines.push(`${MARK[g.verdict]}  ${g.gate.padEnd(width)}  ${oneLine(g.detail)}`);
  return `${lines.join('\n')}\n`;
}
