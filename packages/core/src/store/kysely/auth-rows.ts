import type { AuthSessionRow, OAuthTokenRow, SigningKeyRow } from '../auth-repositories';

/** BIGINT columns come back as strings from pg and sometimes mysql2. */
export function num(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new TypeError('A BIGINT column holds a value beyond the safe integer range');
  return n;
}

function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

export function toAuthSessionRow(r: Record<string, unknown>): AuthSessionRow {
  return {
    id: r.id as string,
    userId: r.user_id as string,
    refreshHash: r.refresh_hash as string,
    familyId: r.family_id as string,
    parentId: (r.parent_id as string | null) ?? null,
    issuer: (r.issuer as string | null) ?? null,
    createdAt: num(r.created_at),
    expiresAt: num(r.expires_at),
    rotatedAt: numOrNull(r.rotated_at),
    revokedAt: numOrNull(r.revoked_at),
    lastUsedAt: num(r.last_used_at),
    userAgent: (r.user_agent as string | null) ?? null,
    ip: (r.ip as string | null) ?? null,
  };
}

export function fromAuthSessionRow(row: AuthSessionRow): Record<string, unknown> {
  return {
    id: row.id,
    user_id: row.userId,
    refresh_hash: row.refreshHash,
    family_id: row.familyId,
    parent_id: row.parentId,
    issuer: row.issuer,
    created_at: row.createdAt,
    expires_at: row.expiresAt,
    rotated_at: row.rotatedAt,
    revoked_at: row.revokedAt,
    last_used_at: row.lastUsedAt,
    user_agent: row.userAgent,
    ip: row.ip,
  };
}

export function toSigningKeyRow(r: Record<string, unknown>): SigningKeyRow {
  return {
    id: r.id as string,
    alg: r.alg as string,
    publicJwk: (r.public_jwk as string | null) ?? null,
    privateSealed: r.private_sealed as string,
    createdAt: num(r.created_at),
    notBefore: num(r.not_before),
    retiredAt: numOrNull(r.retired_at),
  };
}

export function toOAuthTokenRow(r: Record<string, unknown>): OAuthTokenRow {
  return {
    id: r.id as string,
    userId: r.user_id as string,
    issuer: r.issuer as string,
    accessTokenSealed: (r.access_token_sealed as string | null) ?? null,
    refreshTokenSealed: (r.refresh_token_sealed as string | null) ?? null,
    expiresAt: numOrNull(r.expires_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}
