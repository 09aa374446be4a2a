import { createHash, timingSafeEqual } from 'node:crypto';
import type { SessionRevocationBus } from './session-revocation-bus';
import { ByokError, isByokError } from '../errors';
import { parseCookieHeader } from '../http/cookies';
import { checkCsrf } from '../http/csrf';
import type { AuthenticateIntent } from '../http/http-handler';
import type { RateLimitStore } from '../http/rate-limit/rate-limit-store';
import type { RateLimiter } from '../http/rate-limit/rate-limiter';
import type { AuthContext, ByokRequest, RequestMeta, SetCookie } from '../http/types';
import type { AuthRepositories, AuthSessionRow } from '../store/auth-repositories';
import type { Store } from '../store/store';
import type { UsersAuditRecorder, UsersService } from '../users/users-service';
import type { Clock } from '../util/clock';
import { uuidv7 } from '../util/ids';
import type { Logger } from '../util/logger';
import type { Sealer } from '../vault/sealer';
import { isAuthoritativeForEmail, sameEmail, type LinkingOptions } from './account-linking';
import { authCookie, authCookieNames, type AuthCookieNames } from './auth-cookies';
import type { OidcIssuerConfig } from './issuers';
import { LoginStateSealer, stateHandle, type LoginState } from './login-state';
import { OidcClient, type OidcLoginResult } from './oidc-client';
import { normalizeOrigin, safeReturnTo } from './redirects';
import { hashRefreshSecret, newRefreshToken, parseRefreshToken, refreshSecretMatches } from './refresh-token';
import { SigningKeyManager } from './signing-key-manager';
import type { Jwks, SigningAlg } from './signing-keys';
import { authenticateAccessToken, DEFAULT_ACCESS_TOKEN_TTL_SECONDS, DEFAULT_CLOCK_TOLERANCE_SECONDS, issueAccessToken, type AccessTokenClaims } from './tokens';

/** Access-token and refresh-token settings (`auth.jwt`). */
export interface AuthJwtOptions {
  /** Default `EdDSA`; `ES256` and `HS256` are selectable (no JWKS under HS256). */
  alg?: SigningAlg;
  /** Access token lifetime (default 300 s): the revocation window outside strict mode. */
  accessTtlSeconds?: number;
  /** Refresh token lifetime, renewed at each refresh (default 30 days). */
  refreshTtlSeconds?: number;
  /** A rotated refresh token's direct successor may be raced for this long: 409 instead of revocation (default 30 s). */
  refreshGraceSeconds?: number;
  /** Leeway on `exp`/`iat` between instances (default 5 s). */
  clockToleranceSeconds?: number;
  /** `iss` and `aud` of access tokens (default: `baseUrl`). */
  issuer?: string;
  audience?: string;
  /** Minimum time between reloads of the signing keys from the store (default 30 s). */
  keyReloadIntervalSeconds?: number;
  /** A rotated key is published this long before it signs (default 60 s). */
  keyPublishDelaySeconds?: number;
  /**
   * How many verified access tokens `authenticate` remembers so a repeated token skips
   * signature verification (default 10 000; 0 turns it off).
   */
  verifiedTokenCache?: number;
}

/** The `auth` option of `createByok`. */
export interface AuthOptions {
  /** `google({...})`, `oidc({...})`, `oidc({ development: true, ... })`. */
  issuers: readonly OidcIssuerConfig[];
  /** Where byok's routes are served, e.g. `https://api.example` (callbacks: `<baseUrl>/auth/callback/<id>`). */
  baseUrl: string;
  /** The web app's origins: the only CSRF-allowed Origins and `returnTo` targets. */
  allowedOrigins: readonly string[];
  /** Where a login returns without a `returnTo` (default: the first allowed origin + `/`). */
  defaultReturnTo?: string;
  jwt?: AuthJwtOptions;
  /** Check the token's session (`sid`) on every request, with a short cache (default off). */
  strict?: boolean | { cacheMs?: number };
  /** Account linking by e-mail: off by default. */
  linking?: LinkingOptions;
  /**
   * Secret (≥ 32 bytes) sealing the login cookie. Several instances must share it;
   * without one a random key is used and a login must finish where it started.
   */
  cookieSecret?: string;
  /** How long a started login stays valid (default 600 s). */
  loginTtlSeconds?: number;
  /** Keep the issuers' access and refresh tokens, sealed by the vault (default true). */
  storeIssuerTokens?: boolean;
}

