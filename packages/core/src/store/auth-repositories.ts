/**
 * The auth capability's persistence contract (DESIGN §3, §5): refresh-token sessions,
 * sealed signing keys and the issuers' sealed OAuth tokens. Implemented by the Kysely
 * store (`store/kysely/auth-*-repository.ts`) and the in-memory store
 * (`store/memory/auth-*-repository.ts`); `storeConformance()` checks both.
 */

/** One refresh token of a session family: `auth_sessions`. */
export interface AuthSessionRow {
  /** Also the id part of the refresh token `byok_rt_<id>.<secret>`. */
  id: string;
  userId: string;
  /** SHA-256 (hex) of the refresh token's secret; the secret itself is never stored. */
  refreshHash: string;
  /** The first session of the chain of rotations; revoking a family revokes every member. */
  familyId: string;
  /** The session this one replaced at refresh; null for a sign-in. */
  parentId: string | null;
  /** The issuer the family signed in with (its `iss`), for "sign out of the issuer". */
  issuer: string | null;
  createdAt: number;
  expiresAt: number;
  /** When this token was exchanged for its successor; a rotated token may not refresh again. */
  rotatedAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number;
  userAgent: string | null;
  ip: string | null;
}

/** The result of {@link AuthSessionsRepository.rotate}. */
export type AuthSessionRotation =
  | { ok: true }
  /** The row was already rotated, revoked, or its hash did not match: nothing was written. */
  | { ok: false };

export interface AuthSessionsRepository {
  insert(row: AuthSessionRow): Promise<void>;
  /**
   * A session by id, for refresh (the token names its row; the caller then compares the
   * secret's hash in constant time) and for strict-mode `sid` checks.
   */
  findById(id: string): Promise<AuthSessionRow | undefined>;
  /**
   * Refresh: atomically marks `id` rotated — `UPDATE … WHERE id = ? AND refresh_hash = ?
   * AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > now` — and inserts `next`
   * only if that update hit one row. Two concurrent calls with the same token: one wins.
   */
  rotate(id: string, refreshHash: string, next: AuthSessionRow, now: number): Promise<AuthSessionRotation>;
  /** The family's current member (not rotated, not revoked), if any. */
  familyHead(userId: string, familyId: string): Promise<AuthSessionRow | undefined>;
  /** Revokes every still-live member of the user's family; returns how many rows changed. */
  revokeFamily(userId: string, familyId: string, now: number): Promise<number>;
  /** Revokes every live session of the user ("sign out everywhere"); returns how many. */
  revokeAllForUser(userId: string, now: number): Promise<number>;
  /** The user's signed-in devices: family heads neither revoked nor expired, newest use first. */
  listActive(userId: string, now: number): Promise<AuthSessionRow[]>;
  /** Deletes rows that expired before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>;
}

/** One access-token signing key: `signing_keys`. */
export interface SigningKeyRow {
  /** The JWT `kid`. */
  id: string;
  alg: string;
  /** The public JWK as JSON text; null under HS256. */
  publicJwk: string | null;
  /** The private JWK sealed by the vault (purpose `signing_key`), base64url. */
  privateSealed: string;
  createdAt: number;
  notBefore: number;
  retiredAt: number | null;
}

export interface SigningKeysRepository {
  list(): Promise<SigningKeyRow[]>;
  insert(row: SigningKeyRow): Promise<void>;
  /** Stops signing with a key at `at` (it keeps verifying); false when no such key. */
  retire(id: string, at: number): Promise<boolean>;
  /** Removes a key: tokens signed with it stop verifying. */
  delete(id: string): Promise<boolean>;
}

/** An issuer's tokens for one user, sealed by the vault: `oauth_tokens`. */
export interface OAuthTokenRow {
  /** The record id bound into both seals (with token kinds `access` and `refresh`). */
  id: string;
  userId: string;
  issuer: string;
  accessTokenSealed: string | null;
  refreshTokenSealed: string | null;
  expiresAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface OAuthTokensRepository {
  /** Replaces the user's tokens for `row.issuer` (one row per user and issuer). */
  put(row: OAuthTokenRow): Promise<void>;
  get(userId: string, issuer: string): Promise<OAuthTokenRow | undefined>;
  /** Deletes the user's tokens of one issuer; true when a row went. */
  delete(userId: string, issuer: string): Promise<boolean>;
  /** Deletes all of the user's issuer tokens; returns how many rows. */
  deleteAll(userId: string): Promise<number>;
}

/** The three auth repositories together, as a Store exposes them. */
export interface AuthRepositories {
  readonly authSessions: AuthSessionsRepository;
  readonly signingKeys: SigningKeysRepository;
  readonly oauthTokens: OAuthTokensRepository;
}
