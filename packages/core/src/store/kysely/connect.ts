import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, MysqlAdapter, MysqlDialect, PostgresAdapter, PostgresDialect, SqliteAdapter } from 'kysely';
import { ByokError } from '../../errors';
import { ByokSqliteDialect, type SqliteDatabase } from './sqlite-dialect';

/** The SQL engines the Kysely store speaks. */
export type SqlDialect = 'sqlite' | 'postgres' | 'mysql';

/** SQLite through better-sqlite3: a file path (its folder is created), `:memory:` or a `file:` URI. */
export interface SqliteConfig {
  sqlite: string;
  /** How long a statement waits for another connection's write lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
}

/** PostgreSQL through a `pg` pool: `postgres://user:password@host:port/database`. */
export interface PostgresConfig {
  postgres: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /**
   * Run byok's hottest statement (the audit append) as a named, server-side prepared
   * statement. Default true; set false behind a pooler that cannot keep them (PgBouncer
   * in transaction mode before 1.21).
   */
  preparedStatements?: boolean;
}

/** MySQL or MariaDB through a `mysql2` pool: `mysql://user:password@host:port/database`. */
export interface MysqlConfig {
  mysql: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
}

/** A database byok opens (and later closes) itself, with its connection options. */
export type DatabaseConfig = SqliteConfig | PostgresConfig | MysqlConfig;

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
  /** SQLite opened by byok: the first row only, as column values (see ByokSqliteDialect.readRowNow). */
  readRowNow?: (sql: string, parameters: readonly unknown[]) => unknown[] | null | undefined;
}

/**
 * Opens a Kysely instance on a database byok manages itself: better-sqlite3 (WAL, busy
 * timeout, `BEGIN IMMEDIATE`, foreign keys; the file's folder is created), a `pg` Pool
 * whose BIGINT (int8) columns come back as numbers — set on this pool only, never on the
 * process-wide `pg.types` — or a `mysql2` pool (UTC, utf8mb4, big numbers as numbers).
 * PostgreSQL and MySQL are reached once before this returns, so a server that does not
 * answer or a database that does not exist fails here. The caller owns the result and
 * must `destroy()` it.
 *
 * @throws ByokError `database_unavailable` naming the host and database (never the password)
 * @example
 * const { db, dialect } = await connectDatabase({ postgres: 'postgres://postgres@127.0.0.1/app', poolSize: 4 });
 * await db.destroy();
 */
