import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CamelCasePlugin, Kysely, MysqlDialect, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { createPool } from 'mysql2';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { isByokError } from '@byok/core';
import { connectDatabase, createStore, uuidv7, type AuditRow, type Store } from '@byok/core/store';
import { migrations } from '../src/store/migrations';
import { createTestDatabase, selectTestBackends, testDatabaseSelected, type TestDatabase } from '@byok/testing';
import { raceStoreChildren } from './store-child-runner';

const dropLater: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(dropLater.map((d) => d.drop()));
});

async function testDb(kind: 'sqlite' | 'postgres' | 'mysql'): Promise<TestDatabase> {
  const tdb = await createTestDatabase(kind);
  dropLater.push(tdb);
  return tdb;
}

function genesis(chain: string): string {
  return createHash('sha256').update(`genesis:${chain}`).digest('hex');
}

function append(store: Store, chain: string, at = 1_764_000_000_000): Promise<AuditRow> {
  return store.audit.append({
    chain,
    genesisHash: genesis(chain),
    build: (prev) => {
      const id = uuidv7();
      return {
        id,
        chain,
        seq: prev.seq + 1,
        prevHash: prev.hash,
        hash: createHash('sha256').update(`${prev.hash}|${id}`).digest('hex'),
        at,
        actorUserId: null,
        action: 'test.event',
        target: null,
        outcome: 'success',
        metadata: '{}',
        personalHmac: null,
      };
    },
  });
}

function newUser(store: Store, createdAt = 1_764_000_000_123) {
  const id = uuidv7();
  return store.users.createWithIdentity(
    { id, email: null, emailVerified: true, name: null, pictureUrl: null, custom: null, createdAt, updatedAt: createdAt },
    { id: uuidv7(), userId: id, issuer: 'https://issuer.example', subject: id, email: null, emailVerified: false, createdAt, lastLoginAt: createdAt },
  ).then(() => id);
}

describe("a host's own Kysely", () => {
  if (testDatabaseSelected('postgres')) it('postgres: bypasses the host plugins, keeps to the prefix, returns numbers, leaves pg.types and the pool alone', async () => {
    const tdb = await testDb('postgres');
    const pool = new pg.Pool({ connectionString: (tdb.config as { postgres: string }).postgres, max: 3 });
    const host = new Kysely<any>({ dialect: new PostgresDialect({ pool }), plugins: [new CamelCasePlugin()] });
    try {
      const store = await createStore({ database: host, tablePrefix: 'app_byok_' });
      const userId = await newUser(store);
      const user = await store.users.get(userId);
      expect(user?.createdAt).toBe(1_764_000_000_123);
      const row = await append(store, 'system');
      expect(await store.audit.head('system')).toEqual({ chain: 'system', lastSeq: 1, lastHash: row.hash });
      const [listed] = await store.audit.list({ chain: 'system', limit: 1 });
      expect(typeof listed?.at).toBe('number');
      expect(typeof listed?.seq).toBe('number');

      const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(host.withoutPlugins());
      expect(tables.rows.map((r) => r.table_name).every((n) => n.startsWith('app_byok_'))).toBe(true);
      expect(tables.rows.map((r) => r.table_name)).toContain('app_byok_migrations');
      // the process-wide int8 parser is untouched: the host still gets strings
      expect(pg.types.getTypeParser(20, 'text')('9007199254740993')).toBe('9007199254740993');

      await store.close();
      const still = await host.selectFrom('app_byok_users').select(['createdAt']).execute();
      expect(still).toEqual([{ createdAt: '1764000000123' }]);
    } finally {
      await host.destroy();
    }
  });

  if (testDatabaseSelected('mysql')) it('mysql: works through a host pool and leaves it open', async () => {
    const tdb = await testDb('mysql');
    const host = new Kysely<any>({ dialect: new MysqlDialect({ pool: createPool({ uri: (tdb.config as { mysql: string }).mysql, connectionLimit: 3 }) }) });
    try {
      const store = await createStore({ database: host });
      const userId = await newUser(store);
      expect((await store.users.get(userId))?.createdAt).toBe(1_764_000_000_123);
      expect((await append(store, 'system')).seq).toBe(1);
      expect((await append(store, 'system')).seq).toBe(2);
      await store.close();
      expect(await host.selectFrom('byok_users').select('id').execute()).toHaveLength(1);
    } finally {
      await host.destroy();
    }
  });

  it("sqlite: turns on foreign keys on the host's connection so deletes cascade", async () => {
    const file = join(tmpdir(), `byok_t_${uuidv7()}.db`);
    const host = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
    try {
      const store = await createStore({ database: host });
      const userId = await newUser(store);
      await store.preferences.put({ userId, theme: 'dark', language: 'en', timezone: 'UTC', updatedAt: 1 });
      expect(await store.users.delete(userId)).toBe(true);
      expect(await host.selectFrom('byok_identities').selectAll().execute()).toEqual([]);
      expect(await host.selectFrom('byok_user_preferences').selectAll().execute()).toEqual([]);
      await store.close();
    } finally {
      await host.destroy();
      await Promise.all(['', '-wal', '-shm'].map((s) => rm(file + s, { force: true })));
    }
  });
});

