import type pg from 'pg';
import type { NewTask } from '../../core/validation.js';
import type { ChunkSink, CreatedTask } from '../store.js';
import { RETRYABLE_SQLSTATES } from './postgres-errors.js';
import { insertTasks, isPlain } from './postgres-tasks.js';

/** Attempts of an import's transaction in all, the first included, as for every other transaction of the store. */
const ATTEMPTS = 5;

/**
 * A chunked create (Store.importTasks): one transaction on a client of its own, each chunk written by
 * the multi-row statements of a batch; other clients of the pool go on meanwhile and see the tasks at
 * the commit. Each batch is written in identity order, but the chunks of two imports are not: two
 * imports sharing identities in different orders can deadlock across chunks. PostgreSQL then rolls one
 * back, which is written again from its first chunk (`sink.restart()`, then a new `chunks()`), up to
 * ATTEMPTS times; it waits for the other's locks and passes. Returns how many tasks it created or
 * replaced.
 */
/** The advisory lock key of imports, beside the migrations' ("orrery") and the archive's. */
const IMPORT_LOCK = 0x6f7272657281;

export async function importTaskChunks(pool: pg.Pool, chunks: () => AsyncIterable<readonly NewTask[]>, at: Date, sink: ChunkSink): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await importOnce(pool, chunks(), at, sink);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (!RETRYABLE_SQLSTATES.has(code) || attempt >= ATTEMPTS) throw e;
      sink.restart();
    }
  }
}

async function importOnce(pool: pg.Pool, chunks: AsyncIterable<readonly NewTask[]>, at: Date, sink: ChunkSink): Promise<number> {
  const c = await pool.connect();
  let broken = false;
  const onError = () => (broken = true);
  c.on('error', onError);
  let changed = 0;
  try {
    await c.query('BEGIN');
    // Imports are written one at a time (a second waits here for the first to commit): two writing the
    // same tasks in other orders deadlocked on each other's rows, and again at every retry (import audit).
    await c.query('SELECT pg_advisory_xact_lock($1)', [IMPORT_LOCK]);
    // A chunk of plain tasks is sent while the one before it runs (the client queues it behind):
    // this process encodes the next chunk while the server inserts the last. A chunk with other
    // tasks waits for every chunk before it, so it sees what they wrote.
    const inFlight: Array<Promise<CreatedTask[]>> = [];
    const settle = async () => {
      const out = await inFlight.shift()!;
      for (const x of out) if (x.created || x.replaced) changed++;
      await sink.chunk(out);
    };
    try {
      for await (const chunk of chunks) {
        const plain = chunk.every(isPlain);
        if (!plain) while (inFlight.length > 0) await settle();
        const written = chunk.length === 0 ? Promise.resolve([]) : insertTasks(c, chunk, at);
        written.catch(() => {}); // awaited in order below; a failure while an earlier chunk is awaited is not unhandled
        inFlight.push(written);
        if (!plain || inFlight.length > 1) await settle();
      }
      while (inFlight.length > 0) await settle();
    } catch (e) {
      await Promise.allSettled(inFlight); // the statements queued behind a failed one fail too (aborted transaction)
      throw e;
    }
    await c.query('COMMIT');
    return changed;
  } catch (e) {
    if (!broken) await c.query('ROLLBACK').catch(() => (broken = true));
    throw e;
  } finally {
    c.off('error', onError);
    c.release(broken);
  }
}