/** What {@link AuthService} is built from; `createByok` supplies it. */
export interface AuthServiceDeps {
  store: Store;
  repositories: AuthRepositories;
  users: UsersService;
  audit: UsersAuditRecorder;
  sealer: Pick<Sealer, 'sealSigningKey' | 'openSigningKey' | 'sealOAuthToken' | 'openOAuthToken'>;
  clock: Clock;
  logger: Logger;
  /** Where single-use login states are marked (the rate-limit store: shared across instances). */
  usedOnce: RateLimitStore;
  /** Counts refreshes per user (the HTTP layer counts them per IP before the user is known). */
  rateLimiter?: Pick<RateLimiter, 'check'>;
  /** Strict mode across instances: revocations clear every instance's session cache. */
  revocationBus?: SessionRevocationBus;
}

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

/** The outcome of a successful login callback. */
export interface LoginCompletion {
  userId: string;
  /** Null when the callback linked an identity to the signed-in user (no new session). */
  session: SessionTokens | null;
  returnTo: string;
  newUser: boolean;
  linked: boolean;
}

const NO_META: RequestMeta = { ip: null, userAgent: null };
const DEFAULT_VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/** Constant-time equality of two secret strings (hashed first, so lengths leak nothing). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
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

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)$/iu;

/**
 * Sign-in with OpenID Connect issuers, JWT sessions with rotating refresh tokens, signing
 * keys, and `authenticate()` with CSRF enforcement (DESIGN §5). `createByok({ auth })`
 * builds it as `byok.auth`; its HTTP operations are registered on `byok.http`.
 *
 * @example
 * const byok = await createByok({ auth: { issuers: [google({ clientId, clientSecret })], baseUrl: 'https://api.example', allowedOrigins: ['https://app.example'] } });
 * const ctx = await byok.auth.authenticate(request); // { userId, sessionId, via } or null
 */
export class AuthService {
  readonly cookies: AuthCookieNames;
  readonly keys: SigningKeyManager;
  readonly baseUrl: string;
  readonly allowedOrigins: readonly string[];
  readonly #deps: AuthServiceDeps;
  readonly #clients = new Map<string, OidcClient>();
  readonly #byIssuerUrl = new Map<string, OidcClient>();
  readonly #loginStates: LoginStateSealer;
  readonly #tokenContext: { issuer: string; audience: string; clock: Clock; clockToleranceSeconds: number };
  readonly #accessTtl: number;
  readonly #refreshTtlMs: number;
  readonly #graceMs: number;
  readonly #loginTtlMs: number;
  readonly #defaultReturnTo: string;
  readonly #strictCacheMs: number | null;
  readonly #strictCache = new Map<string, { ok: boolean; until: number }>();
  readonly #verifiedTokens = new Map<string, { claims: AccessTokenClaims; kid: string }>();
  /** Bumped by every revocation; a session lookup that overlapped one is not cached. */
  #revocations = 0;
  readonly #verifiedTokenCacheSize: number;
  readonly #linking: LinkingOptions;
  readonly #storeIssuerTokens: boolean;

