import { describe, expect, it } from 'vitest';
import { ConflictError, ValidationError } from '../../src/core/errors.js';
import type { ImportProgress } from '../../src/engine/task-import.js';
import type { StoreUnderTest } from './describe-store.js';
import { useOrrery } from './fixtures.js';

/** More than two chunks (2,000 tasks each), so an import spans several statements and turns. */
const N = 5000;
const line = (i: number, extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'load-git', arguments: { args: [`u${i}`], kwargs: {} }, ...extra });
/** NDJSON as a byte stream cut at arbitrary places (mid-line, mid-character). */
async function* bytes(text: string, piece = 7919): AsyncGenerator<Uint8Array> {
  const all = new TextEncoder().encode(text);
  for (let i = 0; i < all.length; i += piece) yield all.subarray(i, i + piece);
}

/** NDJSON imports and summarised batches: validated and written in chunks, all or nothing. */
export function taskImportCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('task imports', () => {
    it('imports every line in one go, with blank lines, repeats and ids in line order', async () => {
      const { orrery } = await setup();
      const before = await orrery.createTask({ type: 'load-git', arguments: { args: ['u10'], kwargs: {} } });
      const lines = Array.from({ length: N }, (_, i) => line(i));
      lines.splice(100, 0, '', '   ');
      lines.push(line(4000), `${line(N, { arguments: { args: ['é😀'], kwargs: {} } })}\r`, '');
      const phases: ImportProgress[] = [];
      const s = await orrery.importTasks(bytes(lines.join('\n')), { ids: true, onProgress: (p) => phases.push(p) });
      expect(s).toMatchObject({ lines: N + 4, count: N + 2, created: N, existing: 2, replaced: 0 });
      expect(s.ids).toHaveLength(N + 2);
      expect(s.ids![10]).toBe(before.id);
      expect(s.ids![N]).toBe(s.ids![4000]);
      expect((await orrery.getTask(s.ids![N + 1]!))!.arguments.args).toEqual(['é😀']);
      expect((await orrery.getTask(s.ids![2500]!))!.arguments.args).toEqual(['u2500']);
      expect(await orrery.searchTasks({ limit: 2 * N })).toHaveLength(N + 1);
      expect(phases.filter((p) => p.phase === 'validate').length).toBeGreaterThanOrEqual(3);
      expect(phases.filter((p) => p.phase === 'write').length).toBeGreaterThanOrEqual(3);
      expect(phases.at(-1)).toEqual({ phase: 'done', lines: N + 4, tasks: N + 2 });
    });

    it('a bad line in the middle rejects the import, names the line and the field, and writes nothing', async () => {
      const { orrery } = await setup();
      const lines = Array.from({ length: N }, (_, i) => line(i));
      const cases: Array<[string, RegExp, string]> = [
        [line(1, { priority: 'urgent' }), /^line 3001: priority: /, 'line 3001.priority'],
        [JSON.stringify({ type: 'no-such-type' }), /^line 3001: type: unknown task type "no-such-type"/, 'line 3001.type'],
        ['{"type":"load-git",', /^line 3001: invalid JSON/, 'line 3001'],
        ['[1,2]', /^line 3001: must be a JSON object/, 'line 3001'],
        [`{"type":"load-git","arguments":{"args":[${'['.repeat(200)}${']'.repeat(200)}]}}`, /^line 3001: JSON nested deeper than 128 levels/, 'line 3001'],
      ];
      for (const [bad, message, path] of cases) {
        const text = [...lines.slice(0, 3000), bad, ...lines.slice(3000)].join('\n');
        const e = await orrery.importTasks(bytes(text)).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(ValidationError);
        expect((e as ValidationError).message).toMatch(message);
        expect((e as ValidationError).message).toMatch(/nothing written$/);
        expect((e as ValidationError).details[0]!.path).toBe(path);
        expect(await orrery.searchTasks({ limit: 10 })).toEqual([]);
      }
      const raw = new Uint8Array([...new TextEncoder().encode(`${line(1)}\n`), 0xc3, 0x28, 10]);
      const bad = await orrery.importTasks((async function* () { yield raw; })()).catch((x: unknown) => x);
      expect((bad as ValidationError).message).toMatch(/^line 2: is not valid UTF-8/);
      expect(await orrery.searchTasks({ limit: 10 })).toEqual([]);
    });

    it('a conflict while writing rolls back every chunk already written; other writes meanwhile are kept', async () => {
      const { orrery } = await setup();
      await orrery.createTask({ type: 'load-git', key: 'k', arguments: { args: ['held'], kwargs: {} } });
      const lines = Array.from({ length: N }, (_, i) => line(i));
      lines[4500] = line(4500, { key: 'k', onConflict: 'error' });
      let other: Promise<unknown> | null = null;
      const e = await orrery
        .importTasks(bytes(lines.join('\n')), {
          onProgress: (p) => {
            // While the import's transaction is open, another write of this process: it waits (SQLite) or goes on (PostgreSQL), and stays.
            if (p.phase === 'write' && other === null) other = orrery.createTask({ type: 'load-git', arguments: { args: ['meanwhile'], kwargs: {} } });
          },
        })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ConflictError);
      expect((e as ConflictError).message).toMatch(/^line 4501: task \d+ of type load-git/);
      expect(other).not.toBeNull();
      await other;
      const left = await orrery.searchTasks({ limit: 10 });
      expect(left.map((t) => t.arguments.args[0]).sort()).toEqual(['held', 'meanwhile']);
    });

    it('progress counts the chunks written, on both stores alike; a conflict before the last chunk is named by its line', async () => {
      const { orrery } = await setup();
      await orrery.createTask({ type: 'load-git', key: 'k', arguments: { args: ['held'], kwargs: {} } });
      const lines = Array.from({ length: N }, (_, i) => line(i));
      lines[3300] = line(3300, { key: 'k', onConflict: 'error' }); // the fourth of five chunks
      const written = (ps: ImportProgress[]) => ps.filter((p) => p.phase !== 'validate').map((p) => `${p.phase} ${p.lines}/${p.tasks}`);
      const failed: ImportProgress[] = [];
      const e = await orrery.importTasks(bytes(lines.join('\n')), { onProgress: (p) => failed.push(p) }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ConflictError);
      // PostgreSQL writes a chunk while the next is read: the failure is still that chunk's line, not the next chunk's.
      expect((e as ConflictError).message).toMatch(/^line 3301: task \d+ of type load-git/);
      // Only the chunks written before the failing one, each counted once its rows are in the transaction; no `done`.
      expect(written(failed)).toEqual(['write 1000/1000', 'write 2000/2000', 'write 3000/3000']);
      expect(await orrery.searchTasks({ limit: 10 })).toHaveLength(1);

      const ok: ImportProgress[] = [];
      await orrery.importTasks(bytes(`${lines.slice(0, 2500).join('\n')}\n\n`), { onProgress: (p) => ok.push(p) });
      expect(written(ok)).toEqual(['write 1000/1000', 'write 2000/2000', 'write 2500/2500', 'done 2501/2500']);
    });

    it('a large batch is all or nothing too, and can answer counts or ids instead of tasks', async () => {
      const { orrery } = await setup();
      const inputs = Array.from({ length: N }, (_, i) => ({ type: 'load-git', arguments: { args: [`b${i}`], kwargs: {} } }));
      const bad = [...inputs.slice(0, 4200), { type: 'load-git', policy: 'sometimes' }, ...inputs.slice(4200)];
      const e = await orrery.createTasksSummary(bad as never).catch((x: unknown) => x);
      expect((e as ValidationError).details[0]!.path).toBe('tasks[4200].policy');
      expect(await orrery.searchTasks({ limit: 10 })).toEqual([]);
      const counted = await orrery.createTasksSummary([...inputs, inputs[0]!]);
      expect(counted).toEqual({ count: N + 1, created: N, existing: 1, replaced: 0 });
      const again = await orrery.createTasksSummary(inputs.slice(0, 2500), { ids: true });
      expect(again).toMatchObject({ count: 2500, created: 0, existing: 2500 });
      const tasks = await orrery.createTasks(inputs.slice(0, 2500));
      expect(again.ids).toEqual(tasks.map((t) => t.id));
    });
  });
}
