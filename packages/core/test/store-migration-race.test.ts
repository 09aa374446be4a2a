import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '@byok/core';
import { connectDatabase, createStore } from '@byok/core/store';
import { type Migration } from '../src/store/migrations/migration';
import { createTestDatabase, selectTestBackends, type TestDatabase } from '@byok/testing';
import { raceStoreChildren } from './store-child-runner';
import { Migrator } from '../src/store/migrations/migrator';
import { migrations } from '../src/store/migrations';

const dropLater: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(dropLater.map((d) => d.drop()));
});

describe.each(selectTestBackends(['sqlite', 'postgres', 'mysql'] as const))('migrations on %s', (kind) => {
  it('two processes migrating one empty database at once apply each migration exactly once', async () => {
    const tdb = await createTestDatabase(kind);
    dropLater.push(tdb);
    const config = JSON.stringify(tdb.config);
    const reports = await raceStoreChildren<{ applied: string[] }>([['migrate', config], ['migrate', config]]);
    const all = reports.flatMap((r) => r.applied).sort();
    expect(all).toEqual(migrations.map((m) => m.name));

    const store = await createStore({ database: tdb.config, migrate: false });
    try {
      expect((await store.migrationStatus()).every((s) => s.appliedAt !== null)).toBe(true);
      expect((await store.migrate()).applied).toEqual([]);
      expect(await store.users.get('00000000-0000-7000-8000-000000000000')).toBeUndefined();
    } finally {
      await store.close();
    }
  }, 60_000);

  it('a slow migration raced by two connections runs once, and its failure is reported and not recorded', async () => {
    const tdb = await createTestDatabase(kind);
    dropLater.push(tdb);
    let runs = 0;
    const slow: Migration = {
      name: '0001-slow',
      async up({ db, createTable, table, types }) {
        runs++;
        await createTable('counter').addColumn('id', types.varchar(8), (c) => c.primaryKey()).execute();
        await new Promise((resolve) => setTimeout(resolve, 300));
        await db.insertInto(table('counter')).values({ id: 'x' }).execute();
      },
    };
    const broken: Migration = {
      name: '0002-broken',
      async up({ db }) {
        await sql`select * from no_such_table_anywhere`.execute(db);
      },
    };
    // SQLite connections in one process share its thread, so a short busy timeout keeps
    // the waiting connection from blocking the one holding the lock.
    const opened = await Promise.all([0, 1].map(() => connectDatabase({ ...tdb.config, busyTimeoutMs: 20 })));
    try {
      const migrators = opened.map(({ db, dialect }) => new Migrator({ db, dialect, prefix: 'race_', clock: systemClock, migrations: [slow] }));
      const reports = await Promise.all(migrators.map((m) => m.migrate()));
      expect(runs).toBe(1);
      expect(reports.flatMap((r) => r.applied)).toEqual(['0001-slow']);
      const rows = await opened[0]!.db.selectFrom('race_counter').selectAll().execute();
      expect(rows).toHaveLength(1);

      const withBroken = new Migrator({ db: opened[1]!.db, dialect: opened[1]!.dialect, prefix: 'race_', clock: systemClock, migrations: [slow, broken] });
      await expect(withBroken.migrate()).rejects.toMatchObject({ code: 'migration_failed' });
      expect((await withBroken.status()).map((s) => s.appliedAt === null)).toEqual([false, true]);
      // the lock was released despite the failure
      const again = new Migrator({ db: opened[0]!.db, dialect: opened[0]!.dialect, prefix: 'race_', clock: systemClock, migrations: [slow] });
      expect((await again.migrate()).applied).toEqual([]);
      const lock = await opened[0]!.db.selectFrom('race_migration_lock').selectAll().execute();
      expect(lock).toEqual([]);
    } finally {
      await Promise.all(opened.map((o) => o.db.destroy()));
    }
  }, 60_000);

  it("takes over a crashed holder's expired lock, and waits for (then gives up on) a live one", async () => {
    const tdb = await createTestDatabase(kind);
    dropLater.push(tdb);
    const { db, dialect } = await connectDatabase(tdb.config);
    try {
      const noop: Migration = { name: '0001-noop', up: async () => undefined };
      const migrator = (waitMs: number) =>
        new Migrator({ db, dialect, prefix: 'lock_', clock: systemClock, migrations: [noop], lock: { waitMs } });
      // a first run creates the lock table; then plant a live lock of another owner
      await new Migrator({ db, dialect, prefix: 'lock_', clock: systemClock, migrations: [] }).migrate();
      await db.insertInto('lock_migration_lock').values({ id: 'migrate', owner: 'someone-else', expires_at: Date.now() + 60_000 }).execute();
      await expect(migrator(300).migrate()).rejects.toMatchObject({ code: 'migration_failed' });
      expect((await migrator(300).status())[0]?.appliedAt).toBeNull();
      // the holder crashed: its lock expires and is taken over
      await db.updateTable('lock_migration_lock').set({ expires_at: Date.now() - 1 }).execute();
      expect((await migrator(5_000).migrate()).applied).toEqual(['0001-noop']);
      expect(await db.selectFrom('lock_migration_lock').selectAll().execute()).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});
