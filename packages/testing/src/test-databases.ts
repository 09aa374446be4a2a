import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByokError } from '@byok/core';

/** The database engines byok's Kysely store runs on. */
export type TestDatabaseKind = 'sqlite' | 'postgres' | 'mysql';

/** Every engine, in the order test loops run them. */
export const TEST_DATABASE_KINDS: readonly TestDatabaseKind[] = ['sqlite', 'postgres', 'mysql'];

/** The environment variable that picks the engines tests run on (like Kysely's `DIALECTS`). */
export const TEST_DATABASES_VARIABLE = 'BYOK_TEST_DATABASES';

const ALIASES: Readonly<Record<string, readonly TestDatabaseKind[]>> = {
  sqlite: ['sqlite'],
  postgres: ['postgres'],
  mysql: ['mysql'],
  mariadb: ['mysql'],
  all: TEST_DATABASE_KINDS,
};

/**
 * Parses a `BYOK_TEST_DATABASES` value: a comma-separated list of `sqlite`, `postgres`,
 * `mysql` (`mariadb` is the same engine) or `all`, case and spaces ignored. Unset or
 * blank means every engine. Returns the engines in {@link TEST_DATABASE_KINDS} order.
 *
 * @throws ByokError `config_invalid` for an empty entry or an unknown name (the message says what is accepted)
 * @example
 * parseTestDatabases('postgres, sqlite'); // → ['sqlite', 'postgres']
 * parseTestDatabases(undefined); // → ['sqlite', 'postgres', 'mysql']
 */
export function parseTestDatabases(value: string | undefined): TestDatabaseKind[] {
  if (value === undefined || value.trim() === '') return [...TEST_DATABASE_KINDS];
  const picked = new Set<TestDatabaseKind>();
  for (const raw of value.split(',')) {
    const name = raw.trim().toLowerCase();
    const kinds = Object.hasOwn(ALIASES, name) ? ALIASES[name] : undefined;
    if (!kinds) {
      const problem = name === '' ? 'has an empty entry' : name === 'memory' ? 'names memory, which is not a database (the in-memory store always runs)' : `names an unknown database "${raw.trim()}"`;
      throw new ByokError(
        'config_invalid',
        `${TEST_DATABASES_VARIABLE}="${value}" ${problem}: use a comma-separated list of sqlite, postgres, mysql (or mariadb), e.g. ${TEST_DATABASES_VARIABLE}=sqlite,postgres`,
      );
    }
    for (const kind of kinds) picked.add(kind);
  }
  return TEST_DATABASE_KINDS.filter((kind) => picked.has(kind));
}

/**
 * The engines this test run uses: `BYOK_TEST_DATABASES` of `env`, or all of them.
 *
 * @example
 * import { describe } from 'vitest';
 * for (const kind of selectedTestDatabases()) describe(`store on ${kind}`, () => {
 *   // the cases, against a database of this kind
 * });
 */
export function selectedTestDatabases(env: Readonly<Record<string, string | undefined>> = process.env): TestDatabaseKind[] {
  return parseTestDatabases(env[TEST_DATABASES_VARIABLE]);
}

/**
 * Keeps the backends of a test loop that this run uses: the database engines selected by
 * `BYOK_TEST_DATABASES`, and every entry that is not a database engine (such as
 * `'memory'`), in the order given. Every test that loops over databases goes through it,
 * so a contributor without PostgreSQL or MariaDB runs the rest with
 * `BYOK_TEST_DATABASES=sqlite`.
 *
 * @example
 * import { describe } from 'vitest';
 * describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('users on %s', (kind) => {
 *   // the cases, against a `kind` backend
 * });
 */
export function selectTestBackends<K extends string>(candidates: readonly K[], env: Readonly<Record<string, string | undefined>> = process.env): K[] {
  const selected = new Set<string>(selectedTestDatabases(env));
  return candidates.filter((candidate) => !(TEST_DATABASE_KINDS as readonly string[]).includes(candidate) || selected.has(candidate));
}

/**
 * Whether this run uses `kind` (see {@link selectedTestDatabases}), for a test of one
 * engine's own behaviour.
 *
 * @example
 * import { it } from 'vitest';
 * if (testDatabaseSelected('postgres')) it('postgres: leaves pg.types alone', async () => {
 *   // a case that needs PostgreSQL
 * });
 */
export function testDatabaseSelected(kind: TestDatabaseKind, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return selectedTestDatabases(env).includes(kind);
}

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
const pgAdminUrl = (): string => process.env.BYOK_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const mysqlAdminUrl = (): string => process.env.BYOK_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/**
 * Creates an empty, uniquely named database for one test file: `byok_t_<random>` on the
 * local PostgreSQL (user postgres) or MariaDB/MySQL (root) server, or a fresh SQLite file
 * in the temp directory. Call `drop()` when done (an `afterAll`).
 *
 * @example
 * import { createStore } from '@byok/core/store';
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
    const url = new URL(pgAdminUrl());
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
    const url = new URL(mysqlAdminUrl());
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
  const url = pgAdminUrl();
  const client = new pg.Client({ connectionString: url });
  await client.connect().catch((cause: unknown) => {
    throw serverMissing('PostgreSQL', 'postgres', url, 'BYOK_TEST_PG_URL', cause);
  });
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function mysqlAdmin(statement: string): Promise<void> {
  const mysql = await import('mysql2/promise');
  const url = mysqlAdminUrl();
  const connection = await mysql.createConnection(url).catch((cause: unknown) => {
    throw serverMissing('MariaDB/MySQL', 'mysql', url, 'BYOK_TEST_MYSQL_URL', cause);
  });
  try {
    await connection.query(statement);
  } finally {
    await connection.end();
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN']);

/**
 * A server that does not answer is named with its address (never its password) and the
 * way out; any other connection error (a refused login, say) is passed on as it is.
 */
function serverMissing(server: string, kind: TestDatabaseKind, url: string, variable: string, cause: unknown): unknown {
  const code = (cause as { code?: unknown } | null)?.code;
  const codes = [code, ...((cause as { errors?: { code?: unknown }[] } | null)?.errors ?? []).map((e) => e.code)];
  if (!codes.some((c) => typeof c === 'string' && UNREACHABLE.has(c))) return cause;
  const { hostname: host, port } = new URL(url);
  const others = TEST_DATABASE_KINDS.filter((k) => k !== kind).join(',');
  return new ByokError(
    'config_invalid',
    `${server} does not answer at ${host}${port ? `:${port}` : ''} (${variable}): start it (bash scripts/services.sh) or leave ${kind} out with ${TEST_DATABASES_VARIABLE}=${others}`,
    { cause },
  );
}
