import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OrreryClient } from '../../src/http/client.js';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';
import { ROOT, useProcesses } from './process-helpers.js';

const HANDLERS = join(ROOT, 'test', 'fixtures', 'remote-dag-handlers.ts');

describe('a remote `orrery worker --url` with DAGs', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  it('syncs its DAGs through PUT /api/dags on start and runs their tasks through the HTTP jobboard', async () => {
    const { path } = await setup();
    // No --handlers: the server runs the DAG scheduler but executes nothing itself.
    const serve = spawnOrrery(['serve', '--db', `sqlite:${path}`, '--port', '0', '--token', 't0ken', '--max-sleep', '100ms', '--log-format', 'json']);
    await waitFor(() => /orrery started/.test(serve.output()), 'serve to start');
    const url = `http://127.0.0.1:${Number(/"port":(\d+)/.exec(serve.output())![1])}`;
    const worker = spawnOrrery(['worker', '--url', url, '--token', 't0ken', '--handlers', HANDLERS, '--id', 'remote-dags', '--poll', '100ms', '--log-format', 'json']);
    await waitFor(() => /orrery worker .* started/.test(worker.output()), 'the remote worker to start');
    expect(worker.output()).toMatch(/DAG remote-etl created \(version [0-9a-f]+\)/);

    const client = new OrreryClient(url, 't0ken');
    try {
      const [stored] = await client.dags.list();
      expect(stored).toMatchObject({ id: 'remote-etl', description: 'synced by a remote worker' });
      const run = await client.dags.trigger('remote-etl', { n: 21 });
      const done = await waitFor(async () => {
        const r = await client.dags.run(run.id);
        return r.status === 'success' || r.status === 'failed' ? r : null;
      }, 'the DAG run to end', 20_000);
      expect(done.status).toBe('success');
      expect(done.tasks.find((t) => t.taskId === 'double')!.result).toBe(42);
      const [attempt] = await client.dags.attempts(run.id, 'fetch');
      expect(attempt!.runs[0]!.worker).toBe('remote-dags');
      expect(attempt!.runs[0]!.logs[0]).toMatchObject({ message: 'fetching', attributes: { pid: worker.child.pid } });
    } finally {
      client.close();
    }
    worker.child.kill('SIGTERM');
    serve.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(await serve.exited).toBe(0);
  });
});
