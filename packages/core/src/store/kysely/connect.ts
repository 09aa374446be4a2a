import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, MysqlAdapter, MysqlDialect, PostgresAdapter, PostgresDialect, SqliteAdapter } from 'kysely';
import { ByokError } from '../../errors';
import { ByokSqliteDialect, type SqliteDatabase } from './sqlite-dialect';

/** The SQL engines the Kysely store speaks. */
export type SqlDialect = 'sqlite' | 'postgres' | 'mysql';

/** A database byok opens (and later closes) itself. */
export type DatabaseConfig = { sqlite: string } | { postgres: string } | { mysql: string };

export interface ConnectOptions {
  /** Connections in the pool (PostgreSQL, MySQL). Default 10. */
  poolSize?: number;
  /** SQLite busy timeout in ms. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * PostgreSQL: run byok's hottest statement (the audit append) as a named, server-side
   * prepared statement. Default true; set false behind a pooler that cannot keep them
   * (PgBouncer in transaction mode before 1.21).
   */
  preparedStatements?: boolean;
}

export interface OpenedDatabase {
  db: Kysely<any>;
  dialect: SqlDialect;
  /**
   * PostgreSQL opened by byok: runs a named (server-side prepared) statement outside any
   * transaction, so a hot statement is parsed and planned once per connection.
   */
  preparedQuery?: (name: string, text: string, values: readonly unknown[]) => Promise<Array<Record<string, unknown>>>;
  /** SQLite opened by byok: a synchronous read when the connection is idle (see ByokSqliteDialect). */
  readNow?: (sql: string, parameters: readonly unknown[]) => unknown[] | undefined;
}

/**
 * Opens a Kysely instance on a database byok manages itself: better-sqlite3 (WAL, busy
 * timeout, `BEGIN IMMEDIATE`, foreign keys; the file's folder is created), a `pg` Pool
 * whose BIGINT (int8) columns come back as numbers — set on this pool only, never on the
 * process-wide `pg.types` — or a `mysql2` pool (UTC, utf8mb4, big numbers as numbers).
 * The caller owns the result and must `destroy()` it.
 *
 * @example
 * const { db, dialect } = await connectDatabase({ postgres: 'postgres://postgres@127.0.0.1/app' });
 * await db.destroy();
 */
export async function connectDatabase(config: DatabaseConfig, options: ConnectOptions = {}): Promise<OpenedDatabase> {
  const poolSize = options.poolSize ?? 10;
  if ('sqlite' in config) {
    const file = config.sqlite;
    if (typeof file !== 'string' || file === '') throw new ByokError('config_invalid', 'database.sqlite must be a file path');
    if (file !== ':memory:' && !file.startsWith('file:')) mkdirSync(dirname(resolve(file)), { recursive: true });
    const BetterSqlite3 = await importPeer<{ default: new (file: string) => SqliteDatabase }>('better-sqlite3');
    const dialect = new ByokSqliteDialect({
      database: async () => new BetterSqlite3.default(file),
      busyTimeoutMs: options.busyTimeoutMs,
    });
    return { db: new Kysely<any>({ dialect }), dialect: 'sqlite', readNow: (sql, parameters) => dialect.readNow(sql, parameters) };
  }
  if ('postgres' in config) {
    const pg = (await importPeer<{ default: typeof import('pg') }>('pg')).default;
    const int8 = 20;
    const pool = new pg.Pool({
      connectionString: config.postgres,
      max: poolSize,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === int8 && format !== 'binary'
            ? (value: string) => parseSafeInteger(value)
            : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
      },
    });
    // An idle client dropped by the server (restart, failover, pg_terminate_backend) emits
    // 'error' on the pool; pg discards that client and the next query opens a fresh one.
    // Without a listener the event would crash the host process.
    pool.on('error', () => undefined);
    return {
      db: new Kysely<any>({ dialect: new PostgresDialect({ pool }) }),
      dialect: 'postgres',
      ...(options.preparedStatements === false
        ? {}
        : { preparedQuery: async (name: string, text: string, values: readonly unknown[]) => (await pool.query({ name, text, values: values as unknown[] })).rows }),
    };
  }
  if ('mysql' in config) {
    const mysql = await importPeer<typeof import('mysql2')>('mysql2');
    const createPool = mysql.createPool ?? (mysql as unknown as { default: typeof import('mysql2') }).default.createPool;
    const pool = createPool({
      uri: config.mysql,
      connectionLimit: poolSize,
      timezone: 'Z',
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: false,
    });
    return { db: new Kysely<any>({ dialect: new MysqlDialect({ pool }) }), dialect: 'mysql' };
  }
  throw new ByokError('config_invalid', 'database must be a Kysely instance or one of { sqlite }, { postgres }, { mysql }, { memory: true }');
}

/**
 * Which engine a host-supplied Kysely talks to, read from its dialect adapter (by class,
 * then by class name, so a second copy of kysely in the host still resolves).
 *
 * @example
 * detectDialect(new Kysely({ dialect: new PostgresDialect({ pool }) })); // 'postgres'
 */
export function detectDialect(db: Kysely<any>): SqlDialect {
  const adapter = db.getExecutor().adapter;
  if (adapter instanceof PostgresAdapter) return 'postgres';
  if (adapter instanceof MysqlAdapter) return 'mysql';
  if (adapter instanceof SqliteAdapter) return 'sqlite';
  const name = adapter.constructor.name.toLowerCase();
  if (name.includes('postgres')) return 'postgres';
  if (name.includes('mysql')) return 'mysql';
  if (name.includes('sqlite')) return 'sqlite';
  throw new ByokError('config_invalid', `Cannot tell which database the Kysely instance uses (${adapter.constructor.name}); pass dialect`);
}

/** Parses an int8 text value, refusing values beyond 2^53 rather than silently rounding. */
export function parseSafeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new ByokError('internal', 'A BIGINT column holds a value beyond the safe integer range');
  return n;
}

async function importPeer<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (cause) {
    throw new ByokError('config_invalid', `The database driver "${name}" is not installed; add it to your dependencies`, { cause });
  }
}