describe('createStore options', () => {
  it('refuses a table prefix that is not a plain identifier', async () => {
    for (const tablePrefix of ['', 'byok-', 'a"b', '1x', 'x'.repeat(40)]) {
      const error = await createStore({ database: { memory: true }, tablePrefix }).catch((e: unknown) => e);
      expect(isByokError(error) && error.code).toBe('config_invalid');
    }
  });

  it('refuses an unknown database option', async () => {
    const error = await createStore({ database: { redis: 'x' } as never }).catch((e: unknown) => e);
    expect(isByokError(error) && error.code).toBe('config_invalid');
  });

  it('creates the folder of a SQLite file, in WAL mode', async () => {
    const dir = join(tmpdir(), `byok_t_${uuidv7()}`);
    const file = join(dir, 'nested', 'byok.db');
    try {
      const store = await createStore({ database: { sqlite: file } });
      await newUser(store);
      await store.close();
      expect(existsSync(file)).toBe(true);
      const raw = new BetterSqlite3(file);
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      raw.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('migrate: false leaves the database empty until migrate() is called', async () => {
    const tdb = await testDb('sqlite');
    const store = await createStore({ database: tdb.config, migrate: false });
    try {
      expect((await store.migrationStatus()).every((s) => s.appliedAt === null)).toBe(true);
      expect((await store.migrate()).applied).toEqual(migrations.map((m) => m.name));
      expect((await store.migrationStatus()).every((s) => typeof s.appliedAt === 'number')).toBe(true);
    } finally {
      await store.close();
    }
  });
});

describe.each(selectTestBackends(['postgres', 'mysql'] as const))('transactions on %s', (kind) => {
  it('re-run the whole function after a deadlock, so both sides commit', async () => {
    const tdb = await testDb(kind);
    const store = await createStore({ database: tdb.config });
    try {
      const a = await newUser(store);
      const b = await newUser(store);
      let runs = 0;
      let arrived = 0;
      let release: () => void = () => undefined;
      const bothLocked = new Promise<void>((resolve) => (release = resolve));
      // Each transaction locks one user, waits until the other holds its lock, then
      // reaches for the other's: a deadlock the database breaks by failing one of them.
      const crossing = (first: string, second: string, name: string) =>
        store.transaction(async (tx) => {
          runs++;
          await tx.users.update(first, { name, updatedAt: 1 });
          if (++arrived === 2) release();
          await Promise.race([bothLocked, new Promise((r) => setTimeout(r, 2000))]);
          await tx.users.update(second, { name, updatedAt: 2 });
        });
      await Promise.all([crossing(a, b, 'left'), crossing(b, a, 'right')]);
      expect(runs).toBeGreaterThanOrEqual(3);
      const names = [(await store.users.get(a))?.name, (await store.users.get(b))?.name];
      expect(names[0]).toBe(names[1]);
    } finally {
      await store.close();
    }
  }, 30_000);
});

describe('SQLite across processes', () => {
  it('four processes appending to the same chains keep them contiguous and linked', async () => {
    const tdb = await testDb('sqlite');
    const store = await createStore({ database: tdb.config });
    try {
      const chains = ['user:a', 'user:b'];
      const config = JSON.stringify(tdb.config);
      const results = await raceStoreChildren<{ appended: number }>(
        Array.from({ length: 4 }, () => ['append', config, chains.join(','), '20']),
      );
      expect(results.reduce((n, r) => n + r.appended, 0)).toBe(80);
      for (const chain of chains) {
        const rows = await store.audit.readChain(chain, 0, 1000);
        expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
        let prev = genesis(chain);
        for (const row of rows) {
          expect(row.prevHash).toBe(prev);
          prev = row.hash;
        }
        expect(new Set(rows.map((r) => r.target)).size).toBeGreaterThan(1);
        expect((await store.audit.head(chain))?.lastHash).toBe(prev);
      }
    } finally {
      await store.close();
    }
  }, 60_000);

  it('a second connection waiting on the write lock gets it once the first commits', async () => {
    const tdb = await testDb('sqlite');
    const first = await createStore({ database: tdb.config });
    const second = await connectDatabase({ ...(tdb.config as { sqlite: string }), busyTimeoutMs: 2000 });
    try {
      const userId = await newUser(first);
      // BEGIN IMMEDIATE: the write lock is taken when the transaction starts, even one that
      // has only read so far, so another connection cannot slip a write in between (it
      // fails with BUSY after its short timeout here) and no read-then-write upgrade can
      // deadlock.
      const blocked = await first.transaction(async (tx) => {
        await tx.users.get(userId);
        const other = await connectDatabase({ ...(tdb.config as { sqlite: string }), busyTimeoutMs: 10 });
        try {
          return await other.db.updateTable('byok_users').set({ name: 'second' }).where('id', '=', userId).execute().then(
            () => 'written',
            (e: { code?: string }) => e.code,
          );
        } finally {
          await other.db.destroy();
        }
      });
      expect(blocked).toBe('SQLITE_BUSY');
      // once the first commits, the waiting connection gets its turn
      await second.db.updateTable('byok_users').set({ name: 'second' }).where('id', '=', userId).execute();
      expect((await first.users.get(userId))?.name).toBe('second');
    } finally {
      await first.close();
      await second.db.destroy();
    }
  });
});
