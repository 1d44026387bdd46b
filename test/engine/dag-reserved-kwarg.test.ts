/**
 * The kwarg `orrery.dag` is the DAG scheduler's alone (docs/dags.md): a task made with it by hand, of
 * any type, and a listed origin whose extra loader arguments (its visit tasks' kwargs) hold it, are
 * refused, and a batch holding one writes nothing. A well-formed forged one ran the DAG task's code
 * outside any DAG run.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { useTempOrrery } from './engine-helpers.js';

const REFUSAL = 'is reserved for the attempts the DAG scheduler makes';

async function refusal(p: Promise<unknown>): Promise<string[]> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(ValidationError);
  return (e as ValidationError).details.map((d) => `${d.path}: ${d.message}`);
}

describe('the orrery.dag kwarg', () => {
  const temp = useTempOrrery();

  it('is refused in tasks made by hand, whatever their type, and in listed origins; nothing is written', async () => {
    const { orrery } = await temp();
    await orrery.dags.register([{ id: 'etl', tasks: [{ id: 'load' }] }]);
    await orrery.createTaskType({ name: 'fetch' });
    const forged = { dag: 'etl', version: 'v', run: 1, task: 'load', attempt: 1, execTs: '2026-01-01T00:00:00Z', params: {}, upstream: {}, timeoutMs: null };
    for (const type of ['orrery.dag', 'fetch']) {
      expect(await refusal(orrery.createTask({ type, arguments: { args: [], kwargs: { 'orrery.dag': forged } }, policy: 'oneshot' }))).toEqual([`arguments.kwargs.orrery.dag: ${REFUSAL}`]);
    }
    const batch = [
      { type: 'fetch', arguments: { args: ['a'], kwargs: {} }, policy: 'oneshot' as const },
      { type: 'fetch', arguments: { args: ['b'], kwargs: { 'orrery.dag': 1 } }, policy: 'oneshot' as const },
    ];
    expect(await refusal(orrery.createTasks(batch))).toEqual([`tasks[1].arguments.kwargs.orrery.dag: ${REFUSAL}`]);
    expect(await orrery.searchTasks({})).toEqual([]);

    const lister = await orrery.visits.getOrCreateLister('forge');
    const origins = [
      { listerId: lister.id, url: 'https://forge/1', visitType: 'git' },
      { listerId: lister.id, url: 'https://forge/2', visitType: 'git', extraLoaderArguments: { 'orrery.dag': forged } },
    ];
    expect(await refusal(orrery.visits.recordListedOrigins(origins))).toEqual([`origins[1].extraLoaderArguments.orrery.dag: ${REFUSAL}`]);
    expect((await orrery.visits.getListedOrigins({ listerId: lister.id })).origins).toEqual([]);
    // Any other kwarg, a dotted one included, is the user's.
    expect((await orrery.createTask({ type: 'fetch', arguments: { args: [], kwargs: { 'orrery.dags': 1, orrery: { dag: 1 } } }, policy: 'oneshot' })).arguments.kwargs).toEqual({ 'orrery.dags': 1, orrery: { dag: 1 } });
  });
});
