/**
 * A database that stops answering without refusing (a frozen server, a network that drops packets)
 * held a stopping worker for ever: every query waits, the worker's stop waited for its loop's claim,
 * and `--grace` never began. The stop is bounded by the grace, then one lease for the abandons, and a
 * margin (Worker.stopBoundMs): past it the process says so and exits 1 (docs/operations.md).
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { waitFor } from '../engine/engine-helpers.js';
import { createTestDatabase } from '../support/postgres.js';
import { FIXTURE_HANDLERS, useProcesses } from './process-helpers.js';

/** A TCP relay in front of PostgreSQL that can freeze: connections stay open and nothing more passes either way. */
async function freezingRelay(target: URL) {
  const pairs: Array<[Socket, Socket]> = [];
  const accepted = new Set<Socket>();
  let frozen = false;
  const server: Server = createServer((client) => {
    client.on('error', () => {});
    accepted.add(client);
    if (frozen) return; // accepted, never answered
    const upstream = createConnection(Number(target.port), target.hostname);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
    pairs.push([client, upstream]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    freeze: () => {
      frozen = true;
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close: () => new Promise<void>((r) => (server.close(() => r()), [...accepted, ...pairs.flat()].forEach((s) => s.destroy()))),
  };
}

describe('a graceful stop while PostgreSQL does not answer', () => {
  const spawnOrrery = useProcesses();
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('ends within the grace, one lease and the margin, says why, and exits 1', { timeout: 90_000 }, async () => {
    const db = await createTestDatabase('hung_stop');
    const relay = await freezingRelay(new URL(db.url));
    cleanups.push(() => db.drop(), () => relay.close());
    const url = new URL(db.url);
    url.host = `127.0.0.1:${relay.port}`;
    const worker = spawnOrrery(['worker', '--db', url.toString(), '--handlers', FIXTURE_HANDLERS, '--types', 'hang', '--grace', '500ms', '--poll', '100ms'], { HANG: '1' }); // its handler never returns
    await waitFor(() => /orrery started/.test(worker.output()), 'the worker to start', 30_000);
    const orrery = await openOrrery({ db: db.url });
    cleanups.push(() => orrery.close());
    const task = await orrery.createTask({ type: 'hang', policy: 'oneshot', arguments: { args: ['h'], kwargs: {} } }); // lease 2s
    await waitFor(async () => (await orrery.listRuns(task.id)).some((r) => r.status === 'started'), 'the run to start', 20_000);

    relay.freeze();
    const signalled = Date.now();
    worker.child.kill('SIGTERM');
    const code = await worker.exited;
    const took = Date.now() - signalled;
    // Before: it never ended. Bound: grace 500 ms + a lease (the 2 s lease held, but at least a default
    // lease's 30 s) + the 5 s margin. Most runs reach it (a query of the stop's last steps waits on a
    // frozen connection): exit 1, saying why. Some end by themselves just before it, once the abandons
    // have been tried for a lease: status 0 at 31.8 s, 2 times in 8 runs on 2026-12-06 (which step let
    // go is not known). Either way the stop is bounded, which is what this test is for.
    expect(took).toBeLessThan(50_000);
    if (code === 1) {
      expect(took).toBeGreaterThanOrEqual(35_000);
      expect(worker.output()).toMatch(/the stop did not end within 35s500ms \(the grace, then one lease for the abandons\): the database or server does not answer; exiting now/);
    } else {
      expect(code, worker.output()).toBe(0);
      expect(took).toBeGreaterThanOrEqual(30_000); // the abandons were tried for a lease first
    }
  });
});
