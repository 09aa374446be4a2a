import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';
import { AsyncMutex } from '../async-mutex';

/** The slice of a better-sqlite3 `Database` byok uses (better-sqlite3 stays an optional peer). */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): unknown;
}

interface SqliteStatement {
  readonly reader: boolean;
  all(parameters: readonly unknown[]): unknown[];
  get(parameters: readonly unknown[]): unknown;
  /** better-sqlite3: rows as arrays of column values instead of objects. */
  raw(toggle: boolean): SqliteStatement;
  run(parameters: readonly unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(parameters: readonly unknown[]): IterableIterator<unknown>;
}

export interface ByokSqliteDialectOptions {
  /** The better-sqlite3 database, or a factory called on first use. */
  database: SqliteDatabase | (() => Promise<SqliteDatabase>);
  /** Milliseconds a write waits for another connection's write lock before SQLITE_BUSY. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * Kysely dialect for better-sqlite3 tuned for byok: WAL journal, a busy timeout,
 * foreign keys on, a prepared-statement cache, and every transaction opened with
 * `BEGIN IMMEDIATE`. Immediate transactions take the database's write lock up front,
 * so two processes can never both read under a deferred lock and then deadlock on the
 * upgrade (the SQLITE_BUSY that a busy timeout cannot cure). Within one process all
 * queries share one connection behind a FIFO mutex, so concurrent async writers are
 * serialised; across processes the write lock and busy timeout serialise them.
 */
export class ByokSqliteDialect implements Dialect {
  readonly #options: ByokSqliteDialectOptions;

  constructor(options: ByokSqliteDialectOptions) {
    this.#options = options;
  }

  #driver: ByokSqliteDriver | undefined;

  createDriver(): Driver {
    return (this.#driver = new ByokSqliteDriver(this.#options));
  }

  /**
   * Runs a read on the connection right now, synchronously, when no query or
   * transaction holds it; `undefined` means "busy, go through Kysely". It lets hot reads
   * (the vault's key lookup) skip Kysely's asynchronous executor without ever reading
   * inside another task's open transaction.
   */
  readNow(sql: string, parameters: readonly unknown[]): unknown[] | undefined {
    return this.#driver?.readNow(sql, parameters);
  }

  /**
   * Like {@link readNow} for a lookup of at most one row: the first row as an array of
   * its column values in select order, `null` when there is none, `undefined` when busy.
   * Stepping once and building no row object is the cheapest read better-sqlite3 has.
   */
  readRowNow(sql: string, parameters: readonly unknown[]): unknown[] | null | undefined {
    return this.#driver?.readRowNow(sql, parameters);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

class ByokSqliteDriver implements Driver {
  readonly #options: ByokSqliteDialectOptions;
  readonly #mutex = new AsyncMutex();
  #db: SqliteDatabase | undefined;
  #connection: ByokSqliteConnection | undefined;

  constructor(options: ByokSqliteDialectOptions) {
    this.#options = options;
  }

  async init(): Promise<void> {
    const db = typeof this.#options.database === 'function' ? await this.#options.database() : this.#options.database;
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(this.#options.busyTimeoutMs ?? 5000))}`);
    db.pragma('journal_mode = WAL');
    // NORMAL is the usual pairing with WAL: a commit survives an application crash; only
    // an OS crash or power loss can lose the last transactions (never corrupts).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    this.#db = db;
    this.#connection = new ByokSqliteConnection(db);
  }

  readNow(sql: string, parameters: readonly unknown[]): unknown[] | undefined {
    if (this.#mutex.locked || !this.#connection) return undefined;
    return this.#connection.readNow(sql, parameters);
  }

  readRowNow(sql: string, parameters: readonly unknown[]): unknown[] | null | undefined {
    if (this.#mutex.locked || !this.#connection) return undefined;
    return this.#connection.readRowNow(sql, parameters);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    return this.#connection!;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint "${name.replaceAll('"', '""')}"`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to "${name.replaceAll('"', '""')}"`));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release "${name.replaceAll('"', '""')}"`));
  }

  async releaseConnection(): Promise<void> {
    this.#mutex.unlock();
  }

  async destroy(): Promise<void> {
    this.#db?.close();
    this.#db = undefined;
  }
}

const STATEMENT_CACHE_SIZE = 256;

/** Prepared statements by SQL, the least recently used dropped past {@link STATEMENT_CACHE_SIZE}. */
class StatementCache {
  readonly #statements = new Map<string, SqliteStatement>();
  #newest: string | undefined;

  get(sql: string): SqliteStatement | undefined {
    const statement = this.#statements.get(sql);
    if (statement === undefined) return undefined;
    // refresh recency (Map iteration order is insertion order), unless already the newest
    if (this.#newest !== sql) {
      this.#statements.delete(sql);
      this.#statements.set(sql, statement);
      this.#newest = sql;
    }
    return statement;
  }

  add(sql: string, statement: SqliteStatement): SqliteStatement {
    this.#statements.set(sql, statement);
    this.#newest = sql;
    if (this.#statements.size > STATEMENT_CACHE_SIZE) {
      const oldest = this.#statements.keys().next().value;
      if (oldest !== undefined) this.#statements.delete(oldest);
    }
    return statement;
  }
}

class ByokSqliteConnection implements DatabaseConnection {
  readonly #db: SqliteDatabase;
  readonly #statements = new StatementCache();
  /** Statements in raw mode, for `readRowNow` (a statement's mode is its own state). */
  readonly #rowStatements = new StatementCache();

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  #prepare(sql: string): SqliteStatement {
    return this.#statements.get(sql) ?? this.#statements.add(sql, this.#db.prepare(sql));
  }

  readNow(sql: string, parameters: readonly unknown[]): unknown[] {
    return this.#prepare(sql).all(parameters) as unknown[];
  }

  readRowNow(sql: string, parameters: readonly unknown[]): unknown[] | null {
    const statement = this.#rowStatements.get(sql) ?? this.#rowStatements.add(sql, this.#db.prepare(sql).raw(true));
    return (statement.get(parameters) as unknown[] | undefined) ?? null;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const statement = this.#prepare(compiledQuery.sql);
    if (statement.reader) return { rows: statement.all(compiledQuery.parameters) as R[] };
    const { changes, lastInsertRowid } = statement.run(compiledQuery.parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const statement = this.#prepare(compiledQuery.sql);
    for (const row of statement.iterate(compiledQuery.parameters)) yield { rows: [row as R] };
  }
}
