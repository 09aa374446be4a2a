import { ByokError } from '../errors';
import type { RateLimiter } from '../http/rate-limit/rate-limiter';
import { MAX_USER_AGENT_LENGTH, NO_REQUEST_META } from '../http/request-meta';
import type { AuthContext, RequestMeta } from '../http/types';
import type { AuthSessionRow } from '../store/auth-repositories';
import type { Store } from '../store/store';
import type { UsersAuditRecorder } from '../users/users-service';
import type { Clock } from '../util/clock';
import { uuidv7 } from '../util/ids';
import { describeDevice } from './device-label';
import type { IssuerTokens } from './issuer-tokens';
import { hashRefreshSecret, newRefreshToken, parseRefreshToken, refreshSecretMatches } from './refresh-token';
import type { SigningKeyManager } from './signing-key-manager';
import { issueAccessToken } from './tokens';

/** A signed-in session's tokens. The refresh token is a secret: a cookie or the client's secure storage. */
export interface SessionTokens {
  accessToken: string;
  /** Epoch ms. */
  accessTokenExpiresAt: number;
  refreshToken: string;
  refreshTokenExpiresAt: number;
  /** The new refresh token's row (the access token's `sid`). */
  sessionId: string;
  familyId: string;
  userId: string;
}

/** One signed-in device, as `listSessions` shows it. */
export interface SessionInfo {
  /** The family id: stable across refreshes; pass it to `revokeSession`. */
  id: string;
  current: boolean;
  device: string;
  userAgent: string | null;
  ip: string | null;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
}

/** What a {@link SessionManager} is built from. */
export interface SessionManagerOptions {
  store: Store;
  audit: UsersAuditRecorder;
  keys: SigningKeyManager;
  issuerTokens: IssuerTokens;
  clock: Clock;
  tokenContext: { issuer: string; audience: string; clockToleranceSeconds: number };
  accessTtlSeconds: number;
  refreshTtlMs: number;
  refreshGraceMs: number;
  /** Counts refreshes per user (the HTTP layer counts them per IP before the user is known). */
  rateLimiter?: Pick<RateLimiter, 'check'> | undefined;
  /** Told after every committed revocation (drops the strict-mode caches). */
  onRevoked: () => void;
}

/** The longest IP text kept on a session row (an IPv6 address with a zone fits). */
const MAX_IP = 64;

/**
 * Refresh-token sessions: creation, rotation with reuse detection, sign-out (one family,
 * every family, one device) and the device list. Every revocation commits together with
 * its audit row, so the trail never misses a sign-out and never records one that failed.
 *
 * @example
 * const sessions = new SessionManager({ store, audit, keys, issuerTokens, clock, tokenContext, accessTtlSeconds: 300, refreshTtlMs, refreshGraceMs, onRevoked });
 * const tokens = await sessions.create(userId, null, meta);
 */
export class SessionManager {
  readonly #options: SessionManagerOptions;

  constructor(options: SessionManagerOptions) {
    this.#options = options;
  }

  /** Opens a new session family for `userId` (signed in through `issuer`, or by the host when null). */
  async create(userId: string, issuer: string | null, meta: RequestMeta = NO_REQUEST_META): Promise<SessionTokens> {
    const now = this.#options.clock.now();
    const id = uuidv7(now);
    const { token, secret } = newRefreshToken(id);
    const row: AuthSessionRow = {
      id,
      userId,
      refreshHash: hashRefreshSecret(secret),
      familyId: id,
      parentId: null,
      issuer,
      createdAt: now,
      expiresAt: now + this.#options.refreshTtlMs,
      rotatedAt: null,
      revokedAt: null,
      lastUsedAt: now,
      userAgent: clipUserAgent(meta.userAgent),
      ip: clipIp(meta.ip),
    };
    await this.#options.store.authSessions.insert(row);
    return this.#tokensFor(row, token);
  }

