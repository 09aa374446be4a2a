import type { ProviderKeysRepository, SealedRecordsRepository } from './provider-keys-repository';
import type { AuthSessionsRepository, OAuthTokensRepository, SigningKeysRepository } from './auth-repositories';
import type { ChatMessagesRepository, ChatSessionsRepository } from './chat-repositories';
import type { ChatMaintenanceRepository } from './chat-maintenance-repository';
import type { ChatContentKeysRepository } from './chat-content-keys-repository';

/**
 * The Store: byok's repository-level persistence contract. Two implementations ship
 * (Kysely on SQLite/PostgreSQL/MySQL, and in-memory); `storeConformance()` in
 * @byok/testing is its executable form, and third-party stores must pass it.
 *
 * Rules every implementation keeps:
 * - Every method that reads or writes user data takes the owning `userId` and scopes
 *   the query by it; a row of another user is indistinguishable from a missing one
 *   (`undefined` / `false`), never an error that reveals it exists.
 * - Ids are made by the caller (UUIDv7 text). Times are epoch milliseconds (numbers).
 *   JSON columns are strings the caller serialised; the store stores the exact bytes.
 * - `transaction(fn)` runs `fn` with a Store bound to one database transaction; all of
 *   its writes commit together or not at all. Inside it, `transaction` nests as a no-op.
 * - Seq allocation (audit chains, and later chat messages) is
 *   `UPDATE … SET last_seq = last_seq + 1`, read back, insert — in one transaction.
 * - Errors: a unique violation is a `conflict` ByokError, a row that references a missing
 *   parent (e.g. preferences of an unknown user) is `not_found`; a deadlock or
 *   serialisation failure is retried by `transaction()` and is `conflict` only when the
 *   retries run out. Errors thrown by the caller's own code pass through unchanged.
 * - Isolation: PostgreSQL runs transactions at READ COMMITTED and MySQL at REPEATABLE
 *   READ (their defaults), SQLite with `BEGIN IMMEDIATE` (one writer at a time), the
 *   in-memory store one operation or transaction at a time. Inside `transaction(fn)` use
 *   only the `tx` store: the outer store is outside the transaction (and on SQLite and
 *   in memory it waits for the transaction to finish).
 */
export interface Store {
  /** Which engine backs this store: used for engine-specific behaviour in tests and CLI. */
  readonly dialect: StoreDialect;
  readonly users: UsersRepository;
  readonly preferences: PreferencesRepository;
  readonly audit: AuditRepository;
  /** Users' sealed model API keys (vault). */
  readonly providerKeys: ProviderKeysRepository;
  /** Every sealed value, system-wide, for `byok kms rewrap` and `byok kms status`. */
  readonly sealedRecords: SealedRecordsRepository;
  /** Refresh-token sessions (auth). */
  readonly authSessions: AuthSessionsRepository;
  /** Access-token signing keys, private parts sealed (auth). */
  readonly signingKeys: SigningKeysRepository;
  /** The issuers' OAuth tokens, sealed (auth). */
  readonly oauthTokens: OAuthTokensRepository;
  /** Chat sessions with their usage totals and active leaf (chat memory). */
  readonly chatSessions: ChatSessionsRepository;
  /** Chat messages, a tree per session read as a path; seq allocation and run ownership (chat memory). */
  readonly chatMessages: ChatMessagesRepository;
  /** Chat rows outside a turn: a session's every message (export), user counts, generated titles, the retention purge. */
  readonly chatMaintenance: ChatMaintenanceRepository;
  /** Per-user data keys of sealed chat content (`memory.sealContent`). */
  readonly chatContentKeys: ChatContentKeysRepository;
  /**
   * Runs `fn` in one transaction. A deadlock or serialisation failure rolls back and
   * re-runs `fn` (at most `retries` times, default 5), so `fn` must only have effects
   * through the given store.
   */
  transaction<T>(fn: (tx: Store) => Promise<T>, options?: { retries?: number }): Promise<T>;
  /** Applies pending migrations (idempotent, safe from several processes at once). */
  migrate(): Promise<MigrationReport>;
  /** Applied and pending migrations, without applying any. */
  migrationStatus(): Promise<MigrationStatus[]>;
  /** Releases connections the store opened itself (never a host-supplied Kysely's pool). */
  close(): Promise<void>;
}

export type StoreDialect = 'sqlite' | 'postgres' | 'mysql' | 'memory';

export interface MigrationReport {
  applied: string[];
}

export interface MigrationStatus {
  name: string;
  appliedAt: number | null;
}

// ---------------------------------------------------------------- users

