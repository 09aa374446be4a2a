import { ByokError, isByokError } from '../errors';
import { parseCookieHeader } from '../http/cookies';
import { NO_REQUEST_META } from '../http/request-meta';
import type { AuthContext, ByokRequest, RequestMeta, SetCookie } from '../http/types';
import type { Store } from '../store/store';
import type { UsersAuditRecorder, UsersService } from '../users/users-service';
import type { Clock } from '../util/clock';
import { constantTimeEqual } from '../util/constant-time';
import { uuidv7 } from '../util/ids';
import { isAuthoritativeForEmail, sameEmail, type LinkingOptions } from './account-linking';
import { authCookie, type AuthCookieNames } from './auth-cookies';
import type { IssuerRegistry } from './issuer-registry';
import type { IssuerTokens } from './issuer-tokens';
import type { OidcIssuerConfig } from './issuers';
import type { LoginMarkerStore } from './login-marker-store';
import { stateHandle, type LoginState, type LoginStateSealer } from './login-state';
import type { OidcLoginResult } from './oidc-client';
import { safeReturnTo } from './redirects';
import type { SessionManager, SessionTokens } from './session-manager';

/** The outcome of a successful login callback. */
export interface LoginCompletion {
  userId: string;
  /** Null when the callback linked an identity to the signed-in user (no new session). */
  session: SessionTokens | null;
  returnTo: string;
  newUser: boolean;
  linked: boolean;
}

/** What to start a login with. */
export interface StartLoginOptions {
  returnTo?: string | undefined;
  loginHint?: string | undefined;
  /** Set when a signed-in user asked to link this issuer to their account. */
  linkUserId?: string | null;
}

/** What a {@link LoginFlow} is built from. */
export interface LoginFlowOptions {
  store: Store;
  users: UsersService;
  audit: UsersAuditRecorder;
  clock: Clock;
  issuers: IssuerRegistry;
  sessions: SessionManager;
  issuerTokens: IssuerTokens;
  loginStates: LoginStateSealer;
  loginMarkers: LoginMarkerStore;
  cookies: AuthCookieNames;
  allowedOrigins: readonly string[];
  defaultReturnTo: string;
  loginTtlMs: number;
  linking: LinkingOptions;
  /** Who is signed in on the callback request (a link request must come from the account it links to). */
  authenticate: (request: ByokRequest) => Promise<AuthContext | null>;
}

/**
 * Sign-in with an OpenID Connect issuer, start to finish: the sealed single-use login
 * cookie, the callback checks, finding or creating the user, and account linking (on
 * request by a signed-in user, or automatic for an issuer authoritative for the e-mail).
 *
 * @example
 * const flow = new LoginFlow({ store, users, audit, clock, issuers, sessions, issuerTokens, loginStates, loginMarkers, cookies, allowedOrigins, defaultReturnTo, loginTtlMs: 600_000, linking: {}, authenticate });
 * const { url, cookie } = await flow.start('google', { returnTo: '/chat' });
 */
export class LoginFlow {
  readonly #options: LoginFlowOptions;

  constructor(options: LoginFlowOptions) {
    this.#options = options;
  }

  /**
   * Starts a sign-in: fresh PKCE, state and nonce, sealed into the login cookie (bound to
   * the issuer and this browser), and the issuer's authorization URL.
   *
   * @throws ByokError `not_found` (unknown issuer), `redirect_not_allowed` (bad returnTo)
   */
  async start(issuerId: string, options: StartLoginOptions = {}, meta: RequestMeta = NO_REQUEST_META): Promise<{ url: string; cookie: SetCookie }> {
    const { issuers, allowedOrigins, defaultReturnTo, clock, loginTtlMs, cookies, loginStates } = this.#options;
    const client = issuers.get(issuerId);
    let returnTo: string;
    try {
      returnTo = safeReturnTo(options.returnTo, allowedOrigins, defaultReturnTo, { onReject: 'throw' });
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
      expiresAt: clock.now() + loginTtlMs,
    };
    const cookie = authCookie(cookies, cookies.login, loginStates.seal(state), loginTtlMs / 1000);
    return { url: start.url, cookie };
  }

  /**
   * Finishes a sign-in at the callback: opens the login cookie (single use), lets
   * openid-client validate the response, finds or creates the user by (issuer, subject)
   * — or links the identity — keeps the issuer's tokens and opens a session. Every
   * failure is audited with its reason.
   *
   * @throws ByokError `login_failed` with `details.reason`
   */
  async finish(issuerId: string, request: ByokRequest, meta: RequestMeta = NO_REQUEST_META): Promise<LoginCompletion> {
    const { issuers, clock, cookies, loginStates, loginMarkers, loginTtlMs, users, sessions, issuerTokens, audit } = this.#options;
    const client = issuers.get(issuerId);
    let login: LoginState | null = null;
    let result: OidcLoginResult;
    try {
      const requestCookies = request.cookies ?? parseCookieHeader(request.headers.cookie);
      login = loginStates.open(requestCookies[cookies.login], issuerId, clock.now());
      // A forged callback (wrong state) must not use up this browser's login.
      const returnedState = new URLSearchParams(request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '').get('state') ?? '';
      if (!constantTimeEqual(returnedState, login.state)) throw new ByokError('login_failed', 'Sign-in failed: state mismatch', { details: { reason: 'state_mismatch' } });
      if (!(await loginMarkers.claim(`login_state:${stateHandle(login.state)}`, loginTtlMs))) {
        throw new ByokError('login_failed', 'Sign-in failed: this login was already used', { details: { reason: 'state_reused' } });
      }
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
      await issuerTokens.keep(userId, result);
      return { userId, session: null, returnTo: login.returnTo, newUser: false, linked: true };
    }

    let userId = await this.#autoLink(client.issuer, result, meta);
    const linked = userId !== null;
    let newUser = false;
    if (userId === null) {
      const found = await users.findOrCreate(
        { issuer: result.issuer, subject: result.subject, email: result.email, emailVerified: result.emailVerified, name: result.name, picture: result.picture },
        meta,
      );
      userId = found.user.id;
      newUser = found.created;
    }
    await issuerTokens.keep(userId, result);
    const session = await sessions.create(userId, result.issuer, meta);
    await audit.record({
      actorUserId: userId,
      action: 'auth.login.succeeded',
      target: session.familyId,
      outcome: 'success',
      metadata: { issuer: result.issuer, sessionId: session.sessionId, newUser, linked },
      ...meta,
    });
    return { userId, session, returnTo: login.returnTo, newUser, linked };
  }

