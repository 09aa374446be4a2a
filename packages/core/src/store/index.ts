// @byok/core/store — the store contract: the Store interface with its repositories and
// row types, the two implementations (Kysely on SQLite/PostgreSQL/MySQL, in-memory) and
// how to open them. `storeConformance()` in @byok/testing/store is the contract's
// executable form. Listed by name; `api/core.api.md` is the reviewed list.

export type {
  Store,
  StoreDialect,
  MigrationReport,
  MigrationStatus,
  UserRow,
  IdentityRow,
  UserPatch,
  UsersRepository,
  PreferencesRow,
  PreferencesRepository,
  AuditOutcome,
  AuditRow,
  AuditPersonalRow,
  AuditHead,
  AuditAppendInput,
  AuditListQuery,
  AuditRepository,
} from './store';
export type { ProviderKeyRow, ProviderKeyForUse, ProviderKeysRepository, SealedRecord, SealedRecordsRepository, SealedTable } from './provider-keys-repository';
export type {
  ChatUsageCounts,
  ChatSessionRow,
  ChatSessionPatch,
  ChatSessionListQuery,
  ChatSessionsRepository,
  ChatMessageRole,
  ChatMessageStatus,
  ChatMessageRow,
  ChatRunPatch,
  ChatPathQuery,
  ChatSiblingInfo,
  ChatUsageQuery,
  ChatMessagesRepository,
} from './chat-repositories';
export type { ChatContentKeyRow, ChatContentKeysRepository } from './chat-content-keys-repository';
export type { ChatMaintenanceRepository, InactiveSession, InactiveSessionQuery } from './chat-maintenance-repository';
export type {
  AuthSessionRow,
  AuthSessionRotation,
  AuthSessionsRepository,
  SigningKeyRow,
  SigningKeysRepository,
  OAuthTokenRow,
  OAuthTokensRepository,
  AuthRepositories,
} from './auth-repositories';

// Opening a store.
export { createStore } from './create-store';
export type { CreateStoreOptions } from './create-store';
export { connectDatabase, detectDialect } from './kysely/connect';
export type { DatabaseConfig, SqliteConfig, PostgresConfig, MysqlConfig, SqlDialect, OpenedDatabase } from './kysely/connect';
export { KyselyStore } from './kysely/kysely-store';
export { MemoryStore } from './memory/memory-store';

// Rate-limit state: counters and concurrency leases (in memory, or Redis with `redis`).
export type { RateLimitStore, RateLimitResult, ConcurrencyStore, ConcurrencyLease } from '../http/rate-limit/rate-limit-store';

// Ids are UUIDv7 text made by the caller (fixtures of a third-party store need them too).
export { uuidv7, isUuid } from '../util/ids';
