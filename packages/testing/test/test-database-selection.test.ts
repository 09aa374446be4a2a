import { afterEach, describe, expect, it } from 'vitest';
import { isByokError } from '@byok/core';
import { createTestDatabase, parseTestDatabases, selectedTestDatabases, selectTestBackends, testDatabaseSelected } from '@byok/testing/store';

// BYOK_TEST_DATABASES picks the engines every database loop runs on (like Kysely's DIALECTS).
describe('BYOK_TEST_DATABASES', () => {
  it('unset or blank: every engine', () => {
    expect(parseTestDatabases(undefined)).toEqual(['sqlite', 'postgres', 'mysql']);
    expect(parseTestDatabases('')).toEqual(['sqlite', 'postgres', 'mysql']);
    expect(parseTestDatabases('  ')).toEqual(['sqlite', 'postgres', 'mysql']);
    expect(selectedTestDatabases({})).toEqual(['sqlite', 'postgres', 'mysql']);
  });

  it('accepts a comma-separated list in any order, case and spacing, with mariadb and all', () => {
    expect(parseTestDatabases('sqlite')).toEqual(['sqlite']);
    expect(parseTestDatabases('postgres,sqlite')).toEqual(['sqlite', 'postgres']);
    expect(parseTestDatabases(' SQLite , Postgres ')).toEqual(['sqlite', 'postgres']);
    expect(parseTestDatabases('mariadb')).toEqual(['mysql']);
    expect(parseTestDatabases('mysql,mariadb,mysql')).toEqual(['mysql']);
    expect(parseTestDatabases('all')).toEqual(['sqlite', 'postgres', 'mysql']);
    expect(selectedTestDatabases({ BYOK_TEST_DATABASES: 'sqlite,postgres' })).toEqual(['sqlite', 'postgres']);
  });

  it('rejects unknown names, empty entries and memory with config_invalid naming what is accepted', () => {
    for (const [value, problem] of [
      ['postgresql', 'unknown database "postgresql"'],
      ['sqlite,pg', 'unknown database "pg"'],
      ['sqlite,', 'empty entry'],
      [',', 'empty entry'],
      ['sqlite;postgres', 'unknown database "sqlite;postgres"'],
      ['memory', 'not a database'],
    ] as const) {
      let thrown: unknown;
      try {
        parseTestDatabases(value);
      } catch (error) {
        thrown = error;
      }
      expect(isByokError(thrown), value).toBe(true);
      expect(thrown).toMatchObject({ code: 'config_invalid' });
      const message = (thrown as Error).message;
      expect(message).toContain(`BYOK_TEST_DATABASES="${value}"`);
      expect(message).toContain(problem);
      expect(message).toContain('sqlite, postgres, mysql (or mariadb)');
    }
    expect(() => selectTestBackends(['memory', 'sqlite'], { BYOK_TEST_DATABASES: 'sqlite,oracle' })).toThrow(/unknown database "oracle"/);
  });

  it('a loop keeps the selected engines and every non-database backend, in its own order', () => {
    const env = { BYOK_TEST_DATABASES: 'mysql,sqlite' };
    expect(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const, env)).toEqual(['memory', 'sqlite', 'mysql']);
    expect(selectTestBackends(['postgres', 'mysql'] as const, { BYOK_TEST_DATABASES: 'sqlite' })).toEqual([]);
    expect(selectTestBackends(['mysql', 'memory', 'postgres'] as const, {})).toEqual(['mysql', 'memory', 'postgres']);
    expect(testDatabaseSelected('postgres', env)).toBe(false);
    expect(testDatabaseSelected('mysql', env)).toBe(true);
    expect(testDatabaseSelected('postgres', {})).toBe(true);
  });
});

describe('a database server that does not answer', () => {
  const saved = { pg: process.env.BYOK_TEST_PG_URL, mysql: process.env.BYOK_TEST_MYSQL_URL };
  afterEach(() => {
    for (const [name, value] of [['BYOK_TEST_PG_URL', saved.pg], ['BYOK_TEST_MYSQL_URL', saved.mysql]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('is named with its address (never its password) and how to leave it out', async () => {
    process.env.BYOK_TEST_PG_URL = 'postgres://postgres:hunter2-secret@127.0.0.1:9/postgres';
    const pg = await createTestDatabase('postgres').catch((error: unknown) => error);
    expect(pg).toMatchObject({ code: 'config_invalid' });
    expect((pg as Error).message).toBe(
      'PostgreSQL does not answer at 127.0.0.1:9 (BYOK_TEST_PG_URL): start it (bash scripts/services.sh) or leave postgres out with BYOK_TEST_DATABASES=sqlite,mysql',
    );
    expect(JSON.stringify(pg)).not.toContain('hunter2');
    // A server that answers and refuses is not "missing": its own error comes through.
    if (testDatabaseSelected('postgres')) {
      process.env.BYOK_TEST_PG_URL = 'postgres://no_such_role_byok@127.0.0.1:5432/postgres';
      const refused = await createTestDatabase('postgres').catch((error: unknown) => error);
      expect(isByokError(refused)).toBe(false);
      expect((refused as Error).message).toContain('no_such_role_byok');
    }
    process.env.BYOK_TEST_MYSQL_URL = 'mysql://root@127.0.0.1:9/test';
    await expect(createTestDatabase('mysql')).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringContaining('MariaDB/MySQL does not answer at 127.0.0.1:9 (BYOK_TEST_MYSQL_URL)'),
    });
  });
});