  /**
   * Exchanges a refresh token for new tokens (rotation by conditional update). A reused,
   * already-rotated token revokes its whole family, except that its direct successor's
   * parallel tab within the grace gets `refresh_race`.
   *
   * @throws ByokError `unauthenticated`, `refresh_reused` (401), `refresh_race` (409)
   */
  async refresh(refreshToken: string, meta: RequestMeta = NO_REQUEST_META): Promise<SessionTokens> {
    const { store, audit, clock } = this.#options;
    const row = await this.#findByToken(refreshToken);
    await this.#options.rateLimiter?.check('refresh', { userId: row.userId });
    const now = clock.now();
    if (row.revokedAt !== null) throw new ByokError('unauthenticated', 'This session has been signed out');
    if (row.rotatedAt !== null) return this.#reused(row, now, meta);
    if (row.expiresAt <= now) throw new ByokError('unauthenticated', 'This session has expired; sign in again');
    const id = uuidv7(now);
    const { token, secret } = newRefreshToken(id);
    const next: AuthSessionRow = {
      ...row,
      id,
      refreshHash: hashRefreshSecret(secret),
      parentId: row.id,
      createdAt: now,
      expiresAt: now + this.#options.refreshTtlMs,
      rotatedAt: null,
      revokedAt: null,
      lastUsedAt: now,
      userAgent: clipUserAgent(meta.userAgent) ?? row.userAgent,
      ip: clipIp(meta.ip) ?? row.ip,
    };
    // Sign first, then rotate and audit in one transaction: once the rotation commits,
    // nothing can fail before the client gets its new tokens (a lost response would make
    // its retry look like reuse and sign the family out).
    const tokens = await this.#tokensFor(next, token);
    const rotated = await store.transaction(async (tx) => {
      const result = await tx.authSessions.rotate(row.id, row.refreshHash, next, now);
      if (result.ok) {
        await audit.record(
          { actorUserId: row.userId, action: 'auth.refresh', target: row.familyId, outcome: 'success', metadata: { sessionId: next.id, familyId: row.familyId }, ...meta },
          tx,
        );
      }
      return result;
    });
    if (!rotated.ok) {
      const again = await store.authSessions.findById(row.id);
      if (again && again.revokedAt === null && again.rotatedAt !== null) return this.#reused(again, now, meta);
      throw new ByokError('unauthenticated', 'This session has been signed out');
    }
    return tokens;
  }

