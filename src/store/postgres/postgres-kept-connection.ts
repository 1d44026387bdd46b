import type pg from 'pg';
import type { ClientSource } from './postgres-prepared.js';

/**
 * One pool connection kept for one kind of statement (the prepared claims), handed out while it is
 * free; a caller that finds it busy gets a connection of the pool as usual.
 *
 * Why: each PostgreSQL connection pays for its first use of a statement, and more on a new server
 * process. Its first claim took 4-9 ms here (the catalogs of the tables read, the statement parsed and
 * planned), its next four 2 ms (a plan each) against 1 ms later on. The pool hands out whichever
 * connection was released last, so a worker's claims wandered over three or four connections, and a
 * worker's first 200 claims paid those first uses three or four times over. Kept, a worker's claims
 * pay them once, on the connection its first claim (at its start) made ready.
 *
 * The connection stays checked out of the pool (it counts towards the pool's size) until `close()`.
 * While it waits for the next claim it does not keep the process alive, like the pool's idle ones.
 * After an error on it, or a connection error while it waits, it is given back to the pool to be
 * discarded, and the next claim keeps a new one. A pool of fewer than MIN_POOL connections keeps
 * none: the connection kept would leave too few for everything else.
 */
export const MIN_POOL = 4;

/** pg's client lets its socket stop (or go on) keeping the process alive; its types do not say so. */
const refs = (c: pg.PoolClient) => c as unknown as { ref(): void; unref(): void };

/** An error after which a connection is not used again: no SQLSTATE (the driver's own), class 08 or 57P (shutdown). */
function lostConnection(e: unknown): boolean {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code !== 'string' || code.startsWith('08') || code.startsWith('57P');
}

export class KeptConnection implements ClientSource {
  private client: pg.PoolClient | null = null;
  private busy = false;
  private closed = false;
  /** The kept connection failed (an error event, a statement failed for its connection, a release with an error): given up. */
  private broken = false;
  /** A handle on the kept connection whose release keeps it instead of returning it. */
  private handle: pg.PoolClient | null = null;
  private readonly onError = (): void => {
    // A connection lost while kept (a server restart): a checked-out client has no other listener.
    this.broken = true;
    if (!this.busy) this.drop();
  };

  constructor(
    private readonly pool: pg.Pool,
    poolSize: number,
  ) {
    this.closed = poolSize < MIN_POOL;
  }

  async connect(): Promise<pg.PoolClient> {
    if (this.busy || this.closed) return this.pool.connect();
    this.busy = true;
    try {
      if (!this.client) this.keep(await this.pool.connect());
    } catch (e) {
      this.busy = false;
      throw e;
    }
    refs(this.client!).ref();
    return this.handle!;
  }

  /** Runs `fn` on the kept connection, or on one of the pool while that one is busy. */
  async use<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.connect();
    try {
      return await fn(c);
    } finally {
      c.release();
    }
  }

  /** Gives the kept connection back to the pool (at once, or when the statement on it has finished). */
  close(): void {
    this.closed = true;
    if (!this.busy) this.drop();
  }

  private keep(client: pg.PoolClient): void {
    client.on('error', this.onError);
    this.client = client;
    this.broken = false;
    // The caller's release ends its use; a release with an error, or a failed connection, gives it up.
    this.handle = new Proxy(client, {
      get: (target, prop) => {
        if (prop === 'release') {
          return (err?: Error | boolean) => {
            this.busy = false;
            const state = target as unknown as { _queryable?: boolean; _ending?: boolean };
            if (err || state._queryable === false || state._ending) this.broken = true;
            if (this.broken || this.closed) this.drop();
            // Waiting for the next claim, it does not keep the process alive (as the pool's idle ones).
            else refs(target).unref();
          };
        }
        if (prop === 'query') {
          return (...args: unknown[]) => {
            const out = (target.query as (...a: unknown[]) => unknown)(...args);
            // A statement that failed because the connection is going (the server ended it, the
            // network failed) gives it up at its release, before its 'error' event may have come.
            if (out instanceof Promise) out.catch((e: unknown) => lostConnection(e) && (this.broken = true));
            return out;
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  private drop(): void {
    const client = this.client;
    const broken = this.broken;
    this.client = null;
    this.handle = null;
    this.broken = false;
    if (!client) return;
    client.removeListener('error', this.onError);
    refs(client).ref();
    if (broken) {
      // Late errors of a connection the pool is about to discard go nowhere.
      client.on('error', () => {});
      client.release(true);
    } else client.release();
  }
}
