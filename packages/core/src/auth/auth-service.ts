import type { AuthenticateIntent } from '../http/http-handler';
import type { RateLimiter } from '../http/rate-limit/rate-limiter';
import { NO_REQUEST_META } from '../http/request-meta';
import type { AuthContext, ByokRequest, RequestMeta, SetCookie } from '../http/types';
import type { Store } from '../store/store';
import type { UsersAuditRecorder, UsersService } from '../users/users-service';
import type { Clock } from '../util/clock';
import type { Logger } from '../util/logger';
import type { Sealer } from '../vault/sealer';
import type { AuthCookieNames } from './auth-cookies';
import { resolveAuthSettings, type AuthOptions } from './auth-options';
import { IssuerRegistry } from './issuer-registry';
import { IssuerTokens, type OpenedIssuerTokens } from './issuer-tokens';
import { LoginFlow, type LoginCompletion, type StartLoginOptions } from './login-flow';
import type { LoginMarkerStore } from './login-marker-store';
import { RequestAuthenticator } from './request-authenticator';
import type { SessionRevocationBus } from './session-revocation-bus';
import { SessionManager, type SessionInfo, type SessionTokens } from './session-manager';
import { SigningKeyManager } from './signing-key-manager';
import type { Jwks } from './signing-keys';

/** What {@link AuthService.create} takes; `createByok` supplies it. */
export interface AuthServiceDeps {
  /** The host's `auth` option. */
  options: AuthOptions;
  store: Store;
  users: UsersService;
  audit: UsersAuditRecorder;
  sealer: Pick<Sealer, 'sealSigningKey' | 'openSigningKey' | 'sealOAuthToken' | 'openOAuthToken'>;
  clock: Clock;
  logger: Logger;
  /** Where single-use login states are marked (Redis when instances share one). */
  loginMarkers: LoginMarkerStore;
  /** Counts refreshes per user (the HTTP layer counts them per IP before the user is known). */
  rateLimiter?: Pick<RateLimiter, 'check'>;
  /** Strict mode across instances: revocations clear every instance's session cache. */
  revocationBus?: SessionRevocationBus;
}

/**
 * Sign-in with OpenID Connect issuers, JWT sessions with rotating refresh tokens, signing
 * keys, and `authenticate()` with CSRF enforcement (DESIGN §5). A facade over the
 * {@link RequestAuthenticator}, the {@link LoginFlow}, the {@link SessionManager} and
 * {@link IssuerTokens}. `createByok({ auth })` builds it as `byok.auth`; its HTTP
 * operations are registered on `byok.http`.
 *
 * @example
 * const byok = await createByok({
 *   auth: {
 *     issuers: [google({ clientId: process.env.GOOGLE_CLIENT_ID!, clientSecret: process.env.GOOGLE_CLIENT_SECRET! })],
 *     baseUrl: 'https://api.example',
 *     allowedOrigins: ['https://app.example'],
 *   },
 * });
 * const ctx = await byok.auth.authenticate(request); // { userId, sessionId, via } or null
 */
export class AuthService {
  readonly cookies: AuthCookieNames;
  readonly keys: SigningKeyManager;
  readonly baseUrl: string;
  readonly allowedOrigins: readonly string[];
  readonly #clock: Clock;
  readonly #audit: UsersAuditRecorder;
  readonly #issuers: IssuerRegistry;
  readonly #authenticator: RequestAuthenticator;
  readonly #sessions: SessionManager;
  readonly #login: LoginFlow;
  readonly #issuerTokens: IssuerTokens;

