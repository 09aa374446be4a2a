import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The database engines byok's Kysely store runs on. */
export type TestDatabaseKind = 'sqlite' | 'postgres' | 'mysql';

/** What `createStore({ database })` (and `createByok`) accept for each engine. */
export type TestDatabaseConfig = { sqlite: string } | { postgres: string } | { mysql: string };

export interface TestDatabase {
  kind: TestDatabaseKind;
  /** Pass straight to `createStore({ database: config })` or `createByok({ database: config })`. */
  config: TestDatabaseConfig;
  /** The generated database name (`byok_t_<random>`), or the SQLite file path. */
  name: string;
  /** Drops the database (or deletes the SQLite file and its WAL/SHM side files). Idempotent. */
  drop(): Promise<void>;
}

/** Where the servers are; override with BYOK_TEST_PG_URL / BYOK_TEST_MYSQL_URL (admin connections). */
const PG_ADMIN_URL = process.env.BYOK_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MYSQL_ADMIN_URL = process.env.BYOK_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/**
 * Creates an empty, uniquely named database for one test file: `byok_t_<random>` on the
 * local PostgreSQL (user postgres) or MariaDB/MySQL (root) server, or a fresh SQLite file
 * in the temp directory. Call `drop()` when done (an `afterAll`).
 *
 * @example
 * const tdb = await createTestDatabase('postgres');
 * const store = await createStore({ database: tdb.config });
 * // ... tests ...
 * await store.close();
 * await tdb.drop();
 */
export async function createTestDatabase(kind: TestDatabaseKind): Promise<TestDatabase> {
  const name = `byok_t_${randomBytes(6).toString('hex')}`;
  if (kind === 'sqlite') {
    const file = join(tmpdir(), `${name}.db`);
    return {
      kind,
      name: file,
      config: { sqlite: file },
      drop: async () => {
        await Promise.all(['', '-wal', '-shm', '-journal'].map((suffix) => rm(file + suffix, { force: true })));
      },
    };
  }
  if (kind === 'postgres') {
    await pgAdmin(`CREATE DATABASE ${name}`);
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${name}`;
    let dropped = false;
    return {
      kind,
      name,
      config: { postgres: url.toString() },
      drop: async () => {
        if (dropped) return;
        dropped = true;
        await pgAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      },
    };
  }
  if (kind === 'mysql') {
    await mysqlAdmin(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    const url = new URL(MYSQL_ADMIN_URL);
    url.pathname = `/${name}`;
    let dropped = false;
    return {
      kind,
      name,
      config: { mysql: url.toString() },
      drop: async () => {
        if (dropped) return;
        dropped = true;
        await mysqlAdmin(`DROP DATABASE IF EXISTS ${name}`);
      },
    };
  }
  throw new Error(`Unknown test database kind: ${String(kind)}`);
}

async function pgAdmin(statement: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function mysqlAdmin(statement: string): Promise<void> {
  const mysql = await import('mysql2/promise');
  const connection = await mysql.createConnection(MYSQL_ADMIN_URL);
  try {
    await connection.query(statement);
  } finally {
    await connection.end();
  }
}
