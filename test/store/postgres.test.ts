import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createTestDatabase } from '../support/postgres.js';
import { describeStore } from './describe-store.js';

describeStore({
  name: 'postgres',
  async open() {
    const db = await createTestDatabase('store');
    return {
      store: await PostgresStore.open(db.url),
      openAnother: () => PostgresStore.open(db.url),
      cleanup: db.drop,
    };
  },
});
