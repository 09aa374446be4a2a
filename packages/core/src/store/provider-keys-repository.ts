/** A user's sealed model API key for one provider. */
export interface ProviderKeyRow {
  id: string;
  userId: string;
  provider: string;
  /** The sealed envelope, base64url (the exact bytes the vault produced). */
  sealed: string;
  /** `driver:keyId:version` of the KEK that wraps the data key; kept in step with `sealed`. */
  kek: string;
  last4: string;
  fingerprint: string;
  status: 'valid' | 'invalid' | 'unverified';
  statusReason: string | null;
  validatedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** The columns a key lookup for use reads (`keyVault.withKey`): which row, whose, its status and the sealed value. */
export type ProviderKeyForUse = Pick<ProviderKeyRow, 'id' | 'userId' | 'provider' | 'status' | 'sealed'>;

/** A sealed value in any table, as the rewrap job sees it. */
export interface SealedRecord {
  id: string;
  /** The owning user; `''` for system secrets (signing keys). */
  userId: string;
  /** The third context field: the provider (provider keys); `''` where there is none. */
  scope: string;
  sealed: string;
  /** The stored KEK label where the table keeps one (provider keys); otherwise `''`. */
  kek: string;
}

/**
 * Every column holding a sealed value. Provider keys keep a `kek` label per row (the
 * table is large); the auth tables are small and are scanned, their KEK read from each
 * value's header.
 */
export type SealedTable = 'provider_keys' | 'signing_keys' | 'oauth_access_tokens' | 'oauth_refresh_tokens' | 'chat_content_keys';

/** The tables whose rows carry a `kek` label (the others report `kek: ''`). */
export const LABELLED_SEALED_TABLES: readonly SealedTable[] = ['provider_keys'];

export interface ProviderKeysRepository {
  get(userId: string, provider: string): Promise<ProviderKeyRow | undefined>;
  /**
   * The user's key for `provider`, only the columns `withKey` needs (it runs on every chat
   * turn). Optional: a store without it is read through `get`.
   */
  getForUse?(userId: string, provider: string): Promise<ProviderKeyForUse | undefined>;
  list(userId: string): Promise<ProviderKeyRow[]>;
  /** Replaces the user's key for `row.provider` (one per user and provider); returns the id it replaced. */
  replace(row: ProviderKeyRow): Promise<string | null>;
  /** Records a validation result on the row with this id, if it still is the user's current key. */
  setStatus(userId: string, id: string, patch: Pick<ProviderKeyRow, 'status' | 'statusReason' | 'validatedAt' | 'updatedAt'>): Promise<boolean>;
  /** Deletes the user's key for `provider`; returns the deleted row's id. */
  delete(userId: string, provider: string): Promise<string | null>;
}

/** What `byok kms rewrap` and `byok kms status` need, across every sealed table. */
export interface SealedRecordsRepository {
  /**
   * Records of `table` with id greater than `afterId`, in id order; for labelled tables
   * only those whose KEK is not `excludeKek`. Because rewrapped rows drop out of that set,
   * a killed rewrap resumes by simply running again. Null sealed columns are skipped.
   */
  page(table: SealedTable, query: { excludeKek: string; afterId: string; limit: number }): Promise<SealedRecord[]>;
  /** Replaces `sealed` only if it is still `expected` (a concurrent set/remove wins). */
  compareAndSet(table: SealedTable, id: string, expected: string, next: { sealed: string; kek: string }): Promise<boolean>;
  /** How many records of each labelled table use each KEK. */
  countByKek(): Promise<Array<{ table: SealedTable; kek: string; count: number }>>;
}
