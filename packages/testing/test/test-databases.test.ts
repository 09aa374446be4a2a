import { existsSync } from 'node:fs';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createStore } from '@byok/core/store';
import { createTestDatabase, memoryTamper, testDatabaseSelected } from '@byok/testing';

async function pgDatabaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await client.connect();
  try {
    return (await client.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

async function mysqlDatabaseExists(name: string): Promise<boolean> {
  const connection = await mysql.createConnection('mysql://root@127.0.0.1:3306/test');
  try {
    const [rows] = await connection.query('select schema_name from information_schema.schemata where schema_name = ?', [name]);
    return (rows as unknown[]).length === 1;
  } finally {
    await connection.end();
  }
}

describe('createTestDatabase', () => {
  if (testDatabaseSelected('postgres')) it('postgres: creates a uniquely named database and drops it, even with a store still connected', async () => {
    const [a, b] = await Promise.all([createTestDatabase('postgres'), createTestDatabase('postgres')]);
    expect(a.name).toMatch(/^byok_t_[0-9a-f]{12}$/);
    expect(a.name).not.toBe(b.name);
    expect(await pgDatabaseExists(a.name)).toBe(true);
    const store = await createStore({ database: a.config });
    await a.drop();
    await store.close().catch(() => undefined);
    await b.drop();
    await b.drop();
    expect(await pgDatabaseExists(a.name)).toBe(false);
    expect(await pgDatabaseExists(b.name)).toBe(false);
  });

  if (testDatabaseSelected('mysql')) it('mysql: creates a case-sensitive utf8mb4 database and drops it', async () => {
    const tdb = await createTestDatabase('mysql');
    expect(await mysqlDatabaseExists(tdb.name)).toBe(true);
    const store = await createStore({ database: tdb.config });
    await store.close();
    await tdb.drop();
    expect(await mysqlDatabaseExists(tdb.name)).toBe(false);
  });

  it('sqlite: uses a fresh temp file and removes it with its WAL files', async () => {
    const tdb = await createTestDatabase('sqlite');
    const file = (tdb.config as { sqlite: string }).sqlite;
    expect(existsSync(file)).toBe(false);
    const store = await createStore({ database: tdb.config });
    expect(existsSync(file)).toBe(true);
    await store.close();
    await tdb.drop();
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}-wal`)).toBe(false);
  });
});

describe('memoryTamper', () => {
  it('refuses a store that is not in memory', async () => {
    const tdb = await createTestDatabase('sqlite');
    const store = await createStore({ database: tdb.config });
    try {
      expect(() => memoryTamper(store)).toThrow(/in-memory/);
    } finally {
      await store.close();
      await tdb.drop();
    }
  });
});
