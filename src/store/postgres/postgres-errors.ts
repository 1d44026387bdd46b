import pg from 'pg';
import { OrreryError, StorageError, StorageReadOnlyError, StorageUnavailableError, ValidationError, invalid, isNetworkError, shown } from '../../core/errors.js';
import { instantText } from './postgres-literals.js';

/**
 * SQLSTATEs after which the same call may succeed later: class 08 (connection exception), class 53
 * (insufficient resources: disk full, out of memory, too many connections) but 53400 (a configured
 * limit), 57P01/57P02/57P03 (administrator or crash shutdown, cannot connect now), 58000/58030
 * (system and I/O error), 40001/40P01 (serialization failure, deadlock: retried five times inside
 * the transaction first), 57014/55P03 (a statement cancelled by a `statement_timeout`, or by an
 * administrator; a lock not had within a `lock_timeout`: a DBA's settings, after which the same
 * statement passes once the lock or the load is gone), and 25P03/57P05 (the connection ended by an
 * idle timeout: SERVER_ENDED). Constraint, data, syntax and permission
 * errors are not: retrying changes nothing.
 */
function unavailableSqlstate(code: string): boolean {
  if (code.startsWith('08')) return true;
  if (code.startsWith('53')) return code !== '53400';
  return ['57P01', '57P02', '57P03', '58000', '58030', '40001', '40P01', '57014', '55P03', ...SERVER_ENDED].includes(code);
}

/**
 * SQLSTATEs of a connection the server ended between statements: 25P03 (idle_in_transaction_session_timeout)
 * and 57P05 (idle_session_timeout). The server says so as the next statement is sent, so the driver
 * gives that statement the error with its code (otherwise it is a coded-less connection error, withReason).
 */
const SERVER_ENDED = ['25P03', '57P05'];

/**
 * Errors pg raises without a code when a connection is lost or cannot be had ("Connection terminated
 * unexpectedly", a pool connect timeout...): marked by the pool and clients below as they happen, so
 * the translation needs no message text.
 */
const connectionErrors = new WeakSet<object>();

function markConnectionError(e: unknown): unknown {
  if (typeof e === 'object' && e !== null && (e as { code?: unknown }).code === undefined) connectionErrors.add(e);
  return e;
}

/**
 * SQLSTATEs of a server refusing a new connection of an open store's pool: class 28 (the role may not
 * log in: a password rotated, NOLOGIN) and 3D000 (its database is gone). The store was opened with
 * them, so an operator changed something: like a server away, the same call passes once it is put
 * back. At open (postgres-connection.ts) they are a StorageError instead: a mistyped password or
 * database name is not waited for.
 */
export function loginRefusedSqlstate(code: unknown): boolean {
  return typeof code === 'string' && (/^28[0-9A-Z]{3}$/.test(code) || code === '3D000');
}

/**
 * The driver gave up the login itself (SCRAM): no password to answer a server that asks for one
 * (`SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string`), or a proof that does not
 * match. It raises these errors without a SQLSTATE.
 */
export function clientLoginError(e: unknown): boolean {
  return e instanceof Error && e.message.startsWith('SASL: ');
}

/** The login was refused: by the server (SQLSTATE class 28, or 3D000 no such database) or by the driver (clientLoginError). */
export function loginRefused(e: unknown): boolean {
  return loginRefusedSqlstate((e as { code?: unknown } | null)?.code) || clientLoginError(e);
}

/**
 * An error out of the PostgreSQL store, translated: a transient one becomes StorageUnavailableError, a
 * privilege the role lacks (42501: a grant revoked) a StorageError; the rest is unchanged.
 */
export function translatePgError(e: unknown): unknown {
  if (e instanceof OrreryError || typeof e !== 'object' || e === null) return e;
  const code = (e as { code?: unknown }).code;
  // 25006 read_only_sql_transaction: a standby, or default_transaction_read_only on the role or database.
  if (code === '25006') return readOnly(`25006: ${(e as Error).message}`, e);
  // Not a fault of Orrery's (an HTTP 500): the database refuses this role what it needs (docs/postgres.md#roles-and-privileges).
  if (code === '42501') return new StorageError(`the PostgreSQL database refuses this role (42501: ${(e as Error).message})`, { cause: e });
  // A task's type deleted while the task was being created (the delete's row lock held the insert, whose
  // foreign-key check then failed): the same answer as the check of the type before the insert.
  if (code === '23503' && (e as { constraint?: unknown }).constraint === 'tasks_type_fkey') {
    const type = /^Key \(type\)=\((.*)\) is not present/.exec(String((e as { detail?: unknown }).detail ?? ''))?.[1] ?? '';
    return invalid('type', `unknown task type "${shown(type)}"`);
  }
  // 54000 program_limit_exceeded (an index entry past 2,704 bytes): input too large to store, refused as
  // bad input (exit 2, a 400), not an unexpected failure; the checks of the input are meant to come first.
  if (code === '54000') return new ValidationError(`a value is too large for the PostgreSQL store (54000: ${(e as Error).message})`, []);
  const transient =
    (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && unavailableSqlstate(code)) ||
    loginRefusedSqlstate(code) ||
    isNetworkError(e) ||
    connectionErrors.has(e);
  if (!transient) return e;
  const message = SERVER_ENDED.includes(code as string) ? `the server ended the connection: ${(e as Error).message}` : (e as Error).message;
  const why = typeof code === 'string' ? `${code}: ${message}` : message;
  return new StorageUnavailableError(`the PostgreSQL database is unavailable (${why}); retry later`, { cause: e });
}

