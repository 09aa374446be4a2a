import { KyselyProviderKeysRepository, KyselySealedRecordsRepository } from './provider-keys-repository';
import type { ProviderKeysRepository, SealedRecordsRepository } from '../provider-keys-repository';
import type { AuthSessionsRepository, OAuthTokensRepository, SigningKeysRepository } from '../auth-repositories';
import { KyselyAuthSessionsRepository } from './auth-sessions-repository';
import { KyselyOAuthTokensRepository } from './oauth-tokens-repository';
import { KyselySigningKeysRepository } from './signing-keys-repository';
import type { ChatMessagesRepository, ChatSessionsRepository } from '../chat-repositories';
import { KyselyChatMessagesRepository } from './chat-messages-repository';
import { KyselyChatSessionsRepository } from './chat-sessions-repository';
import type { ChatMaintenanceRepository } from '../chat-maintenance-repository';
import { KyselyChatMaintenanceRepository } from './chat-maintenance-repository';
import type { ChatContentKeysRepository } from '../chat-content-keys-repository';
import { KyselyChatContentKeysRepository } from './chat-content-keys-repository';
import type { Kysely } from 'kysely';
import { ByokError } from '../../errors';
import type { Migrator } from '../migrations/migrator';
import type {
  AuditRepository,
  MigrationReport,
  MigrationStatus,
  PreferencesRepository,
  Store,
  UsersRepository,
} from '../store';
import { AuditAppendStatements } from './audit-append-statements';
import { KyselyAuditRepository } from './audit-repository';
import type { SqlDialect } from './connect';
import { isRetryableDatabaseError, mapDatabaseError, retryDelay } from './database-errors';
import { KyselyPreferencesRepository } from './preferences-repository';
import { tableNames, type TableNames } from './tables';
import { KyselyUsersRepository } from './users-repository';
import { withSpan } from '../../util/telemetry';

/** What every KyselyStore bound to one database (root or transaction) shares. */
export interface KyselyStoreShared {
  /** The root instance (a host's is already `withoutPlugins()`). */
  db: Kysely<any>;
  dialect: SqlDialect;
  prefix: string;
  migrator: Migrator;
  /** Destroys the database when byok opened it; nothing for a host's Kysely. */
  close(): Promise<void>;
  /** Named prepared statements outside transactions (PostgreSQL opened by byok only). */
  preparedQuery?: (name: string, text: string, values: readonly unknown[]) => Promise<Array<Record<string, unknown>>>;
  /** Synchronous idle-connection read (SQLite opened by byok only). */
  readNow?: (sql: string, parameters: readonly unknown[]) => unknown[] | undefined;
  /** Synchronous idle-connection read of one row as column values (SQLite opened by byok only). */
  readRowNow?: (sql: string, parameters: readonly unknown[]) => unknown[] | null | undefined;
  /** Compiled on first append, then reused by every store bound to this database. */
  appendStatements?: AuditAppendStatements;
}

/**
 * The Store on Kysely (SQLite, PostgreSQL, MySQL/MariaDB). Repositories query `db`,
 * which is the root Kysely or, inside `transaction()`, the transaction, and wrap each
 * operation in `guard()` (database errors → ByokErrors).
 *
 * Adding a repository for a later capability: declare it on `Store` (store.ts), write
 * `kysely/<name>-repository.ts` and `memory/<name>-repository.ts` (a memory table keyed
 * to a user also pushes its delete onto `state.userCascades`), construct both in the two
 * store constructors, add its tables in a new migration, and extend storeConformance.
 *
 * @example
 * // normally made by createStore({ database: { postgres: url } })
 * const store = await createStore({ database: { sqlite: 'data/byok.db' } });
 * await store.transaction(async (tx) => {
 *   await tx.users.update(userId, { name: 'Ada', updatedAt: Date.now() });
 *   await tx.preferences.put({ userId, theme: 'dark', language: 'en', timezone: 'Europe/Berlin', updatedAt: Date.now() });
 * });
 */
