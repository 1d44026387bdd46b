/**
 * The physical limit of the claim-and-complete cycle on each store, as bare SQL with no Orrery code:
 * claim up to `concurrency` waiting rows in one statement, complete them in one statement (ends
 * batched, as Orrery's worker and graphile-worker batch them), repeat. Each returns the loop's time
 * and CPU (the bench process's own, and the server's on PostgreSQL).
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { measured, type Measured } from './cpu.js';

/** SQLite, on the same settings as Orrery's store (WAL, synchronous NORMAL), n runs. */
export async function bareSqliteCycle(path: string, n: number, concurrency: number): Promise<Measured> {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE runs (id INTEGER PRIMARY KEY, status TEXT, worker TEXT, started INTEGER, ended INTEGER);
           CREATE INDEX runs_waiting ON runs (id) WHERE status = 'scheduled';`);
  const ins = db.prepare(`INSERT INTO runs (status) VALUES ('scheduled')`);
  db.transaction(() => {
    for (let i = 0; i < n; i++) ins.run();
  })();
  const claim = db.prepare(`UPDATE runs SET status = 'started', worker = 'w', started = ? WHERE id IN
    (SELECT id FROM runs WHERE status = 'scheduled' ORDER BY id LIMIT ?) RETURNING id`);
  const end = db.prepare(`UPDATE runs SET status = 'eventful', ended = ? WHERE id IN (SELECT value FROM json_each(?)) AND status = 'started'`);
  const m = await measured(
    () => null,
    () => {
      for (;;) {
        const ids = db.transaction(() => claim.all(Date.now(), concurrency) as { id: number }[]).immediate();
        if (ids.length === 0) break;
        db.transaction(() => end.run(Date.now(), JSON.stringify(ids.map((r) => r.id)))).immediate();
      }
    },
  );
  const done = (db.prepare(`SELECT count(*) AS n FROM runs WHERE status = 'eventful'`).get() as { n: number }).n;
  db.close();
  if (done !== n) throw new Error(`bare SQLite cycle completed ${done} of ${n}`);
  return m;
}

/** PostgreSQL (FOR UPDATE SKIP LOCKED claims), in a database of its own, n runs; `serverCpu` reads the server's CPU. */
export async function barePostgresCycle(url: string, n: number, concurrency: number, serverCpu: () => number | null): Promise<Measured> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // An idle client's connection ended by the server (its database dropped after the cycle) must not crash the bench.
  pool.on('error', (e) => process.stderr.write(`[bare-sql] idle connection: ${e.message}\n`));
  try {
    await pool.query(`CREATE TABLE runs (id bigserial PRIMARY KEY, status text NOT NULL, worker text, started timestamptz, ended timestamptz);
                      CREATE INDEX runs_waiting ON runs (id) WHERE status = 'scheduled'`);
    await pool.query(`INSERT INTO runs (status) SELECT 'scheduled' FROM generate_series(1, $1::int)`, [n]);
    await pool.query('VACUUM ANALYZE runs');
    const claim = {
      name: 'bare-claim',
      text: `UPDATE runs SET status = 'started', worker = 'w', started = now() WHERE id IN
             (SELECT id FROM runs WHERE status = 'scheduled' ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING id`,
    };
    const end = { name: 'bare-end', text: `UPDATE runs SET status = 'eventful', ended = now() WHERE id = ANY($1::bigint[]) AND status = 'started'` };
    const m = await measured(serverCpu, async () => {
      for (;;) {
        const { rows } = await pool.query<{ id: string }>({ ...claim, values: [concurrency] });
        if (rows.length === 0) break;
        await pool.query({ ...end, values: [rows.map((r) => r.id)] });
      }
    });
    const done = Number((await pool.query(`SELECT count(*) AS n FROM runs WHERE status = 'eventful'`)).rows[0].n);
    if (done !== n) throw new Error(`bare PostgreSQL cycle completed ${done} of ${n}`);
    return m;
  } finally {
    await pool.end();
  }
}
