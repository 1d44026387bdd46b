import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { describeStore } from './describe-store.js';

describeStore({
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-store-'));
    const path = join(dir, 'orrery.db');
    return {
      store: new SqliteStore(`sqlite:${path}`, path),
      openAnother: async () => new SqliteStore(`sqlite:${path}`, path),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});