export class KyselyStore implements Store {
  readonly dialect: SqlDialect;
  readonly sqlDialect: SqlDialect;
  readonly db: Kysely<any>;
  readonly prefix: string;
  readonly tables: TableNames;
  readonly inTransaction: boolean;
  readonly users: UsersRepository;
  readonly preferences: PreferencesRepository;
  readonly audit: AuditRepository;
  readonly providerKeys: ProviderKeysRepository;
  readonly sealedRecords: SealedRecordsRepository;
  readonly authSessions: AuthSessionsRepository;
  readonly signingKeys: SigningKeysRepository;
  readonly oauthTokens: OAuthTokensRepository;
  readonly chatSessions: ChatSessionsRepository;
  readonly chatMessages: ChatMessagesRepository;
  readonly chatMaintenance: ChatMaintenanceRepository;
  readonly chatContentKeys: ChatContentKeysRepository;
  readonly #shared: KyselyStoreShared;

  constructor(shared: KyselyStoreShared, db: Kysely<any> = shared.db, inTransaction = false) {
    this.#shared = shared;
    this.dialect = shared.dialect;
    this.sqlDialect = shared.dialect;
    this.db = db;
    this.prefix = shared.prefix;
    this.tables = tableNames(shared.prefix);
    this.inTransaction = inTransaction;
    this.users = new KyselyUsersRepository(this);
    this.preferences = new KyselyPreferencesRepository(this);
    this.audit = new KyselyAuditRepository(this);
    this.providerKeys = new KyselyProviderKeysRepository(this);
    this.sealedRecords = new KyselySealedRecordsRepository(this);
    this.authSessions = new KyselyAuthSessionsRepository(this);
    this.signingKeys = new KyselySigningKeysRepository(this);
    this.oauthTokens = new KyselyOAuthTokensRepository(this);
    this.chatSessions = new KyselyChatSessionsRepository(this);
    this.chatMessages = new KyselyChatMessagesRepository(this);
    this.chatMaintenance = new KyselyChatMaintenanceRepository(this);
    this.chatContentKeys = new KyselyChatContentKeysRepository(this);
  }

  async transaction<T>(fn: (tx: Store) => Promise<T>, options?: { retries?: number }): Promise<T> {
    if (this.inTransaction) return this.guard(() => fn(this));
    return withSpan('db transaction', { 'db.system.name': DB_SYSTEM[this.sqlDialect] }, () => this.#transaction(fn, options), 'client');
  }

  async #transaction<T>(fn: (tx: Store) => Promise<T>, options?: { retries?: number }): Promise<T> {
    const retries = options?.retries ?? 5;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#shared.db.transaction().execute((trx) => fn(new KyselyStore(this.#shared, trx, true)));
      } catch (error) {
        if (attempt < retries && isRetryableDatabaseError(error)) {
          await sleep(retryDelay(attempt));
          continue;
        }
        throw mapDatabaseError(error);
      }
    }
  }

  /**
   * Runs one repository operation, mapping database errors to ByokErrors. Inside a
   * transaction, errors that a re-run may cure stay raw so `transaction()` can retry.
   */
  async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (this.inTransaction && isRetryableDatabaseError(error)) throw error;
      throw mapDatabaseError(error);
    }
  }

  /**
   * A read run synchronously on the idle SQLite connection, outside any transaction;
   * `undefined` when unavailable or busy (the caller then goes through Kysely).
   */
  readNow(sql: string, parameters: readonly unknown[]): unknown[] | undefined {
    if (this.inTransaction) return undefined;
    return this.#shared.readNow?.(sql, parameters);
  }

  /**
   * {@link readNow} for a lookup of at most one row: its column values in select order,
   * `null` when there is none, `undefined` when unavailable or busy.
   */
  readRowNow(sql: string, parameters: readonly unknown[]): unknown[] | null | undefined {
    if (this.inTransaction) return undefined;
    return this.#shared.readRowNow?.(sql, parameters);
  }

  /** The audit append's precompiled statements (internal). */
  get appendStatements(): AuditAppendStatements {
    return (this.#shared.appendStatements ??= new AuditAppendStatements(this.#shared.db, this.sqlDialect, this.tables, this.#shared.preparedQuery));
  }

  migrate(): Promise<MigrationReport> {
    this.#assertRoot('migrate');
    return this.#shared.migrator.migrate();
  }

  migrationStatus(): Promise<MigrationStatus[]> {
    return this.#shared.migrator.status();
  }

  close(): Promise<void> {
    this.#assertRoot('close');
    return this.#shared.close();
  }

  #assertRoot(what: string): void {
    if (this.inTransaction) throw new ByokError('bad_request', `store.${what}() cannot run inside a transaction`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** OpenTelemetry's `db.system.name` values. */
const DB_SYSTEM = { sqlite: 'sqlite', postgres: 'postgresql', mysql: 'mysql' } as const;
