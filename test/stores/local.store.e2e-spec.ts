import { createTestDatabase, dropTestDatabase } from '../support/test-db';
import { localHarness, quietStoreLogs } from './harnesses';
import { describeStoreContract } from './store-contract';

quietStoreLogs();

let database: { name: string; url: string };

describeStoreContract('local (Postgres)', { faults: false }, async () => {
  database = await createTestDatabase();
  const harness = await localHarness(database.url);
  return {
    ...harness,
    async close() {
      await harness.close();
      await dropTestDatabase(database.name);
    },
  };
});
