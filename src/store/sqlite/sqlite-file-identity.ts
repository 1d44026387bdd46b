import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { StorageUnavailableError } from '../../core/errors.js';

/**
 * The database file a SQLite store opened, checked before each write transaction: a file deleted
 * (or replaced by another) while the process runs is still open here, and SQLite would go on
 * writing to the deleted inode while the next process to open the path starts a second, empty
 * database there. One stat call per write transaction (a batch of claims or ends is one).
 */
export class SqliteFileIdentity {
  private readonly path: string;
  private readonly dev: number;
  private readonly ino: number;

  constructor(path: string) {
    this.path = resolve(path);
    const s = statSync(this.path);
    this.dev = s.dev;
    this.ino = s.ino;
  }

  /** Throws StorageUnavailableError when the path no longer names the file this store opened. */
  assertSame(): void {
    let s;
    try {
      s = statSync(this.path, { throwIfNoEntry: false });
    } catch (e) {
      // A directory made unreadable, say: the file cannot be told apart, and the write waits as for any outage.
      throw new StorageUnavailableError(`the SQLite database ${this.path} cannot be checked (${(e as Error).message}); retry later`, { cause: e });
    }
    if (s && s.dev === this.dev && s.ino === this.ino) return;
    const what = s ? 'was replaced by another file' : 'was deleted';
    throw new StorageUnavailableError(
      `the SQLite database ${this.path} ${what} while this process had it open: nothing more is written to it (its writes would be lost); stop this process, put the database back, and start it again`,
    );
  }
}
