/**
 * A worker's heartbeat and claim-recovery requests wait for their answer at most what the worker
 * asks (a third of the lease), not the client's whole request timeout: a server that accepted the
 * connection and never answered cost a remote worker every lease (remote-worker audit).
 */
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { OrreryClient } from '../../src/http/client.js';

describe('OrreryClient: bounded waits of the jobboard', () => {
  const sockets: Socket[] = [];
  let close: () => void = () => {};
  afterEach(() => {
    for (const s of sockets) s.destroy();
    close();
  });

  async function silentServer(): Promise<string> {
    const server = createServer((s) => void sockets.push(s)); // accepts, reads, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    close = () => server.close();
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  it('heartbeatRuns and heldRuns give up after answerWithinMs, not the 60 s request timeout', async () => {
    const client = new OrreryClient(await silentServer(), null, { timeoutMs: 60_000 });
    const beat = await client.heartbeatRuns({ worker: 'w', runs: [{ backendId: 'b' }], answerWithinMs: 200 }).catch((e: unknown) => e);
    expect(beat).toBeInstanceOf(StorageUnavailableError);
    expect((beat as Error).message).toContain('did not answer within 200 ms');
    const held = await client.heldRuns('w', { answerWithinMs: 300 }).catch((e: unknown) => e);
    expect((held as Error).message).toContain('did not answer within 300 ms');
  });

  it('endRuns, abandonRun and appendRunLogs give up after answerWithinMs too (a hung log request held a run\'s end back past the grace)', async () => {
    const client = new OrreryClient(await silentServer(), null, { timeoutMs: 60_000 });
    const end = await client.endRuns([{ backendId: 'b', status: 'uneventful', worker: 'w' }], { answerWithinMs: 200 }).catch((e: unknown) => e);
    expect(end).toBeInstanceOf(StorageUnavailableError);
    expect((end as Error).message).toContain('did not answer within 200 ms');
    const abandon = await client.abandonRun('b', { worker: 'w', answerWithinMs: 250 }).catch((e: unknown) => e);
    expect((abandon as Error).message).toContain('did not answer within 250 ms');
    const logs = await client.appendRunLogs('b', [{ at: new Date(), level: 'info', message: 'm', attributes: {} }], { answerWithinMs: 300 }).catch((e: unknown) => e);
    expect((logs as Error).message).toContain('did not answer within 300 ms');
  });

  it('close() aborts every request in flight, dozens of them, without a listener each on its signal (no leak warning)', async () => {
    const client = new OrreryClient(await silentServer(), null, { timeoutMs: 60_000 });
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const calls = Array.from({ length: 30 }, () => client.heldRuns('w', { answerWithinMs: 30_000 }).catch((e: unknown) => e));
      expect((client as unknown as { inFlight: Set<unknown> }).inFlight.size).toBe(30);
      client.close();
      const outcomes = await Promise.all(calls);
      for (const o of outcomes) expect(o).toMatchObject({ code: 'client_closed' });
      await new Promise((r) => setImmediate(r));
      expect(warnings).toEqual([]);
      expect((client as unknown as { inFlight: Set<unknown> }).inFlight.size).toBe(0);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a bad answerWithinMs is refused, named, before anything is sent (NaN timed every request out at once)', async () => {
    const client = new OrreryClient(await silentServer(), null, { timeoutMs: 60_000 });
    const connected = sockets.length; // the earlier tests' (closed) sockets
    for (const bad of [Number.NaN, 0, -5, '100' as unknown as number, 2 ** 40]) {
      await expect(client.heldRuns('w', { answerWithinMs: bad })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'answerWithinMs' }] });
    }
    expect(sockets).toHaveLength(connected);
    client.close();
  });
});
