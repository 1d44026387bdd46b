import type pg from 'pg';

/** Where a statement gets its connection: a pool, or a connection kept for one kind of statement (KeptConnection). */
export interface ClientSource {
  connect(): Promise<pg.PoolClient>;
}

/**
 * A hot statement prepared by name on each pool connection, and prepared again under a new name after
 * a doubling number of uses (32, 64, 128 … up to `lastSpan`, then kept for good) that returned at least
 * `rowsPerUse` times as many rows (256, 512 …).
 *
 * Why: PostgreSQL builds a prepared statement's generic plan from the table sizes of the moment and
 * keeps it until the table's statistics change (an ANALYZE). On a fresh database (every new deployment,
 * every benchmark) the tables are tiny when the plan is made, so a join by primary key can be planned
 * as a scan of the whole table and stay that way while the table grows. Planning on every call (an
 * unnamed statement) avoids that but costs about as much as running a batch. Preparing again on a
 * doubling schedule bounds the life of a plan made on small tables while planning only a few times per
 * connection: once the tables are large, the plan is the index plan and is kept (until an ANALYZE
 * invalidates it, when PostgreSQL plans again on its own).
 *
 * The rows: a table grows by what is written, and preparing again costs the call that does it a parse
 * and its next four calls a plan each (about 2.5 ms, then 0.8 ms each, here). An idle worker's claim of
 * due tasks returns one row per new task, and the first 200 tasks after a start prepared it again twice
 * per connection, each time on the path from a new task to its handler. Counting rows too leaves those
 * claims on their first plan for 256 tasks, while a batch statement (ends of 20-100 runs, two rows each)
 * still rolls over after 32 calls. A claim that finds many due tasks is not prepared at all
 * (PREPARED_CLAIM_DUE_MAX), so a stale plan cannot make a backlog slow.
 */
export class RepreparedStatement {
  private readonly state = new WeakMap<pg.PoolClient, { generation: number; uses: number; rows: number; span: number }>();

  constructor(
    readonly name: string,
    readonly text: string,
    private readonly firstSpan = 32,
    private readonly lastSpan = 1 << 16,
    private readonly rowsPerUse = 8,
  ) {}

  /** Runs the statement on a connection of `source` (the pool, or a kept connection); `values` as a function: read once the connection is in hand. */
  async query<R extends pg.QueryResultRow>(source: ClientSource, values: unknown[] | (() => unknown[])): Promise<pg.QueryResult<R>> {
    const client = await source.connect();
    try {
      let s = this.state.get(client);
      if (!s) {
        s = { generation: 0, uses: 0, rows: 0, span: this.firstSpan };
        this.state.set(client, s);
      } else if (s.span < this.lastSpan && s.uses >= s.span && s.rows >= s.span * this.rowsPerUse) {
        // Free the old plan on the server; a failure (it was never prepared) changes nothing.
        await client.query(`DEALLOCATE ${this.name}_${s.generation}`).catch(() => undefined);
        s.generation++;
        s.span *= 2;
        s.uses = 0;
        s.rows = 0;
      }
      const result = await client.query<R>({ name: `${this.name}_${s.generation}`, text: this.text, values: typeof values === 'function' ? values() : values });
      s.uses++;
      s.rows += result.rowCount ?? 0;
      return result;
    } finally {
      client.release();
    }
  }
}