export async function connectDatabase(config: DatabaseConfig): Promise<OpenedDatabase> {
  if ('sqlite' in config) {
    const file = config.sqlite;
    if (typeof file !== 'string' || file === '') throw new ByokError('config_invalid', 'database.sqlite must be a file path');
    if (file !== ':memory:' && !file.startsWith('file:')) mkdirSync(dirname(resolve(file)), { recursive: true });
    const BetterSqlite3 = await importPeer<{ default: new (file: string) => SqliteDatabase }>('better-sqlite3');
    const dialect = new ByokSqliteDialect({
      database: async () => new BetterSqlite3.default(file),
      busyTimeoutMs: config.busyTimeoutMs,
    });
    return {
      db: new Kysely<any>({ dialect }),
      dialect: 'sqlite',
      readNow: (sql, parameters) => dialect.readNow(sql, parameters),
      readRowNow: (sql, parameters) => dialect.readRowNow(sql, parameters),
    };
  }
  if ('postgres' in config) {
    const target = describeTarget('PostgreSQL', config.postgres, 'database.postgres');
    const pg = (await importPeer<{ default: typeof import('pg') }>('pg')).default;
    const int8 = 20;
    const pool = new pg.Pool({
      connectionString: config.postgres,
      max: poolSize(config.poolSize),
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
    // A client in use when the server goes away emits 'error' on itself, not on the pool:
    // the query in flight fails (database_unavailable) and the process lives on.
    pool.on('connect', (client) => void client.on('error', () => undefined));
    try {
      (await pool.connect()).release();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw unavailable(target, error);
    }
    return {
      db: new Kysely<any>({ dialect: new PostgresDialect({ pool }) }),
      dialect: 'postgres',
      ...(config.preparedStatements === false
        ? {}
        : { preparedQuery: async (name: string, text: string, values: readonly unknown[]) => (await pool.query({ name, text, values: values as unknown[] })).rows }),
    };
  }
  if ('mysql' in config) {
    const target = describeTarget('MySQL', config.mysql, 'database.mysql');
    const mysql = await importPeer<typeof import('mysql2')>('mysql2');
    const createPool = mysql.createPool ?? (mysql as unknown as { default: typeof import('mysql2') }).default.createPool;
    const pool = createPool({
      uri: config.mysql,
      connectionLimit: poolSize(config.poolSize),
      timezone: 'Z',
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: false,
    });
    try {
      await new Promise<void>((ok, fail) => {
        pool.getConnection((error, connection) => {
          if (error) return fail(error);
          connection.release();
          ok();
        });
      });
    } catch (error) {
      await new Promise<void>((done) => pool.end(() => done()));
      throw unavailable(target, error);
    }
    return { db: new Kysely<any>({ dialect: new MysqlDialect({ pool }) }), dialect: 'mysql' };
  }
  throw new ByokError('config_invalid', 'database must be a Kysely instance or one of { sqlite }, { postgres }, { mysql }, { memory: true }');
}

/** Where a server database is, for error messages: engine, host, port and database name. */
interface DatabaseTarget {
  engine: 'PostgreSQL' | 'MySQL';
  host: string;
  port: string;
  database: string;
}

/** Reads host, port and database from a connection URL (never its user or password). */
function describeTarget(engine: DatabaseTarget['engine'], url: unknown, field: string): DatabaseTarget {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    // The URL is not repeated: it may hold a password.
    throw new ByokError('config_invalid', `${field} must be a connection URL such as ${engine === 'PostgreSQL' ? 'postgres' : 'mysql'}://user@host:port/database`);
  }
  const defaultPort = engine === 'PostgreSQL' ? '5432' : '3306';
  const host = parsed.searchParams.get('host') ?? decodeURIComponent(parsed.hostname || 'localhost');
  return { engine, host, port: parsed.port || defaultPort, database: decodeURIComponent(parsed.pathname.replace(/^\//u, '')) || '(default)' };
}

/**
 * A failed first connection as a ByokError that names the server and database. The
 * driver's error is not kept as the cause: some drivers' errors carry the connection
 * URL, password included.
 */
function unavailable(target: DatabaseTarget, error: unknown): ByokError {
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  const reason = connectFailure(typeof code === 'string' ? code : undefined, typeof errno === 'number' ? errno : undefined);
  const where = `${target.engine} at ${target.host}:${target.port}, database "${target.database}"`;
  return new ByokError('database_unavailable', `Cannot open ${where}: ${reason.text}`, {
    details: { engine: target.engine, host: target.host, port: target.port, database: target.database, reason: reason.code },
  });
}

/** What went wrong, from the driver's code: PostgreSQL SQLSTATE, MySQL errno, or a socket error. */
function connectFailure(code: string | undefined, errno: number | undefined): { code: string; text: string } {
  if (code === '3D000' || errno === 1049 || code === 'ER_BAD_DB_ERROR') return { code: 'database_missing', text: 'the database does not exist' };
  if (code === '28P01' || code === '28000' || errno === 1045 || errno === 1044 || code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR') {
    return { code: 'access_denied', text: 'the server refused the user or password' };
  }
  if (code === 'ECONNREFUSED') return { code: 'connection_refused', text: 'nothing accepts connections there' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { code: 'host_not_found', text: 'the host name does not resolve' };
  if (code === 'ETIMEDOUT' || code === 'ECONNRESET' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return { code: 'unreachable', text: 'the server cannot be reached' };
  }
  return { code: 'connect_failed', text: `the connection failed${code ? ` (${code})` : ''}` };
}

function poolSize(size: number | undefined): number {
  if (size === undefined) return 10;
  if (!Number.isSafeInteger(size) || size < 1) throw new ByokError('config_invalid', 'database.poolSize must be a positive integer');
  return size;
}

/**
 * Which engine a host-supplied Kysely talks to, read from its dialect adapter (by class,
 * then by class name, so a second copy of kysely in the host still resolves).
 *
 * @example
 * import { Kysely, PostgresDialect } from 'kysely';
 * import pg from 'pg';
 * detectDialect(new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool() }) })); // 'postgres'
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
