import { connectDatabase, createStore } from '@byok/core/store';
import { createTestDatabase, kyselyTamper, memoryTamper, selectTestBackends, storeConformance, type TestDatabaseKind } from '@byok/testing';

storeConformance({
  name: 'memory',
  makeStore: async () => {
    const store = await createStore({ database: { memory: true } });
    return { store, tamper: memoryTamper(store), cleanup: () => store.close() };
  },
});

for (const kind of selectTestBackends(['sqlite', 'postgres', 'mysql'] as const satisfies readonly TestDatabaseKind[])) {
  storeConformance({
    name: kind,
    makeStore: async () => {
      const tdb = await createTestDatabase(kind);
      const store = await createStore({ database: tdb.config, tablePrefix: 'byok_' });
      // the tamper works through a second connection, behind the store's back
      const side = await connectDatabase({ ...tdb.config, poolSize: 2 });
      return {
        store,
        tamper: kyselyTamper(side.db, 'byok_'),
        cleanup: async () => {
          await store.close();
          await side.db.destroy();
          await tdb.drop();
        },
      };
    },
  });
}