  /**
   * Automatic linking (`linking: { enabled: true, automatic: true }`): a new identity from
   * an issuer authoritative for its verified e-mail joins the single existing user with
   * that verified e-mail. Returns that user's id, or null to sign in as usual.
   */
  async #autoLink(issuer: OidcIssuerConfig, result: OidcLoginResult, meta: RequestMeta): Promise<string | null> {
    const { linking, store, issuers } = this.#options;
    if (linking.enabled !== true || linking.automatic !== true || !result.email) return null;
    if (!isAuthoritativeForEmail(issuer, result, linking)) return null;
    if (await store.users.findByIdentity(result.issuer, result.subject)) return null;
    const candidates = await store.users.findByVerifiedEmail(result.email);
    if (candidates.length !== 1) return null;
    const userId = candidates[0]!.id;
    // users.email follows whichever issuer signed in last; only an identity the user holds
    // from an issuer authoritative for this address proves the mailbox is theirs.
    const vouched = (await store.users.listIdentities(userId)).some((identity) => {
      const config = issuers.byIssuerUrl(identity.issuer)?.issuer;
      return (
        config !== undefined &&
        sameEmail(identity.email, result.email) &&
        isAuthoritativeForEmail(config, { email: identity.email, emailVerified: identity.emailVerified, hostedDomain: null }, linking)
      );
    });
    if (!vouched) return null;
    try {
      await this.#addLinkedIdentity(userId, result, meta);
    } catch (error) {
      if (isByokError(error) && error.code === 'conflict') return null; // a parallel first sign-in created it
      throw error;
    }
    return userId;
  }

  /** Adds the identity to the user and audits the link. */
  async #addLinkedIdentity(userId: string, result: OidcLoginResult, meta: RequestMeta, existingIdentityId?: string): Promise<void> {
    const { store, audit, clock } = this.#options;
    const now = clock.now();
    const identityId = existingIdentityId ?? uuidv7(now);
    if (existingIdentityId === undefined) {
      await store.users.addIdentity(userId, {
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
    await audit.record({
      actorUserId: userId,
      action: 'auth.identity.linked',
      target: identityId,
      outcome: 'success',
      metadata: { issuer: result.issuer, identityId },
      ...meta,
    });
  }

  async #link(issuer: OidcIssuerConfig, userId: string, result: OidcLoginResult, request: ByokRequest, meta: RequestMeta): Promise<string> {
    const { linking, users, store } = this.#options;
    const refuse = async (reason: string, message: string): Promise<never> => {
      await this.#auditFailure(issuer, reason, 'link', meta, userId);
      throw new ByokError('login_failed', `Linking refused: ${message}`, { details: { reason } });
    };
    let current: AuthContext | null = null;
    try {
      current = await this.#options.authenticate(request);
    } catch {
      current = null;
    }
    if (current?.userId !== userId) return refuse('link_not_signed_in', 'sign in as the account to link first');
    if (linking.enabled !== true) return refuse('link_disabled', 'account linking is turned off');
    if (!isAuthoritativeForEmail(issuer, result, linking)) {
      return refuse('link_not_authoritative', 'this issuer cannot vouch for that e-mail address');
    }
    const user = await users.get(userId);
    if (!user.emailVerified || !sameEmail(user.email, result.email)) {
      return refuse('link_email_mismatch', 'both accounts need the same verified e-mail address');
    }
    const existing = await store.users.findByIdentity(result.issuer, result.subject);
    if (existing && existing.user.id !== userId) return refuse('identity_in_use', 'that identity belongs to another account');
    await this.#addLinkedIdentity(userId, result, meta, existing?.identity.id);
    return userId;
  }

  async #auditFailure(issuer: OidcIssuerConfig, reason: string, stage: 'start' | 'callback' | 'link', meta: RequestMeta, actor: string | null): Promise<void> {
    await this.#options.audit.record({
      actorUserId: actor,
      action: 'auth.login.failed',
      target: issuer.id,
      outcome: 'failure',
      metadata: { issuer: issuer.issuer, reason, stage },
      ...meta,
    });
  }
}

function reasonOf(error: unknown): string {
  if (isByokError(error)) {
    const reason = error.details?.reason;
    return typeof reason === 'string' ? reason : error.code;
  }
  return 'internal';
}