export interface UserRow {
  id: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  pictureUrl: string | null;
  /** Host-defined JSON, serialised; validated by the host's schema before it gets here. */
  custom: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface IdentityRow {
  id: string;
  userId: string;
  /** The issuer URL exactly as in the id_token's `iss`. */
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  createdAt: number;
  lastLoginAt: number;
}

export type UserPatch = Partial<Pick<UserRow, 'email' | 'emailVerified' | 'name' | 'pictureUrl' | 'custom'>> & {
  updatedAt: number;
};

export interface UsersRepository {
  /** The user behind (issuer, subject), with that identity. */
  findByIdentity(issuer: string, subject: string): Promise<{ user: UserRow; identity: IdentityRow } | undefined>;
  /**
   * Inserts a user and its first identity, atomically. A concurrent insert of the same
   * (issuer, subject), or an existing user id, makes this throw a `conflict` ByokError
   * and leaves nothing behind (the caller re-reads); inside a transaction, that
   * conflict leaves the transaction usable.
   */
  createWithIdentity(user: UserRow, identity: IdentityRow): Promise<void>;
  get(userId: string): Promise<UserRow | undefined>;
  /**
   * Users whose e-mail is verified and equals `email` (case-insensitive), at most two —
   * enough for automatic linking to tell "exactly one" from "ambiguous". Not user-scoped:
   * only the auth service calls it, at sign-in, for an issuer authoritative for `email`.
   */
  findByVerifiedEmail(email: string): Promise<UserRow[]>;
  /** Updates the user's own row; `undefined` when no such user. */
  update(userId: string, patch: UserPatch): Promise<UserRow | undefined>;
  /** Adds an identity to an existing user (linking); `conflict` if (issuer, subject) is taken. */
  addIdentity(userId: string, identity: IdentityRow): Promise<void>;
  listIdentities(userId: string): Promise<IdentityRow[]>;
  /** Records a login on an identity: updates last_login_at and the asserted email. */
  touchIdentity(userId: string, identityId: string, patch: { email: string | null; emailVerified: boolean; lastLoginAt: number }): Promise<boolean>;
  /**
   * Deletes the user and, by ON DELETE CASCADE, every row that references it. Audit rows
   * stay; erasing their personal side rows and the user's salt is `audit.eraseUser`.
   */
  delete(userId: string): Promise<boolean>;
}

// ---------------------------------------------------------------- preferences

export interface PreferencesRow {
  userId: string;
  theme: 'light' | 'dark' | 'system';
  /** BCP 47 language tag, canonicalised. */
  language: string;
  /** IANA time zone name. */
  timezone: string;
  updatedAt: number;
}

export interface PreferencesRepository {
  get(userId: string): Promise<PreferencesRow | undefined>;
  /** Insert or replace the user's preferences row; `not_found` when the user does not exist. */
  put(row: PreferencesRow): Promise<void>;
}

// ---------------------------------------------------------------- audit

export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface AuditRow {
  id: string;
  /** `system` or `user:<userId>`. */
  chain: string;
  seq: number;
  prevHash: string;
  hash: string;
  at: number;
  actorUserId: string | null;
  action: string;
  target: string | null;
  outcome: AuditOutcome;
  /** Canonical (RFC 8785) JSON text of the allow-listed metadata. */
  metadata: string;
  /** HMAC-SHA-256 (hex) of the personal side row under the chain owner's salt, or null. */
  personalHmac: string | null;
}

export interface AuditPersonalRow {
  auditId: string;
  ip: string | null;
  userAgent: string | null;
}

export interface AuditHead {
  chain: string;
  lastSeq: number;
  lastHash: string;
}

export interface AuditAppendInput {
  chain: string;
  /** The hash a chain starts from when it has no head yet. */
  genesisHash: string;
  /**
   * Called inside the transaction with the locked head (`{seq: 0, hash: genesisHash}` for
   * a new chain); returns the row to insert, whose `seq` must be `prev.seq + 1` and whose
   * `prevHash` must be `prev.hash`. May be called again if the transaction is retried.
   */
  build(prev: { seq: number; hash: string }): AuditRow;
  personal?: Omit<AuditPersonalRow, 'auditId'>;
}

export interface AuditListQuery {
  /** Only rows of this chain. */
  chain: string;
  actions?: string[];
  /** Inclusive lower and exclusive upper bound on `at`. */
  from?: number;
  to?: number;
  /** Keyset: rows with seq strictly below this (newest first). */
  beforeSeq?: number;
  limit: number;
}

export interface AuditRepository {
  /**
   * Appends one row to a chain and moves the chain's head, atomically: the head is
   * locked (or created), the row built from it, inserted, and the head updated, all in
   * the current transaction (one is opened when not inside one).
   */
  append(input: AuditAppendInput): Promise<AuditRow>;
  /** Rows of one chain, newest first. */
  list(query: AuditListQuery): Promise<AuditRow[]>;
  /** Rows of one chain in seq order from `afterSeq` (exclusive), for verification. */
  readChain(chain: string, afterSeq: number, limit: number): Promise<AuditRow[]>;
  heads(): Promise<AuditHead[]>;
  head(chain: string): Promise<AuditHead | undefined>;
  personal(auditIds: string[]): Promise<AuditPersonalRow[]>;
  /** The chain owner's HMAC salt, created (32 random bytes, hex) on first use. */
  salt(owner: string): Promise<string>;
  /** Whether an owner's salt exists (deleted salts are not re-created by reads). */
  hasSalt(owner: string): Promise<boolean>;
  /**
   * Erases what identifies a person: every audit_personal row of the user's chain and
   * of rows where they are the actor, and the user's salt.
   */
  eraseUser(userId: string): Promise<void>;
}
