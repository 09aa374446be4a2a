import type { LRUCache } from 'lru-cache';
import { ByokError } from '../errors';
import { parseCookieHeader } from '../http/cookies';
import { checkCsrf } from '../http/csrf';
import type { AuthenticateIntent } from '../http/http-handler';
import type { AuthContext, ByokRequest } from '../http/types';
import type { AuthSessionsRepository } from '../store/auth-repositories';
import { boundedCache, DEFAULT_MAX_ENTRIES, wholeMs } from '../util/bounded-cache';
import type { Clock } from '../util/clock';
import type { AuthCookieNames } from './auth-cookies';
import type { SessionRevocationBus } from './session-revocation-bus';
import type { SigningKeyManager } from './signing-key-manager';
import { authenticateAccessToken, type AccessTokenClaims } from './tokens';

/** What a {@link RequestAuthenticator} is built from. */
export interface RequestAuthenticatorOptions {
  keys: SigningKeyManager;
  sessions: Pick<AuthSessionsRepository, 'findById'>;
  cookies: AuthCookieNames;
  allowedOrigins: readonly string[];
  tokenContext: { issuer: string; audience: string; clockToleranceSeconds: number };
  /** How many verified tokens to remember (0: none). */
  verifiedTokenCache: number;
  /** Strict mode's session-check cache lifetime; null outside strict mode. */
  strictCacheMs: number | null;
  clock: Clock;
  /** Strict mode across instances: revocations clear every instance's session cache. */
  revocationBus?: SessionRevocationBus | undefined;
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)$/iu;

/**
 * Identifies the caller of a request from its access token, with the two caches that make
 * that cheap: tokens already verified (skip the signature), and in strict mode the
 * recent "this session is live" answers (skip the database), which every revocation
 * drops here and, through the bus, on the other instances.
 *
 * @example
 * const authenticator = new RequestAuthenticator({ keys, sessions: store.authSessions, cookies, allowedOrigins, tokenContext, verifiedTokenCache: 10_000, strictCacheMs: null, clock });
 * const ctx = await authenticator.authenticate(request);
 */
export class RequestAuthenticator {
  readonly #options: RequestAuthenticatorOptions;
  readonly #verifiedTokens: LRUCache<string, { claims: AccessTokenClaims; kid: string }> | null;
  readonly #liveSessions: LRUCache<string, { ok: boolean }> | null;
  /** Bumped by every revocation; a session lookup that overlapped one is not cached. */
  #revocations = 0;

  constructor(options: RequestAuthenticatorOptions) {
    this.#options = options;
    this.#verifiedTokens = options.verifiedTokenCache > 0 ? boundedCache({ max: options.verifiedTokenCache, clock: options.clock }) : null;
    this.#liveSessions =
      options.strictCacheMs !== null && options.strictCacheMs > 0
        ? boundedCache({ max: DEFAULT_MAX_ENTRIES, ttlMs: options.strictCacheMs, clock: options.clock })
        : null;
  }

  /** Starts listening for other instances' revocations (strict mode with a bus). */
  async start(): Promise<void> {
    if (this.#options.revocationBus && this.#options.strictCacheMs !== null) {
      await this.#options.revocationBus.subscribe(() => this.#liveSessions?.clear());
    }
  }

  /**
   * Identifies the caller from an `Authorization: Bearer` header or the access cookie.
   * Cookie-authenticated unsafe requests and streams must pass the CSRF check.
   *
   * @returns null when the request carries no credential
   * @throws ByokError `unauthenticated`, `token_expired` or `csrf_rejected`
   */
  async authenticate(request: ByokRequest, intent?: AuthenticateIntent): Promise<AuthContext | null> {
    const header = request.headers.authorization;
    let token: string | undefined;
    let via: 'bearer' | 'cookie';
    if (header !== undefined && header !== '') {
      const match = BEARER.exec(header);
      if (!match) throw new ByokError('unauthenticated', 'The Authorization header must be "Bearer <token>"');
      token = match[1];
      via = 'bearer';
    } else {
      token = (request.cookies ?? parseCookieHeader(request.headers.cookie))[this.#options.cookies.access];
      if (!token) return null;
      via = 'cookie';
      const unsafe = intent ? intent.unsafe : !['GET', 'HEAD', 'OPTIONS'].includes(request.method.toUpperCase());
      checkCsrf(
        { method: unsafe ? 'POST' : 'GET', headers: request.headers, authenticatedBy: 'cookie', isStream: intent?.stream === true },
        this.#options.allowedOrigins,
      );
    }
    const claims = await this.#verified(token!);
    if (this.#options.strictCacheMs !== null) await this.#checkSession(claims.sid, claims.sub);
    return { userId: claims.sub, sessionId: claims.sid, via };
  }

  /** Refuses a cookie-carried credential on an unsafe request without an allowed Origin. */
  assertCookieCsrf(request: ByokRequest): void {
    checkCsrf({ method: request.method, headers: request.headers, authenticatedBy: 'cookie' }, this.#options.allowedOrigins);
  }

  /** Sessions were revoked here: drop this instance's session cache and tell the others. */
  sessionsRevoked(): void {
    this.#revocations++;
    this.#liveSessions?.clear();
    if (this.#options.strictCacheMs !== null) void this.#options.revocationBus?.publish();
  }

  /** Stops listening for other instances' revocations. */
  async close(): Promise<void> {
    await this.#options.revocationBus?.close();
  }

  /**
   * Verifies an access token, remembering tokens already verified: a client sends the
   * same token with every request for its few minutes of life, so a repeat costs a map
   * lookup instead of a signature verification. The key is the whole token (signature
   * included), so nothing unverified can hit; an entry lives no longer than its token
   * and is used only while its signing key is still in the ring.
   */
  async #verified(token: string): Promise<AccessTokenClaims> {
    const { keys, tokenContext, clock } = this.#options;
    const ring = keys.reloadDue() ? await keys.verifyingRing() : keys.ring;
    const hit = this.#verifiedTokens?.get(token);
    if (hit) {
      if (ring.get(hit.kid) !== undefined) return hit.claims;
      this.#verifiedTokens!.delete(token);
    }
    const claims = await authenticateAccessToken(ring, token, { ...tokenContext, clock });
    const kid = tokenKid(token);
    if (kid !== undefined && this.#verifiedTokens) {
      const lifetimeMs = (claims.exp + tokenContext.clockToleranceSeconds) * 1000 - clock.now();
      if (lifetimeMs > 0) this.#verifiedTokens.set(token, { claims, kid }, { ttl: wholeMs(lifetimeMs) });
    }
    return claims;
  }

  async #checkSession(sid: string, userId: string): Promise<void> {
    let ok = this.#liveSessions?.get(sid)?.ok;
    if (ok === undefined) {
      const generation = this.#revocations;
      const row = await this.#options.sessions.findById(sid);
      ok = row !== undefined && row.userId === userId && row.revokedAt === null && row.expiresAt > this.#options.clock.now();
      if (generation === this.#revocations) this.#liveSessions?.set(sid, { ok });
    }
    if (!ok) throw new ByokError('unauthenticated', 'This session has been signed out');
  }
}

/** The `kid` of a JWT's protected header (already verified when this is called). */
function tokenKid(token: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}
