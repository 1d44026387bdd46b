/**
 * startServer with a handlers module that misbehaves while it starts (handlers-file audit): a
 * shutdown asked while its setup() runs does not wait for a setup that never ends, and a bad
 * taskTypes entry refuses the module before any type is stored, naming the entry.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { startServer } from '../../src/http/start-server.js';
import { useTempOrrery } from './engine-helpers.js';

describe('startServer edges', () => {
  const setup = useTempOrrery();

  it('a signal while setup() runs: the server is returned (the caller stops it) though setup never ends', async () => {
    const { orrery } = await setup();
    const stop = new AbortController();
    let began!: () => void;
    const setupBegan = new Promise<void>((r) => (began = r));
    const order: string[] = [];
    const starting = startServer(orrery, {
      http: false,
      handlers: { handlers: { a: async () => true }, taskTypes: [{ name: 'a' }], setup: () => (order.push('setup'), began(), new Promise<void>(() => {})) },
      signal: stop.signal,
      onLoopsStarted: () => void order.push('loops started'),
    });
    await setupBegan;
    // Told before setup() begins: a shutdown from then on is a graceful stop.
    expect(order).toEqual(['loops started', 'setup']);
    stop.abort();
    const server = await starting;
    expect(server.daemon.worker?.state).toBe('running');
    await server.stop(0);
    expect(server.daemon.worker?.state).toBe('stopped');
  });

  it("a bad taskTypes entry refuses the module and stores none of them, naming the entry; a name declared twice differently too", async () => {
    const { orrery } = await setup();
    const bad = startServer(orrery, { http: false, handlers: { handlers: { a: async () => true, b: async () => true }, taskTypes: [{ name: 'a' }, { name: 'b', numRetries: 'x' as never }] } });
    await expect(bad).rejects.toThrow(/^handlers: taskTypes\[1\]\.numRetries: /);
    await expect(bad).rejects.toBeInstanceOf(ValidationError);
    expect(await orrery.listTaskTypes()).toEqual([]);
    const twice = startServer(orrery, { http: false, handlers: { handlers: { a: async () => true }, taskTypes: [{ name: 'a' }, { name: 'a', numRetries: 2 }] } });
    await expect(twice).rejects.toThrow('handlers: taskTypes[1]: task type a is declared twice, differently (also taskTypes[0])');
    expect(await orrery.listTaskTypes()).toEqual([]);
    // The same definition twice (shared lists concatenated) is one type.
    const same = await startServer(orrery, { http: false, runner: false, reaper: false, handlers: { handlers: { a: async () => true }, taskTypes: [{ name: 'a', numRetries: 2 }, { name: 'a', numRetries: 2 }] } });
    await same.stop(0);
    expect((await orrery.listTaskTypes()).map((t) => [t.name, t.numRetries])).toEqual([['a', 2]]);
  });
});