  private constructor(options: AuthOptions, deps: AuthServiceDeps) {
    if (!Array.isArray(options.issuers) || options.issuers.length === 0) {
      throw new ByokError('config_invalid', 'auth.issuers needs at least one issuer');
    }
    this.#deps = deps;
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch (cause) {
      throw new ByokError('config_invalid', 'auth.baseUrl must be an absolute URL (where byok is served)', { cause });
    }
    if (base.search || base.hash || base.username) throw new ByokError('config_invalid', 'auth.baseUrl must be a plain URL');
    this.baseUrl = base.href.replace(/\/$/u, '');
    this.cookies = authCookieNames(this.baseUrl);
    if (!options.allowedOrigins?.length) throw new ByokError('config_invalid', 'auth.allowedOrigins needs at least one origin');
    this.allowedOrigins = Object.freeze(options.allowedOrigins.map(normalizeOrigin));
    this.#defaultReturnTo = safeReturnTo(options.defaultReturnTo ?? '/', this.allowedOrigins, `${this.allowedOrigins[0]}/`, { onReject: 'throw' });
    for (const issuer of options.issuers) {
      if (this.#clients.has(issuer.id)) throw new ByokError('config_invalid', `Two issuers share the id ${issuer.id}`);
      const client = new OidcClient(issuer, { redirectUri: `${this.baseUrl}/auth/callback/${issuer.id}`, clock: deps.clock });
      this.#clients.set(issuer.id, client);
      this.#byIssuerUrl.set(issuer.issuer, client);
    }
    const jwt = options.jwt ?? {};
    this.#accessTtl = jwt.accessTtlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS;
    this.#refreshTtlMs = (jwt.refreshTtlSeconds ?? 30 * 86_400) * 1000;
    this.#graceMs = (jwt.refreshGraceSeconds ?? 30) * 1000;
    for (const [name, value] of [
      ['accessTtlSeconds', this.#accessTtl],
      ['refreshTtlSeconds', this.#refreshTtlMs],
    ] as const) {
      if (!Number.isInteger(value) || value <= 0) throw new ByokError('config_invalid', `auth.jwt.${name} must be a positive integer`);
    }
    this.#tokenContext = {
      issuer: jwt.issuer ?? this.baseUrl,
      audience: jwt.audience ?? this.baseUrl,
      clock: deps.clock,
      clockToleranceSeconds: jwt.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
    };
    this.#loginTtlMs = (options.loginTtlSeconds ?? 600) * 1000;
    this.#verifiedTokenCacheSize = jwt.verifiedTokenCache ?? DEFAULT_VERIFIED_TOKEN_CACHE_SIZE;
    if (options.cookieSecret !== undefined) {
      this.#loginStates = new LoginStateSealer(options.cookieSecret);
    } else {
      deps.logger.warn({}, 'byok auth: no auth.cookieSecret; logins must finish on the instance that started them');
      this.#loginStates = LoginStateSealer.ephemeral();
    }
    const strict = options.strict ?? false;
    this.#strictCacheMs = strict === false ? null : strict === true ? 2000 : (strict.cacheMs ?? 2000);
    this.#linking = options.linking ?? {};
    this.#storeIssuerTokens = options.storeIssuerTokens ?? true;
    this.keys = new SigningKeyManager({
      alg: jwt.alg ?? 'EdDSA',
      repository: deps.repositories.signingKeys,
      sealer: deps.sealer,
      clock: deps.clock,
      reloadIntervalMs: (jwt.keyReloadIntervalSeconds ?? 30) * 1000,
      publishDelayMs: (jwt.keyPublishDelaySeconds ?? 60) * 1000,
      logger: deps.logger,
    });
  }

  /**
   * Builds the service and loads (or creates) the signing keys.
   *
   * @example
   * const auth = await AuthService.create(options, { store, repositories: authRepositories(store), users, audit, sealer, clock, logger, usedOnce });
   */
  static async create(options: AuthOptions, deps: AuthServiceDeps): Promise<AuthService> {
    const service = new AuthService(options, deps);
    if (deps.revocationBus && service.#strictCacheMs !== null) await deps.revocationBus.subscribe(() => service.#strictCache.clear());
    try {
      await service.keys.ready();
    } catch (error) {
      // e.g. `byok migrate` on a fresh database: the keys load on first use instead.
      deps.logger.warn({ err: error }, 'byok auth: signing keys not loaded yet; retrying on first use');
    }
    return service;
  }

  /** The current time on the service's clock (epoch ms). */
  now(): number {
    return this.#deps.clock.now();
  }

  /** The configured issuers' ids. */
  issuerIds(): string[] {
    return [...this.#clients.keys()];
  }

  // ------------------------------------------------------------------ authenticate

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
      token = (request.cookies ?? parseCookieHeader(request.headers.cookie))[this.cookies.access];
      if (!token) return null;
      via = 'cookie';
      const unsafe = intent ? intent.unsafe : !['GET', 'HEAD', 'OPTIONS'].includes(request.method.toUpperCase());
      checkCsrf(
        { method: unsafe ? 'POST' : 'GET', headers: request.headers, authenticatedBy: 'cookie', isStream: intent?.stream === true },
        this.allowedOrigins,
      );
    }
    const claims = await this.#verified(token!);
    if (this.#strictCacheMs !== null) await this.#checkSession(claims.sid, claims.sub);
    return { userId: claims.sub, sessionId: claims.sid, via };
  }

  /**
   * Verifies an access token, remembering tokens already verified: a client sends the
   * same token with every request for its few minutes of life, so a repeat costs a map
   * lookup plus the expiry check instead of a signature verification. The key is the
   * whole token (signature included), so nothing unverified can hit; an entry is used
   * only while its signing key is still in the ring and the token has not expired.
   */
  async #verified(token: string): Promise<AccessTokenClaims> {
    const ring = this.keys.reloadDue() ? await this.keys.verifyingRing() : this.keys.ring;
    const hit = this.#verifiedTokens.get(token);
    if (hit) {
      const nowSeconds = this.#deps.clock.now() / 1000;
      if (nowSeconds < hit.claims.exp + this.#tokenContext.clockToleranceSeconds && ring.get(hit.kid) !== undefined) return hit.claims;
      this.#verifiedTokens.delete(token);
    }
    const claims = await authenticateAccessToken(ring, token, this.#tokenContext);
    const kid = tokenKid(token);
    if (kid !== undefined && this.#verifiedTokenCacheSize > 0) {
      if (this.#verifiedTokens.size >= this.#verifiedTokenCacheSize) {
        const oldest = this.#verifiedTokens.keys().next().value;
        if (oldest !== undefined) this.#verifiedTokens.delete(oldest);
      }
      this.#verifiedTokens.set(token, { claims, kid });
    }
    return claims;
  }

  /** Refuses a cookie-carried credential on an unsafe request without an allowed Origin. */
  assertCookieCsrf(request: ByokRequest): void {
    checkCsrf({ method: request.method, headers: request.headers, authenticatedBy: 'cookie' }, this.allowedOrigins);
  }

  /** Sessions were revoked here: drop this instance's strict cache and tell the others. */
  #sessionsRevoked(): void {
    this.#revocations++;
    this.#strictCache.clear();
    if (this.#strictCacheMs !== null) void this.#deps.revocationBus?.publish();
  }

  /** Stops listening for other instances' revocations. */
  async close(): Promise<void> {
    await this.#deps.revocationBus?.close();
  }

  async #checkSession(sid: string, userId: string): Promise<void> {
    const now = this.#deps.clock.now();
    const cached = this.#strictCache.get(sid);
    let ok: boolean;
    if (cached && cached.until > now) {
      ok = cached.ok;
    } else {
      const generation = this.#revocations;
      const row = await this.#deps.repositories.authSessions.findById(sid);
      ok = row !== undefined && row.userId === userId && row.revokedAt === null && row.expiresAt > now;
      if (generation === this.#revocations) {
        if (this.#strictCache.size > 10_000) this.#strictCache.clear();
        this.#strictCache.set(sid, { ok, until: now + this.#strictCacheMs! });
      }
    }
    if (!ok) throw new ByokError('unauthenticated', 'This session has been signed out');
  }

  // ------------------------------------------------------------------ login

  /**
   * Starts a sign-in: fresh PKCE, state and nonce, sealed into the login cookie (bound to
   * the issuer and this browser), and the issuer's authorization URL.
   *
   * @throws ByokError `not_found` (unknown issuer), `redirect_not_allowed` (bad returnTo)
   * @example
   * const { url, cookie } = await byok.auth.startLogin('google', { returnTo: '/chat' });
   */
  async startLogin(
    issuerId: string,
    options: { returnTo?: string | undefined; loginHint?: string | undefined; linkUserId?: string | null } = {},
    meta: RequestMeta = NO_META,
  ): Promise<{ url: string; cookie: SetCookie }> {
    const client = this.#client(issuerId);
    let returnTo: string;
    try {
      returnTo = safeReturnTo(options.returnTo, this.allowedOrigins, this.#defaultReturnTo, { onReject: 'throw' });
    } catch (error) {
      await this.#auditFailure(client.issuer, 'redirect_not_allowed', 'start', meta, options.linkUserId ?? null);
      throw error;
    }
    const start = await client.startLogin(options.loginHint ? { loginHint: options.loginHint } : {});
    const state: LoginState = {
      issuerId,
      state: start.state,
      nonce: start.nonce,
      codeVerifier: start.codeVerifier,
      returnTo,
      linkUserId: options.linkUserId ?? null,
      expiresAt: this.#deps.clock.now() + this.#loginTtlMs,
    };
    const cookie = authCookie(this.cookies, this.cookies.login, this.#loginStates.seal(state), this.#loginTtlMs / 1000);
    return { url: start.url, cookie };
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
  async finishLogin(issuerId: string, request: ByokRequest, meta: RequestMeta = NO_META): Promise<LoginCompletion> {
    const client = this.#client(issuerId);
    const now = this.#deps.clock.now();
    let login: LoginState | null = null;
    let result: OidcLoginResult;
    try {
      const cookies = request.cookies ?? parseCookieHeader(request.headers.cookie);
      login = this.#loginStates.open(cookies[this.cookies.login], issuerId, now);
      // A forged callback (wrong state) must not use up this browser's login.
      const returnedState = new URLSearchParams(request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '').get('state') ?? '';
      if (!sameSecret(returnedState, login.state)) throw new ByokError('login_failed', 'Sign-in failed: state mismatch', { details: { reason: 'state_mismatch' } });
      const marker = await this.#deps.usedOnce.hit(`login_state:${stateHandle(login.state)}`, this.#loginTtlMs, 1);
      if (!marker.allowed) throw new ByokError('login_failed', 'Sign-in failed: this login was already used', { details: { reason: 'state_reused' } });
      result = await client.finishLogin(request.url, login);
      const requiredHd = client.issuer.requiredHostedDomain;
      if (requiredHd !== undefined && result.hostedDomain?.toLowerCase() !== requiredHd) {
        throw new ByokError('login_failed', 'Sign-in failed: this account is not in the allowed domain', { details: { reason: 'hosted_domain_mismatch' } });
      }
    } catch (error) {
      await this.#auditFailure(client.issuer, reasonOf(error), 'callback', meta, login?.linkUserId ?? null);
      throw error;
    }

    if (login.linkUserId !== null) {
      const userId = await this.#link(client.issuer, login.linkUserId, result, request, meta);
      await this.#keepIssuerTokens(userId, result);
      return { userId, session: null, returnTo: login.returnTo, newUser: false, linked: true };
    }

    const autoLinked = await this.#autoLink(client.issuer, result, meta);
    if (autoLinked !== null) {
      await this.#keepIssuerTokens(autoLinked, result);
      const session = await this.#createSession(autoLinked, result.issuer, meta);
      await this.#deps.audit.record({
        actorUserId: autoLinked,
        action: 'auth.login.succeeded',
        target: session.familyId,
        outcome: 'success',
        metadata: { issuer: result.issuer, sessionId: session.sessionId, newUser: false, linked: true },
        ...meta,
      });
      return { userId: autoLinked, session, returnTo: login.returnTo, newUser: false, linked: true };
    }

    const { user, created } = await this.#deps.users.findOrCreate(
      {
        issuer: result.issuer,
        subject: result.subject,
        email: result.email,
        emailVerified: result.emailVerified,
        name: result.name,
        picture: result.picture,
      },
      meta,
    );
    await this.#keepIssuerTokens(user.id, result);
    const session = await this.#createSession(user.id, result.issuer, meta);
    await this.#deps.audit.record({
      actorUserId: user.id,
      action: 'auth.login.succeeded',
      target: session.familyId,
      outcome: 'success',
      metadata: { issuer: result.issuer, sessionId: session.sessionId, newUser: created, linked: false },
      ...meta,
    });
    return { userId: user.id, session, returnTo: login.returnTo, newUser: created, linked: false };
  }

  /**
   * Automatic linking (`linking: { enabled: true, automatic: true }`): a new identity from
   * an issuer authoritative for its verified e-mail joins the single existing user with
   * that verified e-mail. Returns that user's id, or null to sign in as usual.
   */
  async #autoLink(issuer: OidcIssuerConfig, result: OidcLoginResult, meta: RequestMeta): Promise<string | null> {
    if (this.#linking.enabled !== true || this.#linking.automatic !== true || !result.email) return null;
    if (!isAuthoritativeForEmail(issuer, result, this.#linking)) return null;
    if (await this.#deps.store.users.findByIdentity(result.issuer, result.subject)) return null;
    const candidates = await this.#deps.store.users.findByVerifiedEmail(result.email);
    if (candidates.length !== 1) return null;
    const userId = candidates[0]!.id;
    // users.email follows whichever issuer signed in last; only an identity the user holds
    // from an issuer authoritative for this address proves the mailbox is theirs.
    const vouched = (await this.#deps.store.users.listIdentities(userId)).some((identity) => {
      const config = this.#byIssuerUrl.get(identity.issuer)?.issuer;
      return (
        config !== undefined &&
        sameEmail(identity.email, result.email) &&
        isAuthoritativeForEmail(config, { email: identity.email, emailVerified: identity.emailVerified, hostedDomain: null }, this.#linking)
      );
    });
    if (!vouched) return null;
    try {
      await this.#addLinkedIdentity(userId, result, meta);
    } catch (error) {
      if ((error as { code?: string }).code === 'conflict') return null; // a parallel first sign-in created it
      throw error;
    }
    return userId;
  }

  /** Adds the identity to the user and audits the link. */
  async #addLinkedIdentity(userId: string, result: OidcLoginResult, meta: RequestMeta, existingIdentityId?: string): Promise<void> {
    const now = this.#deps.clock.now();
    const identityId = existingIdentityId ?? uuidv7(now);
    if (existingIdentityId === undefined) {
      await this.#deps.store.users.addIdentity(userId, {
        id: identityId,
        userId,
        issuer: result.issuer,
        subject: result.subject,
        email: result.email,
        emailVerified: result.emailVerified,
        createdAt: now,
        lastLoginAt: now,
      });
    }
    await this.#deps.audit.record({
      actorUserId: userId,
      action: 'auth.identity.linked',
      target: identityId,
      outcome: 'success',
      metadata: { issuer: result.issuer, identityId },
      ...meta,
    });
  }

