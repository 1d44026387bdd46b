import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { useRecycledDatabase } from '../support/postgres.js';
import { describeStore } from './describe-store.js';

// Every case gets an empty, just-migrated database: one database for the file, emptied between cases.
const database = useRecycledDatabase('store');

describeStore({
  name: 'postgres',
  async open() {
    const db = await database.next();
    return {
      store: await PostgresStore.open(db.url),
      openAnother: () => PostgresStore.open(db.url),
      cleanup: async () => {},
    };
  },
});
