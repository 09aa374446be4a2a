import { sql, type Kysely } from 'kysely';
import { ByokError } from '../errors';
import { systemClock, type Clock } from '../util/clock';
import { connectDatabase, detectDialect, type DatabaseConfig, type OpenedDatabase, type SqlDialect } from './kysely/connect';
import { KyselyStore } from './kysely/kysely-store';
import { MemoryStore } from './memory/memory-store';
import { migrations } from './migrations';
import { Migrator } from './migrations/migrator';
import type { Store } from './store';

export interface CreateStoreOptions {
  /**
   * A host's Kysely instance (queried through `withoutPlugins()`, never closed by byok),
   * a database for byok to open with its connection options (`{ sqlite: file,
   * busyTimeoutMs }`, `{ postgres: url, poolSize, preparedStatements }`, `{ mysql: url,
   * poolSize }`), `{ memory: true }` for the in-memory store, or `{ store }`: a store of
   * the host's own that passes `storeConformance`, used as it is (byok does not call its
   * `migrate`; `byok.close()` calls its `close`).
   */
  database: Kysely<any> | DatabaseConfig | { memory: true } | { store: Store };
  /** Prefix of every byok table, its migration tables included. Default `byok_`. */
  tablePrefix?: string;
  /** Apply pending migrations before returning. Default true. */
  migrate?: boolean;
  clock?: Clock;
  /** The engine behind a host's Kysely, when it cannot be read from its adapter. */
  dialect?: SqlDialect;
}

const PREFIX_RE = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;

/**
 * Opens byok's store on the given database and (by default) migrates it.
 *
 * @throws ByokError `database_unavailable` when the server does not answer or the database does not exist
 * @example
 * const store = await createStore({ database: { sqlite: 'data/byok.db' } });
 * const user = await store.users.get(userId);
 * await store.close();
 *
 * @example
 * // behind PgBouncer in transaction mode: no named prepared statements
 * const store = await createStore({ database: { postgres: process.env.DATABASE_URL!, poolSize: 20, preparedStatements: false } });
 *
 * @example
 * // the host's own Kysely (its plugins are bypassed, its pool is left open)
 * import { Kysely, PostgresDialect } from 'kysely';
 * import pg from 'pg';
 * const hostDb = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) }) });
 * const store = await createStore({ database: hostDb, tablePrefix: 'byok_' });
 */
export async function createStore(options: CreateStoreOptions): Promise<Store> {
  const clock = options.clock ?? systemClock;
  const prefix = options.tablePrefix ?? 'byok_';
  if (!PREFIX_RE.test(prefix)) {
    throw new ByokError('config_invalid', 'tablePrefix must be 1-32 letters, digits or underscores, not starting with a digit');
  }
  const database = options.database as unknown;
  if (typeof database !== 'object' || database === null) {
    throw new ByokError('config_invalid', 'database must be a Kysely instance or one of { sqlite }, { postgres }, { mysql }, { memory: true }');
  }
  if ('memory' in database && (database as { memory: unknown }).memory === true) return new MemoryStore({ clock });
  if ('store' in database) {
    const store = (database as { store: unknown }).store;
    if (!isStore(store)) throw new ByokError('config_invalid', 'database.store must implement the Store contract (see storeConformance in @byok/testing)');
    return store;
  }

  let db: Kysely<any>;
  let dialect: SqlDialect;
  let close: () => Promise<void>;
  let readNow: OpenedDatabase['readNow'];
  let readRowNow: OpenedDatabase['readRowNow'];
  let preparedQuery: OpenedDatabase['preparedQuery'];
  if (isKysely(database)) {
    db = database.withoutPlugins();
    dialect = options.dialect ?? detectDialect(database);
    close = async () => {};
    // SQLite enforces foreign keys per connection, off by default; byok's cascades need them.
    if (dialect === 'sqlite') await sql`pragma foreign_keys = on`.execute(db);
  } else {
    const opened = await connectDatabase(database as DatabaseConfig);
    db = opened.db;
    dialect = opened.dialect;
    readNow = opened.readNow;
    readRowNow = opened.readRowNow;
    preparedQuery = opened.preparedQuery;
    let closed = false;
    close = async () => {
      if (closed) return;
      closed = true;
      await opened.db.destroy();
    };
  }

  const migrator = new Migrator({ db, dialect, prefix, clock, migrations });
  const store = new KyselyStore({ db, dialect, prefix, migrator, close, ...(readNow ? { readNow } : {}), ...(readRowNow ? { readRowNow } : {}), ...(preparedQuery ? { preparedQuery } : {}) });
  if (options.migrate ?? true) {
    try {
      await store.migrate();
    } catch (error) {
      await close();
      throw error;
    }
  }
  return store;
}

function isKysely(value: object): value is Kysely<any> {
  return typeof (value as Kysely<any>).withoutPlugins === 'function' && typeof (value as Kysely<any>).getExecutor === 'function';
}

/** The shape check of a host's store: every repository and the store methods byok calls. */
function isStore(value: unknown): value is Store {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const repositories = ['users', 'preferences', 'audit', 'providerKeys', 'sealedRecords', 'authSessions', 'signingKeys', 'oauthTokens', 'chatSessions', 'chatMessages', 'chatMaintenance', 'chatContentKeys'];
  return (
    typeof v.dialect === 'string' &&
    repositories.every((name) => typeof v[name] === 'object' && v[name] !== null) &&
    ['transaction', 'migrate', 'migrationStatus', 'close'].every((name) => typeof v[name] === 'function')
  );
}