  async #link(issuer: OidcIssuerConfig, userId: string, result: OidcLoginResult, request: ByokRequest, meta: RequestMeta): Promise<string> {
    const refuse = async (reason: string, message: string): Promise<never> => {
      await this.#auditFailure(issuer, reason, 'link', meta, userId);
      throw new ByokError('login_failed', `Linking refused: ${message}`, { details: { reason } });
    };
    let current: AuthContext | null = null;
    try {
      current = await this.authenticate(request, { unsafe: false, stream: false });
    } catch {
      current = null;
    }
    if (current?.userId !== userId) return refuse('link_not_signed_in', 'sign in as the account to link first');
    if (this.#linking.enabled !== true) return refuse('link_disabled', 'account linking is turned off');
    if (!isAuthoritativeForEmail(issuer, result, this.#linking)) {
      return refuse('link_not_authoritative', 'this issuer cannot vouch for that e-mail address');
    }
    const user = await this.#deps.users.get(userId);
    if (!user.emailVerified || !sameEmail(user.email, result.email)) {
      return refuse('link_email_mismatch', 'both accounts need the same verified e-mail address');
    }
    const existing = await this.#deps.store.users.findByIdentity(result.issuer, result.subject);
    if (existing && existing.user.id !== userId) return refuse('identity_in_use', 'that identity belongs to another account');
    await this.#addLinkedIdentity(userId, result, meta, existing?.identity.id);
    return userId;
  }

  async #keepIssuerTokens(userId: string, result: OidcLoginResult): Promise<void> {
    if (!this.#storeIssuerTokens) return;
    const now = this.#deps.clock.now();
    const id = uuidv7(now);
    const seal = async (token: string | null, tokenKind: 'access' | 'refresh') =>
      token === null ? null : Buffer.from(await this.#deps.sealer.sealOAuthToken(token, { userId, tokenKind, recordId: id })).toString('base64url');
    await this.#deps.repositories.oauthTokens.put({
      id,
      userId,
      issuer: result.issuer,
      accessTokenSealed: await seal(result.tokens.accessToken, 'access'),
      refreshTokenSealed: await seal(result.tokens.refreshToken, 'refresh'),
      expiresAt: result.tokens.expiresAt,
      createdAt: now,
      updatedAt: now,
    });
  }

