import * as oidcLib from 'openid-client';
import type { Configuration, IDToken } from 'openid-client';
import { ByokError } from '../errors';
import type { Clock } from '../util/clock';
import { isLoopbackHost } from './issuers';
import type { OidcIssuerConfig } from './issuers';

/** Options for {@link OidcClient}. */
export interface OidcClientOptions {
  /** byok's callback URL for this issuer, registered at the issuer. */
  redirectUri: string;
  /** Timeout of each request to the issuer, in seconds (default 10). */
  timeoutSeconds?: number;
  /** Time source for ID token `exp`/`iat` checks (default: the system clock). */
  clock?: Clock;
}

/** The single-use values a login is bound to; keep them in the sealed login cookie. */
export interface OidcLoginChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** A login ready to start: send the browser to `url`, keep the checks. */
export interface OidcLoginStart extends OidcLoginChecks {
  url: string;
}

/** What a successful callback established about the user. */
export interface OidcLoginResult {
  /** Issuer identifier (`iss`); users are matched by (issuer, subject). */
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  picture: string | null;
  /** Google Workspace hosted domain, when the issuer says so. */
  hostedDomain: string | null;
  /** Every validated ID token claim. */
  claims: IDToken;
  /** The issuer's tokens, for the vault to seal if the host wants them. Secrets. */
  tokens: {
    accessToken: string;
    refreshToken: string | null;
    idToken: string;
    /** Epoch ms, when the issuer said. */
    expiresAt: number | null;
    scope: string | null;
  };
}

/** Why a login callback was refused (in `details.reason` of the `login_failed` error). */
export type OidcFailureReason =
  | 'authorization_denied'
  | 'authorization_error'
  | 'state_mismatch'
  | 'nonce_mismatch'
  | 'audience_mismatch'
  | 'issuer_mismatch'
  | 'id_token_expired'
  | 'id_token_signature'
  | 'id_token_invalid'
  | 'code_rejected'
  | 'token_error'
  | 'callback_invalid';

/**
 * The relying-party side of one OpenID Connect issuer, on openid-client: discovery
 * (cached; plain http only for loopback issuers), an authorization URL with PKCE S256,
 * `state` and `nonce` always, and the callback's code exchange, where openid-client
 * checks state, PKCE (at the issuer), the ID token's signature, issuer, audience,
 * expiry and nonce.
 *
 * @example
 * const client = new OidcClient(google({ clientId, clientSecret }), { redirectUri: 'https://api.example/auth/callback/google' });
 * const start = await client.startLogin();          // redirect to start.url; seal start's checks in a cookie
 * const result = await client.finishLogin(req.url, checksFromCookie);
 * result.issuer; result.subject; result.email;
 */
export class OidcClient {
  readonly issuer: OidcIssuerConfig;
  readonly #redirectUri: string;
  readonly #timeout: number;
  readonly #clock: Clock | undefined;
  #config: Promise<Configuration> | null = null;

  constructor(issuer: OidcIssuerConfig, options: OidcClientOptions) {
    this.issuer = issuer;
    this.#redirectUri = new URL(options.redirectUri).href;
    this.#timeout = options.timeoutSeconds ?? 10;
    this.#clock = options.clock;
  }

