import Database from 'better-sqlite3';

/** The same work as bare SQL on the same SQLite settings, no Orrery code: the physical limit here. */
export function bareInsert(path: string, n: number): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, type TEXT, arguments TEXT, next_run INTEGER, status TEXT, key TEXT UNIQUE)`);
  const ins = db.prepare('INSERT INTO t (type, arguments, next_run, status, key) VALUES (?, ?, ?, ?, ?)');
  const start = performance.now();
  db.transaction(() => {
    for (let i = 0; i < n; i++) ins.run('noop', JSON.stringify({ args: [i], kwargs: {} }), 0, 'waiting', `k${i}`);
  }).immediate();
  const ms = performance.now() - start;
  db.close();
  return ms;
}

/** Claim 10 at a time and complete each in its own transaction, like a worker at concurrency 10. */
export function bareClaimComplete(path: string, n: number): number {
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
    (SELECT id FROM runs WHERE status = 'scheduled' ORDER BY id LIMIT 10) RETURNING id`);
  const end = db.prepare(`UPDATE runs SET status = 'eventful', ended = ? WHERE id = ? AND status = 'started'`);
  const start = performance.now();
  for (;;) {
    const ids = db.transaction(() => claim.all(Date.now()) as { id: number }[]).immediate();
    if (ids.length === 0) break;
    for (const { id } of ids) db.transaction(() => end.run(Date.now(), id)).immediate();
  }
  const ms = performance.now() - start;
  db.close();
  return ms;
}
