import { createHash, randomBytes } from 'node:crypto';
import { ByokError } from '../errors';
import { constantTimeEqual } from '../util/constant-time';
import { isUuid } from '../util/ids';

/** Every refresh token starts with this, so secret scanners can recognise a leaked one. */
export const REFRESH_TOKEN_PREFIX = 'byok_rt_';

const TOKEN_RE = /^byok_rt_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/u;
const HASH_RE = /^[0-9a-f]{64}$/u;

/** A refresh token split into its row id and its secret. */
export interface RefreshTokenParts {
  /** The `auth_sessions.id` row. */
  id: string;
  /** 256 random bits, base64url (43 characters). Only its SHA-256 is stored. */
  secret: string;
}

/**
 * A new refresh token for the auth session row `id`:
 * `byok_rt_<id>.<43-char base64url 256-bit secret>`. Store only {@link hashRefreshSecret}
 * of the secret.
 *
 * @example
 * const { token, secret } = newRefreshToken(uuidv7());
 * await store.sessions.insert({ id, refresh_hash: hashRefreshSecret(secret), ... });
 */
export function newRefreshToken(id: string): RefreshTokenParts & { token: string } {
  if (!isUuid(id)) throw new ByokError('internal', 'Refresh token id must be a UUID');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `${REFRESH_TOKEN_PREFIX}${id}.${secret}` };
}

/**
 * Parses a refresh token with strict validation: prefix, lower-case UUID id, and a
 * canonical 43-character base64url encoding of exactly 32 bytes.
 *
 * @throws ByokError `unauthenticated` (the message never contains the token)
 * @example
 * const { id, secret } = parseRefreshToken(cookieValue);
 */
export function parseRefreshToken(token: unknown): RefreshTokenParts {
  const match = typeof token === 'string' && token.length === 88 ? TOKEN_RE.exec(token) : null;
  const id = match?.[1];
  const secret = match?.[2];
  // Canonical form only: a different last character can decode to the same 32 bytes.
  if (id === undefined || secret === undefined || Buffer.from(secret, 'base64url').toString('base64url') !== secret) {
    throw new ByokError('unauthenticated', 'Refresh token is malformed');
  }
  return { id, secret };
}

/**
 * SHA-256 of a refresh secret, hex: the only form of it byok stores.
 *
 * @example
 * hashRefreshSecret(secret); // 64 hex characters
 */
export function hashRefreshSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * Compares a presented secret with a stored hash in constant time.
 *
 * @example
 * if (!refreshSecretMatches(parts.secret, row.refresh_hash)) throw new ByokError('unauthenticated', '…');
 */
export function refreshSecretMatches(secret: string, storedHash: string): boolean {
  if (!HASH_RE.test(storedHash)) return false;
  return constantTimeEqual(hashRefreshSecret(secret), storedHash);
}