  /**
   * The issuer's tokens kept for a user at sign-in, opened (secrets: use and drop).
   *
   * @example
   * const tokens = await byok.auth.issuerTokens(userId, 'https://accounts.google.com');
   */
  async issuerTokens(userId: string, issuer: string): Promise<{ accessToken: string | null; refreshToken: string | null; expiresAt: number | null } | null> {
    const row = await this.#deps.repositories.oauthTokens.get(userId, issuer);
    if (!row) return null;
    const open = (sealed: string | null, tokenKind: 'access' | 'refresh') =>
      sealed === null ? Promise.resolve(null) : this.#deps.sealer.openOAuthToken(Buffer.from(sealed, 'base64url'), { userId, tokenKind, recordId: row.id });
    return { accessToken: await open(row.accessTokenSealed, 'access'), refreshToken: await open(row.refreshTokenSealed, 'refresh'), expiresAt: row.expiresAt };
  }

  async #dropIssuerTokens(userId: string, issuer: string): Promise<void> {
    const row = await this.#deps.repositories.oauthTokens.get(userId, issuer);
    if (!row) return;
    const client = this.#byIssuerUrl.get(issuer);
    if (client) {
      try {
        const tokens = await this.issuerTokens(userId, issuer);
        const token = tokens?.refreshToken ?? tokens?.accessToken;
        if (token) await client.revokeToken(token, tokens?.refreshToken ? 'refresh_token' : 'access_token');
      } catch (error) {
        this.#deps.logger.warn({ err: error, issuer }, 'byok auth: revoking the issuer token failed; it is deleted here anyway');
      }
    }
    await this.#deps.repositories.oauthTokens.delete(userId, issuer);
  }

  async #auditFailure(issuer: OidcIssuerConfig, reason: string, stage: 'start' | 'callback' | 'link', meta: RequestMeta, actor: string | null): Promise<void> {
    await this.#deps.audit.record({
      actorUserId: actor,
      action: 'auth.login.failed',
      target: issuer.id,
      outcome: 'failure',
      metadata: { issuer: issuer.issuer, reason, stage },
      ...meta,
    });
  }

  #client(issuerId: string): OidcClient {
    const client = this.#clients.get(issuerId);
    if (!client) throw new ByokError('not_found', 'No such sign-in issuer');
    return client;
  }

  // ------------------------------------------------------------------ sessions

  async #createSession(userId: string, issuer: string | null, meta: RequestMeta): Promise<SessionTokens> {
    const now = this.#deps.clock.now();
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
      expiresAt: now + this.#refreshTtlMs,
      rotatedAt: null,
      revokedAt: null,
      lastUsedAt: now,
      userAgent: meta.userAgent?.slice(0, 512) ?? null,
      ip: meta.ip?.slice(0, 64) ?? null,
    };
    await this.#deps.repositories.authSessions.insert(row);
    return this.#tokensFor(row, token);
  }

  /**
   * Opens a session for a user the host signed in by other means (tests, host-run
   * sign-in flows). The access token's `sid` is the new session.
   *
   * @example
   * const tokens = await byok.auth.createSession(userId, { ip, userAgent });
   */
  createSession(userId: string, meta: RequestMeta = NO_META): Promise<SessionTokens> {
    return this.#createSession(userId, null, meta);
  }

  async #tokensFor(row: AuthSessionRow, refreshToken: string): Promise<SessionTokens> {
    const ring = await this.keys.signingRing();
    const access = await issueAccessToken(ring, { sub: row.userId, sid: row.id, ttlSeconds: this.#accessTtl }, this.#tokenContext);
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

  /**
   * Exchanges a refresh token for a new access token and a new refresh token (rotation
   * by conditional update). A reused, already-rotated token revokes its whole family,
   * except that its direct successor's parallel tab within the grace gets `refresh_race`.
   *
   * @throws ByokError `unauthenticated`, `refresh_reused` (401), `refresh_race` (409)
   * @example
   * const next = await byok.auth.refresh(refreshToken, meta);
   */
  async refresh(refreshToken: string, meta: RequestMeta = NO_META): Promise<SessionTokens> {
    const row = await this.#findByToken(refreshToken);
    await this.#deps.rateLimiter?.check('refresh', { userId: row.userId });
    const now = this.#deps.clock.now();
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
      expiresAt: now + this.#refreshTtlMs,
      rotatedAt: null,
      revokedAt: null,
      lastUsedAt: now,
      userAgent: meta.userAgent?.slice(0, 512) ?? row.userAgent,
      ip: meta.ip?.slice(0, 64) ?? row.ip,
    };
    // Sign first, then rotate and audit in one transaction: once the rotation commits,
    // nothing can fail before the client gets its new tokens (a lost response would make
    // its retry look like reuse and sign the family out).
    const tokens = await this.#tokensFor(next, token);
    const rotated = await this.#deps.store.transaction(async (tx) => {
      const result = await tx.authSessions.rotate(row.id, row.refreshHash, next, now);
      if (result.ok) {
        await this.#deps.audit.record(
          { actorUserId: row.userId, action: 'auth.refresh', target: row.familyId, outcome: 'success', metadata: { sessionId: next.id, familyId: row.familyId }, ...meta },
          tx,
        );
      }
      return result;
    });
    if (!rotated.ok) {
      const again = await this.#deps.repositories.authSessions.findById(row.id);
      if (again && again.revokedAt === null && again.rotatedAt !== null) return this.#reused(again, now, meta);
      throw new ByokError('unauthenticated', 'This session has been signed out');
    }
    return tokens;
  }

  async #reused(row: AuthSessionRow, now: number, meta: RequestMeta): Promise<never> {
    const head = await this.#deps.repositories.authSessions.familyHead(row.userId, row.familyId);
    if (head && head.parentId === row.id && row.rotatedAt !== null && now - row.rotatedAt <= this.#graceMs) {
      throw new ByokError('refresh_race', 'This refresh token was just used by a parallel request; use the newest one', {
        details: { retryAfterMs: 0 },
      });
    }
    const revoked = await this.#deps.repositories.authSessions.revokeFamily(row.userId, row.familyId, now);
    this.#sessionsRevoked();
    await this.#deps.audit.record({
      actorUserId: row.userId,
      action: 'auth.refresh.reused',
      target: row.familyId,
      outcome: 'denied',
      metadata: { sessionId: row.id, familyId: row.familyId, revoked },
      ...meta,
    });
    throw new ByokError('refresh_reused', 'This refresh token was already used; the session has been signed out');
  }

  async #findByToken(refreshToken: string): Promise<AuthSessionRow> {
    const parts = parseRefreshToken(refreshToken);
    const row = await this.#deps.repositories.authSessions.findById(parts.id);
    // Compare against a real-looking hash even when the row is missing, so timing says nothing.
    const matches = refreshSecretMatches(parts.secret, row?.refreshHash ?? '0'.repeat(64));
    if (!row || !matches) throw new ByokError('unauthenticated', 'Refresh token is not valid');
    return row;
  }

  /**
   * Signs out one session family: by its refresh token, or by the access token's session.
   * The issuer's tokens for that sign-in are revoked at the issuer (best effort) and deleted.
   *
   * @example
   * await byok.auth.logout({ refreshToken }, meta);
   */
  async logout(by: { refreshToken?: string | undefined; auth?: AuthContext | null }, meta: RequestMeta = NO_META): Promise<void> {
    let row: AuthSessionRow | undefined;
    if (by.refreshToken) {
      try {
        row = await this.#findByToken(by.refreshToken);
      } catch (error) {
        if (!by.auth) throw error;
      }
    }
    if (!row && by.auth?.sessionId) {
      const found = await this.#deps.repositories.authSessions.findById(by.auth.sessionId);
      if (found && found.userId === by.auth.userId) row = found;
    }
    if (!row) return;
    const now = this.#deps.clock.now();
    const revoked = await this.#deps.repositories.authSessions.revokeFamily(row.userId, row.familyId, now);
    this.#sessionsRevoked();
    if (row.issuer) await this.#dropIssuerTokens(row.userId, row.issuer);
    await this.#deps.audit.record({
      actorUserId: row.userId,
      action: 'auth.logout',
      target: row.familyId,
      outcome: 'success',
      metadata: { sessionId: row.id, familyId: row.familyId, revoked },
      ...meta,
    });
  }

  /**
   * "Sign out everywhere": revokes every session of the user and drops the issuers' tokens.
   *
   * @example
   * const { revoked } = await byok.auth.logoutAll(userId, meta);
   */
  async logoutAll(userId: string, meta: RequestMeta = NO_META): Promise<{ revoked: number }> {
    const revoked = await this.#deps.repositories.authSessions.revokeAllForUser(userId, this.#deps.clock.now());
    this.#sessionsRevoked();
    for (const client of this.#clients.values()) await this.#dropIssuerTokens(userId, client.issuer.issuer);
    await this.#deps.audit.record({ actorUserId: userId, action: 'auth.logout_all', target: userId, outcome: 'success', metadata: { revoked }, ...meta });
    return { revoked };
  }

  /**
   * The user's signed-in devices (one per session family), most recently used first.
   *
   * @example
   * const sessions = await byok.auth.listSessions(ctx.userId, ctx.sessionId);
   */
  async listSessions(userId: string, currentSessionId?: string): Promise<SessionInfo[]> {
    const now = this.#deps.clock.now();
    let currentFamily: string | null = null;
    if (currentSessionId) {
      const row = await this.#deps.repositories.authSessions.findById(currentSessionId);
      if (row && row.userId === userId) currentFamily = row.familyId;
    }
    const rows = await this.#deps.repositories.authSessions.listActive(userId, now);
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

  /**
   * Revokes one of the user's sessions (a family id from {@link listSessions}).
   *
   * @throws ByokError `not_found` for an unknown or another user's session
   * @example
   * await byok.auth.revokeSession(ctx.userId, sessionId, meta);
   */
  async revokeSession(userId: string, familyId: string, meta: RequestMeta = NO_META): Promise<void> {
    const revoked = await this.#deps.repositories.authSessions.revokeFamily(userId, familyId, this.#deps.clock.now());
    if (revoked === 0) throw new ByokError('not_found', 'No such session');
    this.#sessionsRevoked();
    await this.#deps.audit.record({
      actorUserId: userId,
      action: 'auth.session.revoked',
      target: familyId,
      outcome: 'success',
      metadata: { familyId },
      ...meta,
    });
  }

  /**
   * Deletes session rows that expired more than `graceMs` ago (default 1 day); run it
   * from a scheduled job. Returns how many rows went.
   *
   * @example
   * setInterval(() => void byok.auth?.purgeExpiredSessions(), 3_600_000).unref();
   */
  purgeExpiredSessions(graceMs = 86_400_000): Promise<number> {
    return this.#deps.repositories.authSessions.deleteExpired(this.#deps.clock.now() - graceMs);
  }

  // ------------------------------------------------------------------ keys

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
    await this.#deps.audit.record({
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
   * await byok.auth.revokeKey(kid);
   */
  async revokeKey(kid: string, options: { actorUserId?: string | null } = {}): Promise<void> {
    await this.keys.revoke(kid);
    await this.#deps.audit.record({ actorUserId: options.actorUserId ?? null, action: 'auth.keys.revoked', target: kid, outcome: 'success', metadata: { kid } });
  }
}