  private constructor(deps: AuthServiceDeps) {
    const settings = resolveAuthSettings(deps.options, deps.logger);
    this.baseUrl = settings.baseUrl;
    this.cookies = settings.cookies;
    this.allowedOrigins = settings.allowedOrigins;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#issuers = new IssuerRegistry({ issuers: settings.issuers, baseUrl: settings.baseUrl, clock: deps.clock });
    this.keys = new SigningKeyManager({
      alg: settings.alg,
      repository: deps.store.signingKeys,
      sealer: deps.sealer,
      clock: deps.clock,
      reloadIntervalMs: settings.keyReloadIntervalMs,
      publishDelayMs: settings.keyPublishDelayMs,
      logger: deps.logger,
    });
    const tokenContext = { issuer: settings.tokenIssuer, audience: settings.tokenAudience, clockToleranceSeconds: settings.clockToleranceSeconds };
    this.#authenticator = new RequestAuthenticator({
      keys: this.keys,
      sessions: deps.store.authSessions,
      cookies: settings.cookies,
      allowedOrigins: settings.allowedOrigins,
      tokenContext,
      verifiedTokenCache: settings.verifiedTokenCache,
      strictCacheMs: settings.strictCacheMs,
      clock: deps.clock,
      revocationBus: deps.revocationBus,
    });
    this.#issuerTokens = new IssuerTokens({
      repository: deps.store.oauthTokens,
      sealer: deps.sealer,
      issuers: this.#issuers,
      clock: deps.clock,
      logger: deps.logger,
      storeTokens: settings.storeIssuerTokens,
    });
    this.#sessions = new SessionManager({
      store: deps.store,
      audit: deps.audit,
      keys: this.keys,
      issuerTokens: this.#issuerTokens,
      clock: deps.clock,
      tokenContext,
      accessTtlSeconds: settings.accessTtlSeconds,
      refreshTtlMs: settings.refreshTtlMs,
      refreshGraceMs: settings.refreshGraceMs,
      rateLimiter: deps.rateLimiter,
      onRevoked: () => this.#authenticator.sessionsRevoked(),
    });
    this.#login = new LoginFlow({
      store: deps.store,
      users: deps.users,
      audit: deps.audit,
      clock: deps.clock,
      issuers: this.#issuers,
      sessions: this.#sessions,
      issuerTokens: this.#issuerTokens,
      loginStates: settings.loginStates,
      loginMarkers: deps.loginMarkers,
      cookies: settings.cookies,
      allowedOrigins: settings.allowedOrigins,
      defaultReturnTo: settings.defaultReturnTo,
      loginTtlMs: settings.loginTtlMs,
      linking: settings.linking,
      authenticate: (request) => this.#authenticator.authenticate(request, { unsafe: false, stream: false }),
    });
  }

  /**
   * Builds the service and loads (or creates) the signing keys.
   *
   * @example
   * const auth = await AuthService.create({ options: { issuers, baseUrl, allowedOrigins }, store, users, audit, sealer, clock, logger, loginMarkers: new MemoryLoginMarkerStore() });
   */
  static async create(options: AuthServiceDeps): Promise<AuthService> {
    const service = new AuthService(options);
    await service.#authenticator.start();
    try {
      await service.keys.ready();
    } catch (error) {
      // e.g. `byok migrate` on a fresh database: the keys load on first use instead.
      options.logger.warn({ err: error }, 'byok auth: signing keys not loaded yet; retrying on first use');
    }
    return service;
  }

  /** The current time on the service's clock (epoch ms). */
  now(): number {
    return this.#clock.now();
  }

  /** The configured issuers' ids. */
  issuerIds(): string[] {
    return this.#issuers.ids();
  }

  /**
   * Identifies the caller from an `Authorization: Bearer` header or the access cookie.
   * Cookie-authenticated unsafe requests and streams must pass the CSRF check (an
   * allow-listed Origin, or `Sec-Fetch-Site: same-origin`). In strict mode the session
   * (`sid`) must still be live (checked with a short cache).
   *
   * @returns null when the request carries no credential
   * @throws ByokError `unauthenticated`, `token_expired` or `csrf_rejected`
   * @example
   * const ctx = await byok.auth.authenticate(request);
   * if (ctx) ctx.userId;
   */
  authenticate(request: ByokRequest, intent?: AuthenticateIntent): Promise<AuthContext | null> {
    return this.#authenticator.authenticate(request, intent);
  }

  /** Refuses a cookie-carried credential on an unsafe request without an allowed Origin. */
  assertCookieCsrf(request: ByokRequest): void {
    this.#authenticator.assertCookieCsrf(request);
  }

  /** Stops listening for other instances' revocations. */
  close(): Promise<void> {
    return this.#authenticator.close();
  }

  /**
   * Starts a sign-in: fresh PKCE, state and nonce, sealed into the login cookie (bound to
   * the issuer and this browser), and the issuer's authorization URL.
   *
   * @throws ByokError `not_found` (unknown issuer), `redirect_not_allowed` (bad returnTo)
   * @example
   * const { url, cookie } = await byok.auth.startLogin('google', { returnTo: '/chat' });
   */
  startLogin(issuerId: string, options: StartLoginOptions = {}, meta: RequestMeta = NO_REQUEST_META): Promise<{ url: string; cookie: SetCookie }> {
    return this.#login.start(issuerId, options, meta);
  }

  /**
   * Finishes a sign-in at the callback: opens the login cookie (single use), lets
   * openid-client validate the response, finds or creates the user by (issuer, subject)
   * — or links the identity when the login was a link request — seals the issuer's
   * tokens and opens a session. Every failure is audited with its reason.
   *
   * @throws ByokError `login_failed` with `details.reason`
   * @example
   * const done = await byok.auth.finishLogin('google', request, meta);
   * done.session?.accessToken; done.returnTo;
   */
  finishLogin(issuerId: string, request: ByokRequest, meta: RequestMeta = NO_REQUEST_META): Promise<LoginCompletion> {
    return this.#login.finish(issuerId, request, meta);
  }

  /**
   * The issuer's tokens kept for a user at sign-in, opened (secrets: use and drop).
   *
   * @example
   * const tokens = await byok.auth.issuerTokens(userId, 'https://accounts.google.com');
   */
  issuerTokens(userId: string, issuer: string): Promise<OpenedIssuerTokens | null> {
    return this.#issuerTokens.open(userId, issuer);
  }

  /**
   * Opens a session for a user the host signed in by other means (tests, host-run
   * sign-in flows). The access token's `sid` is the new session.
   *
   * @example
   * const tokens = await byok.auth.createSession(userId, { ip: '203.0.113.7', userAgent: 'cli/1.0' });
   */
  createSession(userId: string, meta: RequestMeta = NO_REQUEST_META): Promise<SessionTokens> {
    return this.#sessions.create(userId, null, meta);
  }

  /**
   * Exchanges a refresh token for a new access token and a new refresh token (rotation
   * by conditional update). A reused, already-rotated token revokes its whole family,
   * except that its direct successor's parallel tab within the grace gets `refresh_race`.
   *
   * @throws ByokError `unauthenticated`, `refresh_reused` (401), `refresh_race` (409)
   * @example
   * const { refreshToken } = await byok.auth.createSession(userId, meta);
   * const next = await byok.auth.refresh(refreshToken, meta); // the old token is now spent
   */
  refresh(refreshToken: string, meta: RequestMeta = NO_REQUEST_META): Promise<SessionTokens> {
    return this.#sessions.refresh(refreshToken, meta);
  }

  /**
   * Signs out one session family: by its refresh token, or by the access token's session.
   * The issuer's tokens for that sign-in are revoked at the issuer (best effort) and deleted.
   *
   * @example
   * const { refreshToken } = await byok.auth.createSession(userId, meta);
   * await byok.auth.logout({ refreshToken }, meta);
   */
  logout(by: { refreshToken?: string | undefined; auth?: AuthContext | null }, meta: RequestMeta = NO_REQUEST_META): Promise<void> {
    return this.#sessions.logout(by, meta);
  }

  /**
   * "Sign out everywhere": revokes every session of the user and drops the issuers' tokens.
   *
   * @example
   * const { revoked } = await byok.auth.logoutAll(userId, meta);
   */
  logoutAll(userId: string, meta: RequestMeta = NO_REQUEST_META): Promise<{ revoked: number }> {
    return this.#sessions.logoutAll(userId, meta);
  }

  /**
   * The user's signed-in devices (one per session family), most recently used first.
   *
   * @example
   * const ctx = await byok.auth.authenticate(request);
   * if (ctx) await byok.auth.listSessions(ctx.userId, ctx.sessionId);
   */
  listSessions(userId: string, currentSessionId?: string): Promise<SessionInfo[]> {
    return this.#sessions.list(userId, currentSessionId);
  }

  /**
   * Revokes one of the user's sessions (a family id from {@link listSessions}).
   *
   * @throws ByokError `not_found` for an unknown or another user's session
   * @example
   * const [other] = (await byok.auth.listSessions(userId)).filter((s) => !s.current);
   * if (other) await byok.auth.revokeSession(userId, other.id, meta);
   */
  revokeSession(userId: string, familyId: string, meta: RequestMeta = NO_REQUEST_META): Promise<void> {
    return this.#sessions.revoke(userId, familyId, meta);
  }

  /**
   * Deletes session rows that expired more than `graceMs` ago (default 1 day); run it
   * from a scheduled job. Returns how many rows went.
   *
   * @example
   * setInterval(() => void byok.auth?.purgeExpiredSessions(), 3_600_000).unref();
   */
  purgeExpiredSessions(graceMs = 86_400_000): Promise<number> {
    return this.#sessions.purgeExpired(graceMs);
  }

  /**
   * The JWKS document (public members only), or null under HS256.
   *
   * @example
   * const jwks = await byok.auth.jwks(); // { keys: [{ kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' }] }
   */
  async jwks(): Promise<Jwks | null> {
    return (await this.keys.verifyingRing()).publicJwks();
  }

  /**
   * Rotates the access-token signing key (published now, signing after the publish delay).
   *
   * @example
   * const { kid } = await byok.auth.rotateKeys();
   */
  async rotateKeys(options: { publishDelayMs?: number; actorUserId?: string | null } = {}): Promise<{ kid: string; previousKid: string | null; notBefore: number }> {
    const result = await this.keys.rotate(options.publishDelayMs === undefined ? {} : { publishDelayMs: options.publishDelayMs });
    await this.#audit.record({
      actorUserId: options.actorUserId ?? null,
      action: 'auth.keys.rotated',
      target: result.kid,
      outcome: 'success',
      metadata: { kid: result.kid, alg: this.keys.alg, ...(result.previousKid ? { previousKid: result.previousKid } : {}) },
    });
    return result;
  }

  /**
   * Revokes a signing key: its tokens stop verifying (here at once, elsewhere at the next reload).
   *
   * @example
   * const { previousKid } = await byok.auth.rotateKeys();
   * if (previousKid) await byok.auth.revokeKey(previousKid);
   */
  async revokeKey(kid: string, options: { actorUserId?: string | null } = {}): Promise<void> {
    await this.keys.revoke(kid);
    await this.#audit.record({ actorUserId: options.actorUserId ?? null, action: 'auth.keys.revoked', target: kid, outcome: 'success', metadata: { kid } });
  }
}