  /**
   * Signs out one session family: by its refresh token, or by the access token's session.
   * The issuer's tokens for that sign-in are then revoked at the issuer and deleted.
   */
  async logout(by: { refreshToken?: string | undefined; auth?: AuthContext | null }, meta: RequestMeta = NO_REQUEST_META): Promise<void> {
    let row: AuthSessionRow | undefined;
    if (by.refreshToken) {
      try {
        row = await this.#findByToken(by.refreshToken);
      } catch (error) {
        if (!by.auth) throw error;
      }
    }
    if (!row && by.auth?.sessionId) {
      const found = await this.#options.store.authSessions.findById(by.auth.sessionId);
      if (found && found.userId === by.auth.userId) row = found;
    }
    if (!row) return;
    const session = row;
    await this.#revoke(async (tx) => {
      const revoked = await tx.authSessions.revokeFamily(session.userId, session.familyId, this.#options.clock.now());
      return {
        actorUserId: session.userId,
        action: 'auth.logout',
        target: session.familyId,
        metadata: { sessionId: session.id, familyId: session.familyId, revoked },
      };
    }, meta);
    // The issuer is called only after the sign-out has committed (a network call never runs inside a transaction).
    if (session.issuer) await this.#options.issuerTokens.drop(session.userId, session.issuer);
  }

  /** "Sign out everywhere": revokes every session of the user, then drops the issuers' tokens. */
  async logoutAll(userId: string, meta: RequestMeta = NO_REQUEST_META): Promise<{ revoked: number }> {
    let revoked = 0;
    await this.#revoke(async (tx) => {
      revoked = await tx.authSessions.revokeAllForUser(userId, this.#options.clock.now());
      return { actorUserId: userId, action: 'auth.logout_all', target: userId, metadata: { revoked } };
    }, meta);
    await this.#options.issuerTokens.dropAll(userId);
    return { revoked };
  }

  /**
   * Revokes one of the user's session families (an id from {@link list}).
   *
   * @throws ByokError `not_found` for an unknown or another user's session
   */
  async revoke(userId: string, familyId: string, meta: RequestMeta = NO_REQUEST_META): Promise<void> {
    await this.#revoke(async (tx) => {
      const revoked = await tx.authSessions.revokeFamily(userId, familyId, this.#options.clock.now());
      if (revoked === 0) throw new ByokError('not_found', 'No such session');
      return { actorUserId: userId, action: 'auth.session.revoked', target: familyId, metadata: { familyId } };
    }, meta);
  }

  /** The user's signed-in devices (one per session family), most recently used first. */
  async list(userId: string, currentSessionId?: string): Promise<SessionInfo[]> {
    const { store, clock } = this.#options;
    let currentFamily: string | null = null;
    if (currentSessionId) {
      const row = await store.authSessions.findById(currentSessionId);
      if (row && row.userId === userId) currentFamily = row.familyId;
    }
    const rows = await store.authSessions.listActive(userId, clock.now());
    return rows.map((row) => ({
      id: row.familyId,
      current: row.familyId === currentFamily,
      device: describeDevice(row.userAgent),
      userAgent: row.userAgent,
      ip: row.ip,
      createdAt: row.createdAt,
      lastUsedAt: row.lastUsedAt,
      expiresAt: row.expiresAt,
    }));
  }

  /** Deletes session rows that expired more than `graceMs` ago; returns how many went. */
  purgeExpired(graceMs: number): Promise<number> {
    return this.#options.store.authSessions.deleteExpired(this.#options.clock.now() - graceMs);
  }

  /**
   * Runs a revocation and appends its audit row in one transaction (an audit failure
   * rolls the revocation back), then drops the strict-mode caches.
   */
  async #revoke(
    revoke: (tx: Store) => Promise<{ actorUserId: string; action: string; target: string; metadata: Record<string, unknown> }>,
    meta: RequestMeta,
    outcome: 'success' | 'denied' = 'success',
  ): Promise<void> {
    await this.#options.store.transaction(async (tx) => {
      const entry = await revoke(tx);
      await this.#options.audit.record({ ...entry, outcome, ...meta }, tx);
    });
    this.#options.onRevoked();
  }

  async #reused(row: AuthSessionRow, now: number, meta: RequestMeta): Promise<never> {
    const head = await this.#options.store.authSessions.familyHead(row.userId, row.familyId);
    if (head && head.parentId === row.id && row.rotatedAt !== null && now - row.rotatedAt <= this.#options.refreshGraceMs) {
      throw new ByokError('refresh_race', 'This refresh token was just used by a parallel request; use the newest one', {
        details: { retryAfterMs: 0 },
      });
    }
    await this.#revoke(
      async (tx) => {
        const revoked = await tx.authSessions.revokeFamily(row.userId, row.familyId, now);
        return { actorUserId: row.userId, action: 'auth.refresh.reused', target: row.familyId, metadata: { sessionId: row.id, familyId: row.familyId, revoked } };
      },
      meta,
      'denied',
    );
    throw new ByokError('refresh_reused', 'This refresh token was already used; the session has been signed out');
  }

  async #findByToken(refreshToken: string): Promise<AuthSessionRow> {
    const parts = parseRefreshToken(refreshToken);
    const row = await this.#options.store.authSessions.findById(parts.id);
    // Compare against a real-looking hash even when the row is missing, so timing says nothing.
    const matches = refreshSecretMatches(parts.secret, row?.refreshHash ?? '0'.repeat(64));
    if (!row || !matches) throw new ByokError('unauthenticated', 'Refresh token is not valid');
    return row;
  }

  async #tokensFor(row: AuthSessionRow, refreshToken: string): Promise<SessionTokens> {
    const ring = await this.#options.keys.signingRing();
    const access = await issueAccessToken(
      ring,
      { sub: row.userId, sid: row.id, ttlSeconds: this.#options.accessTtlSeconds },
      { ...this.#options.tokenContext, clock: this.#options.clock },
    );
    return {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken,
      refreshTokenExpiresAt: row.expiresAt,
      sessionId: row.id,
      familyId: row.familyId,
      userId: row.userId,
    };
  }
}

function clipUserAgent(userAgent: string | null): string | null {
  return userAgent?.slice(0, MAX_USER_AGENT_LENGTH) ?? null;
}

function clipIp(ip: string | null): string | null {
  return ip?.slice(0, MAX_IP) ?? null;
}