  /** Discovers the issuer (once; a failure is retried on the next call). */
  configuration(): Promise<Configuration> {
    if (!this.#config) {
      this.#config = this.#discover();
      this.#config.catch(() => {
        this.#config = null;
      });
    }
    return this.#config;
  }

  /**
   * Makes fresh PKCE, state and nonce values and the authorization URL carrying them.
   *
   * @example
   * const { url, state, nonce, codeVerifier } = await client.startLogin({ loginHint: 'a@example.com' });
   */
  async startLogin(options: { loginHint?: string } = {}): Promise<OidcLoginStart> {
    const config = await this.configuration();
    const codeVerifier = oidcLib.randomPKCECodeVerifier();
    const state = oidcLib.randomState();
    const nonce = oidcLib.randomNonce();
    const params: Record<string, string> = {
      ...this.issuer.authorizationParams,
      redirect_uri: this.#redirectUri,
      scope: this.issuer.scopes.join(' '),
      response_type: 'code',
      code_challenge: await oidcLib.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    if (options.loginHint) params.login_hint = options.loginHint;
    const url = oidcLib.buildAuthorizationUrl(config, params);
    return { url: url.href, state, nonce, codeVerifier };
  }

  /**
   * Validates the callback and exchanges its code. Every check is mandatory; any
   * failure is a ByokError `login_failed` with a `details.reason`
   * ({@link OidcFailureReason}); an unreachable issuer is `provider_unavailable`.
   *
   * @param callback the callback request's URL (absolute, or path and query) or its query
   * @example
   * const result = await client.finishLogin('/auth/callback/google?code=…&state=…', checks);
   */
  async finishLogin(callback: string | URL | URLSearchParams, checks: OidcLoginChecks): Promise<OidcLoginResult> {
    for (const name of ['state', 'nonce', 'codeVerifier'] as const) {
      const value: unknown = checks[name];
      if (typeof value !== 'string' || value === '') fail('callback_invalid', `missing ${name}`);
    }
    // Only the callback's query matters; the URL it is resolved against is always the
    // configured redirect URI (openid-client sends that to the token endpoint), so a
    // host mounting byok under a prefix passes `req.url` as it is.
    let query: URLSearchParams;
    try {
      query =
        callback instanceof URLSearchParams ? callback : new URL(callback, this.#redirectUri).searchParams;
    } catch {
      fail('callback_invalid', 'bad callback URL');
    }
    const url = new URL(this.#redirectUri);
    url.search = query.toString();
    url.hash = '';

    const config = await this.#configForNow();
    let tokens: Awaited<ReturnType<typeof oidcLib.authorizationCodeGrant>>;
    try {
      tokens = await oidcLib.authorizationCodeGrant(config, url, {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: true,
      });
    } catch (error) {
      throw toLoginError(error);
    }
    const claims = tokens.claims();
    if (!claims || typeof claims.sub !== 'string' || claims.sub === '') fail('id_token_invalid', 'no subject');
    const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
    const expiresIn = tokens.expiresIn();
    return {
      issuer: claims.iss,
      subject: claims.sub,
      email: text(claims.email),
      // Some issuers send "true" as a string; nothing else counts as verified.
      emailVerified: claims.email_verified === true || claims.email_verified === 'true',
      name: text(claims.name),
      picture: text(claims.picture),
      hostedDomain: text(claims.hd),
      claims,
      tokens: {
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token ?? null,
        idToken: tokens.id_token!,
        expiresAt: expiresIn === undefined ? null : (this.#clock?.now() ?? Date.now()) + expiresIn * 1000,
        scope: tokens.scope ?? null,
      },
    };
  }

  /**
   * Revokes a token at the issuer (RFC 7009) when it has a revocation endpoint.
   *
   * @returns false when the issuer has no revocation endpoint
   * @example
   * await client.revokeToken(refreshToken, 'refresh_token');
   */
  async revokeToken(token: string, hint: 'refresh_token' | 'access_token'): Promise<boolean> {
    const config = await this.configuration();
    if (!config.serverMetadata().revocation_endpoint) return false;
    try {
      await oidcLib.tokenRevocation(config, token, { token_type_hint: hint });
      return true;
    } catch (cause) {
      throw new ByokError('provider_error', `Token revocation failed at issuer ${this.issuer.id}`, { cause });
    }
  }

  async #discover(): Promise<Configuration> {
    const server = new URL(this.issuer.issuer);
    if (server.protocol === 'http:' && (!isLoopbackHost(server.hostname) || process.env.NODE_ENV === 'production')) {
      throw new ByokError('config_invalid', 'Plain-http issuers are allowed only on loopback addresses outside production');
    }
    try {
      return await oidcLib.discovery(server, this.issuer.clientId, undefined, this.#clientAuth(), {
        timeout: this.#timeout,
        execute: this.#extensions(),
      });
    } catch (cause) {
      throw new ByokError('provider_unavailable', `OpenID discovery failed for issuer ${this.issuer.id}`, { cause });
    }
  }

  /**
   * With an injected clock, a per-call Configuration carries the clock's offset as
   * openid-client's clock skew (it is read from client metadata at construction).
   */
  async #configForNow(): Promise<Configuration> {
    const base = await this.configuration();
    if (!this.#clock) return base;
    const skew = Math.round((this.#clock.now() - Date.now()) / 1000);
    const config = new oidcLib.Configuration(
      base.serverMetadata(),
      this.issuer.clientId,
      { [oidcLib.clockSkew]: skew },
      this.#clientAuth(),
    );
    config.timeout = this.#timeout;
    for (const extension of this.#extensions()) extension(config);
    const jwks = oidcLib.getJwksCache(base);
    if (jwks) oidcLib.setJwksCache(config, jwks);
    return config;
  }

  #clientAuth(): oidcLib.ClientAuth {
    return this.issuer.clientSecret === undefined ? oidcLib.None() : oidcLib.ClientSecretPost(this.issuer.clientSecret);
  }

  /** ID token signatures are always verified (openid-client skips it by default for TLS responses). */
  #extensions(): Array<(config: Configuration) => void> {
    const insecure = new URL(this.issuer.issuer).protocol === 'http:';
    return insecure
      ? [oidcLib.allowInsecureRequests, oidcLib.enableNonRepudiationChecks]
      : [oidcLib.enableNonRepudiationChecks];
  }
}

function fail(reason: OidcFailureReason, detail: string): never {
  throw new ByokError('login_failed', `Sign-in failed: ${detail}`, { details: { reason } });
}

/** Maps openid-client / oauth4webapi errors to a reason without leaking values. */
function toLoginError(error: unknown): ByokError {
  type Coded = { name?: string; code?: string; error?: string; message?: string; cause?: unknown };
  const outer = (error ?? {}) as Coded;
  // openid-client wraps oauth4webapi's OperationProcessingError in a ClientError.
  const inner = (outer.cause instanceof Error ? outer.cause : outer) as Coded;
  const names = [outer.name, inner.name];
  const codes = [outer.code, inner.code];
  const text = `${outer.message ?? ''} ${inner.message ?? ''}`;
  const claim = (inner.cause as { claim?: unknown } | undefined)?.claim ?? /"(\w+)"/u.exec(inner.message ?? '')?.[1];
  const make = (reason: OidcFailureReason, detail: string) =>
    new ByokError('login_failed', `Sign-in failed: ${detail}`, { cause: error, details: { reason } });

  if (names.includes('AuthorizationResponseError')) {
    const code = outer.error ?? inner.error;
    return code === 'access_denied'
      ? make('authorization_denied', 'the issuer reported access_denied')
      : make('authorization_error', `the issuer reported ${safeCode(code)}`);
  }
  if (names.includes('ResponseBodyError')) {
    const code = outer.error ?? inner.error;
    return code === 'invalid_grant'
      ? make('code_rejected', 'the issuer rejected the code')
      : make('token_error', `the token endpoint reported ${safeCode(code)}`);
  }
  if (names.some((n) => n === 'TypeError' || n === 'AbortError' || n === 'TimeoutError')) {
    return new ByokError('provider_unavailable', 'The sign-in issuer could not be reached', { cause: error });
  }
  if (claim === 'state' || /"state"/u.test(text)) return make('state_mismatch', 'state check failed');
  // The callback's own parameters (code, iss per RFC 9207) missing or unexpected.
  if (/response parameter/u.test(text)) return make('callback_invalid', 'the callback parameters were not valid');
  if (/signature verification failed|"alg" header/u.test(text)) return make('id_token_signature', 'ID token signature check failed');
  if (codes.includes('OAUTH_JWT_CLAIM_COMPARISON_FAILED')) {
    if (claim === 'nonce') return make('nonce_mismatch', 'nonce check failed');
    if (claim === 'aud' || claim === 'azp') return make('audience_mismatch', 'ID token audience check failed');
    if (claim === 'iss') return make('issuer_mismatch', 'ID token issuer check failed');
    return make('id_token_invalid', 'ID token claim check failed');
  }
  if (codes.includes('OAUTH_JWT_TIMESTAMP_CHECK_FAILED')) {
    return claim === 'exp' ? make('id_token_expired', 'ID token expired') : make('id_token_invalid', 'ID token time check failed');
  }
  if (codes.some((c) => c === 'OAUTH_JWS_SIGNATURE_VERIFICATION_FAILED' || c === 'OAUTH_KEY_SELECTION_FAILED')) {
    return make('id_token_signature', 'ID token signature check failed');
  }
  return make('id_token_invalid', 'the issuer response was not valid');
}

function safeCode(value: unknown): string {
  return typeof value === 'string' && /^[a-z_]{1,40}$/u.test(value) ? value : 'an error';
}