/** The PostgreSQL database refuses writes (`why`: what said so). */
export function readOnly(why: string, cause?: unknown): StorageReadOnlyError {
  return new StorageReadOnlyError(
    `the PostgreSQL database is read-only (${why}): Orrery needs the primary server and a role whose transactions may write`,
    cause === undefined ? undefined : { cause },
  );
}

type Callback = (err: unknown, ...rest: unknown[]) => void;

/** A pg client that marks the errors of its queries once its connection has ended (see connectionErrors). */
class TrackedClient extends pg.Client {
  private connectionEnded = false;
  /** The error that ended the connection between queries: the server's reason (an idle-in-transaction timeout, a shutdown). */
  private endedBy: unknown = null;
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    const con = (this as unknown as { connection?: { once(ev: string, fn: () => void): void; stream?: { destroy(): void } } }).connection;
    // A login the driver gives up itself (clientLoginError) leaves its socket open: the server waits for
    // the answer until its authentication_timeout (a minute), holding the process alive that long.
    // Whatever failed the connect, the socket goes.
    const connect = this.connect.bind(this) as (cb?: (err: Error | undefined) => void) => Promise<void> | void;
    (this as unknown as { connect: typeof connect }).connect = (cb) => {
      if (cb) return connect((err) => (err && con?.stream?.destroy(), cb(err)));
      return (connect() as Promise<void>).catch((err: unknown) => {
        con?.stream?.destroy();
        throw err;
      });
    };
    con?.once('end', () => (this.connectionEnded = true));
    // The connection failed (the pool's or the caller's own listener handles the error itself).
    this.on('error', (err: unknown) => {
      this.connectionEnded = true;
      this.endedBy ??= err;
    });
    const query = this.query.bind(this) as (...a: unknown[]) => unknown;
    const mark = (err: unknown) => (this.connectionEnded ? markConnectionError(withReason(err, this.endedBy)) : err);
    (this as unknown as { query: (...a: unknown[]) => unknown }).query = (...args: unknown[]) => {
      utcParameters(args);
      const last = args[args.length - 1];
      if (typeof last === 'function') {
        const cb = last as Callback;
        return query(...args.slice(0, -1), (err: unknown, ...rest: unknown[]) => cb(err ? mark(err) : err, ...rest));
      }
      const out = query(...args);
      if (out !== null && typeof out === 'object' && typeof (out as Promise<unknown>).then === 'function' && !('submit' in out)) {
        return (out as Promise<unknown>).then(undefined, (err: unknown) => {
          throw mark(err);
        });
      }
      return out;
    };
  }
}

/**
 * A query's error on a connection the server ended between queries names the server's reason, which
 * pg reports only on the client's error event: "Client has encountered a connection error and is not
 * queryable" alone hid `terminating connection due to idle-in-transaction timeout`.
 */
function withReason(err: unknown, endedBy: unknown): unknown {
  if (!(err instanceof Error) || !(endedBy instanceof Error) || err === endedBy || (err as { code?: unknown }).code !== undefined) return err;
  if (!err.message.includes(endedBy.message)) err.message = `${err.message}: the server ended the connection: ${endedBy.message}`;
  return err;
}

/**
 * Sends the Dates among a query's parameters (and in its array parameters) as UTC text. The driver
 * writes a Date in the process's local time with the zone's offset in whole minutes, so in a zone
 * whose offset then had seconds (local mean time before about 1900, Africa/Monrovia until 1972) every
 * instant was stored shifted by those seconds (a time-zone audit: 28 s in Asia/Kolkata in 1800).
 */
function utcParameters(args: unknown[]): void {
  const first = args[0];
  if (Array.isArray(args[1])) args[1] = utcValues(args[1]);
  else if (first !== null && typeof first === 'object' && Array.isArray((first as { values?: unknown }).values)) {
    const config = first as { values: unknown[] };
    const values = utcValues(config.values);
    if (values !== config.values) args[0] = { ...config, values };
  }
}

/** `values` with each valid Date (at the top or in its arrays) as UTC text; the same array when it holds none. */
function utcValues(values: unknown[]): unknown[] {
  let out: unknown[] | null = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const u = v instanceof Date ? utcDate(v) : Array.isArray(v) ? utcValues(v) : v;
    if (u !== v) (out ??= values.slice())[i] = u;
  }
  return out ?? values;
}

const utcDate = (d: Date): Date | string => (Number.isNaN(d.getTime()) ? d : instantText(d.getTime()));

/** A pg pool whose failures to hand out a connection (connect timeout, connection lost while connecting) are marked. */
export class TrackedPool extends pg.Pool {
  constructor(config: pg.PoolConfig) {
    super({ ...config, Client: TrackedClient as unknown as typeof pg.Client });
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): Promise<pg.PoolClient> | void {
    const mark = (err: unknown) => ((this as unknown as { ending: boolean }).ending ? err : markConnectionError(err));
    if (callback) {
      return super.connect((err, client, done) => callback((err ? mark(err) : err) as Error | undefined, client, done));
    }
    return super.connect().catch((err: unknown) => {
      throw mark(err);
    });
  }
}

/** SQLSTATEs after which a transaction, or one autocommit statement, is simply tried again (serialization failure, deadlock). */
export const RETRYABLE_SQLSTATES: ReadonlySet<unknown> = new Set(['40001', '40P01']);

/**
 * Runs one autocommit statement again after a deadlock or serialization failure (40P01, 40001), up
 * to five times as a transaction is: such a statement was rolled back whole, so trying it again is
 * safe. The hot paths' batch statements (a worker's heartbeat, its ends) lock rows in no fixed
 * order, so two workers' batches can deadlock under load.
 */
export async function retryingConflicts<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (RETRYABLE_SQLSTATES.has(code) && attempt < 5) continue;
      throw e;
    }
  }
}
