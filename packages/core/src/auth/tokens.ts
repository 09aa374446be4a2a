import { randomUUID } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import { ByokError } from '../errors';
import { systemClock } from '../util/clock';
import type { Clock } from '../util/clock';
import type { KeyRing } from './signing-keys';

/** The JOSE `typ` of byok access tokens (RFC 9068), so an ID token cannot pass as one. */
export const ACCESS_TOKEN_TYP = 'at+jwt';
/** Default access token lifetime: 5 minutes, the revocation window outside strict mode. */
export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 300;
/** Default leeway for `exp`/`iat`/`nbf` between instances' clocks. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 5;

/** Claims of a verified byok access token. */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  /** The auth session (refresh family member) the token was minted for. */
  sid: string;
  iat: number;
  exp: number;
  jti: string;
}

/** Where tokens come from and go to; shared by issue and verify. */
export interface AccessTokenContext {
  issuer: string;
  audience: string;
  clock?: Clock;
}

/** Input of {@link issueAccessToken}. */
export interface IssueAccessTokenInput {
  /** The byok user id. */
  sub: string;
  /** The auth session id. */
  sid: string;
  /** Lifetime in seconds (default 300). */
  ttlSeconds?: number;
  /** Extra non-registered claims (they cannot override the registered ones). */
  claims?: Record<string, unknown>;
}

/** A freshly signed access token. */
export interface IssuedAccessToken {
  token: string;
  kid: string;
  /** Expiry, epoch ms. */
  expiresAt: number;
}

/**
 * The outcome of {@link verifyAccessToken}. `unknown_kid` is a signal, not a verdict:
 * another instance may have rotated, so reload the key ring (rate-limited) and retry.
 */
export type AccessTokenVerification =
  | { ok: true; claims: AccessTokenClaims; kid: string }
  | { ok: false; reason: 'unknown_kid'; kid: string }
  | { ok: false; reason: 'expired' | 'invalid' };

const REGISTERED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sid']);

/**
 * Signs an access JWT with the ring's current key: header `{ alg, kid, typ: 'at+jwt' }`,
 * claims `iss, sub, aud, sid, iat, exp, jti`.
 *
 * @example
 * const { token } = await issueAccessToken(ring, { sub: user.id, sid: session.id }, {
 *   issuer: 'https://api.example', audience: 'https://api.example',
 * });
 */
export async function issueAccessToken(
  ring: KeyRing,
  input: IssueAccessTokenInput,
  context: AccessTokenContext,
): Promise<IssuedAccessToken> {
  if (!input.sub || !input.sid) throw new ByokError('internal', 'An access token needs sub and sid');
  const ttl = input.ttlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new ByokError('config_invalid', 'Access token TTL must be a positive integer');
  const key = ring.current();
  const iat = Math.floor((context.clock ?? systemClock).now() / 1000);
  const extra = Object.fromEntries(Object.entries(input.claims ?? {}).filter(([name]) => !REGISTERED.has(name)));
  const token = await new SignJWT({ ...extra, sid: input.sid })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYP })
    .setIssuer(context.issuer)
    .setSubject(input.sub)
    .setAudience(context.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .setJti(randomUUID())
    .sign(key.signKey);
  return { token, kid: key.kid, expiresAt: (iat + ttl) * 1000 };
}

/**
 * Verifies an access JWT. The algorithm is pinned to the ring's (so `alg: none`,
 * HS256-with-a-public-key and EdDSA/ES256 swaps fail), and `typ`, issuer, audience,
 * expiry (with a small tolerance) and the presence of `sub`, `sid`, `jti` are checked.
 *
 * @example
 * const result = await verifyAccessToken(ring, token, { issuer, audience });
 * if (!result.ok && result.reason === 'unknown_kid') await ring.reload();
 */
export async function verifyAccessToken(
  ring: KeyRing,
  token: string,
  context: AccessTokenContext & { clockToleranceSeconds?: number },
): Promise<AccessTokenVerification> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  if (header.alg !== ring.alg || header.typ !== ACCESS_TOKEN_TYP || typeof header.kid !== 'string' || header.kid === '') {
    return { ok: false, reason: 'invalid' };
  }
  const key = ring.get(header.kid);
  if (!key) return { ok: false, reason: 'unknown_kid', kid: header.kid };
  try {
    const { payload } = await jwtVerify(token, key.verifyKey, {
      algorithms: [ring.alg],
      issuer: context.issuer,
      audience: context.audience,
      typ: ACCESS_TOKEN_TYP,
      currentDate: new Date((context.clock ?? systemClock).now()),
      clockTolerance: context.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['iss', 'sub', 'aud', 'iat', 'exp', 'jti', 'sid'],
    });
    if (typeof payload.sid !== 'string' || payload.sid === '' || payload.sub === '') {
      return { ok: false, reason: 'invalid' };
    }
    return { ok: true, claims: payload as AccessTokenClaims, kid: key.kid };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired' };
    return { ok: false, reason: 'invalid' };
  }
}

/**
 * {@link verifyAccessToken} for request handling: on an unknown `kid` it asks the ring
 * to reload (rate-limited) and tries once more; failures become ByokErrors.
 *
 * @throws ByokError `token_expired` or `unauthenticated`
 * @example
 * const claims = await authenticateAccessToken(ring, bearer, { issuer, audience });
 * claims.sub; claims.sid;
 */
export async function authenticateAccessToken(
  ring: KeyRing,
  token: string,
  context: AccessTokenContext & { clockToleranceSeconds?: number },
): Promise<AccessTokenClaims> {
  let result = await verifyAccessToken(ring, token, context);
  if (!result.ok && result.reason === 'unknown_kid') {
    await ring.reload();
    result = await verifyAccessToken(ring, token, context);
  }
  if (result.ok) return result.claims;
  if (result.reason === 'expired') throw new ByokError('token_expired', 'Access token expired');
  throw new ByokError('unauthenticated', 'Access token is not valid');
}
