import type pg from 'pg';

/**
 * A hot statement prepared by name on each pool connection, and prepared again under a new name after
 * a doubling number of uses (32, 64, 128 … up to `lastSpan`, then kept for good).
 *
 * Why: PostgreSQL builds a prepared statement's generic plan from the table sizes of the moment and
 * keeps it until the table's statistics change (an ANALYZE). On a fresh database (every new deployment,
 * every benchmark) the tables are tiny when the plan is made, so a join by primary key can be planned
 * as a scan of the whole table and stay that way while the table grows. Planning on every call (an
 * unnamed statement) avoids that but costs about as much as running a batch. Preparing again on a
 * doubling schedule bounds the life of a plan made on small tables while planning only a few times per
 * connection: once the tables are large, the plan is the index plan and is kept (until an ANALYZE
 * invalidates it, when PostgreSQL plans again on its own).
 */
export class RepreparedStatement {
  private readonly state = new WeakMap<pg.PoolClient, { generation: number; left: number; span: number }>();

  constructor(
    readonly name: string,
    readonly text: string,
    private readonly firstSpan = 32,
    private readonly lastSpan = 1 << 16,
  ) {}

  /** Runs the statement on a connection of the pool. */
  async query<R extends pg.QueryResultRow>(pool: pg.Pool, values: unknown[]): Promise<pg.QueryResult<R>> {
    const client = await pool.connect();
    try {
      let s = this.state.get(client);
      if (!s) {
        s = { generation: 0, left: this.firstSpan, span: this.firstSpan };
        this.state.set(client, s);
      } else if (s.left === 0 && s.span < this.lastSpan) {
        // Free the old plan on the server; a failure (it was never prepared) changes nothing.
        await client.query(`DEALLOCATE ${this.name}_${s.generation}`).catch(() => undefined);
        s.generation++;
        s.span *= 2;
        s.left = s.span;
      }
      if (s.span < this.lastSpan) s.left--;
      return await client.query<R>({ name: `${this.name}_${s.generation}`, text: this.text, values });
    } finally {
      client.release();
    }
  }
}