function reasonOf(error: unknown): string {
  if (isByokError(error)) {
    const reason = error.details?.reason;
    return typeof reason === 'string' ? reason : error.code;
  }
  return 'internal';
}

/**
 * A short device label from a User-Agent ("Firefox on Linux").
 *
 * @example
 * describeDevice('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'); // → 'Firefox on Linux'
 */
export function describeDevice(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  const ua = userAgent;
  const browser = /Edg\//u.test(ua)
    ? 'Edge'
    : /OPR\//u.test(ua)
      ? 'Opera'
      : /Firefox\//u.test(ua)
        ? 'Firefox'
        : /Chrome\//u.test(ua)
          ? 'Chrome'
          : /Safari\//u.test(ua)
            ? 'Safari'
            : /curl\//u.test(ua)
              ? 'curl'
              : /node|undici/iu.test(ua)
                ? 'Node.js'
                : 'Browser';
  const os = /Android/u.test(ua)
    ? 'Android'
    : /iPhone|iPad|iOS/u.test(ua)
      ? 'iOS'
      : /Windows/u.test(ua)
        ? 'Windows'
        : /Mac OS X|Macintosh/u.test(ua)
          ? 'macOS'
          : /CrOS/u.test(ua)
            ? 'ChromeOS'
            : /Linux/u.test(ua)
              ? 'Linux'
              : null;
  return os ? `${browser} on ${os}` : browser;
}
