import { ByokError } from '../errors';
import type { Logger } from '../util/logger';
import { DEFAULT_MAX_ENTRIES } from '../util/bounded-cache';
import type { LinkingOptions } from './account-linking';
import { authCookieNames, type AuthCookieNames } from './auth-cookies';
import type { OidcIssuerConfig } from './issuers';
import { LoginStateSealer } from './login-state';
import { normalizeOrigin, safeReturnTo } from './redirects';
import type { SigningAlg } from './signing-keys';
import { DEFAULT_ACCESS_TOKEN_TTL_SECONDS, DEFAULT_CLOCK_TOLERANCE_SECONDS } from './tokens';

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

/** The `auth` option of `createByok`: sign-in with OpenID Connect issuers and sessions. */
export interface AuthOptions {
  /** `google({...})`, `oidc({...})`, `oidc({ development: true, ... })`. At least one. */
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

/** {@link AuthOptions} checked once, with every default filled in. */
export interface AuthSettings {
  issuers: readonly OidcIssuerConfig[];
  baseUrl: string;
  cookies: AuthCookieNames;
  allowedOrigins: readonly string[];
  defaultReturnTo: string;
  alg: SigningAlg;
  accessTtlSeconds: number;
  refreshTtlMs: number;
  refreshGraceMs: number;
  tokenIssuer: string;
  tokenAudience: string;
  clockToleranceSeconds: number;
  keyReloadIntervalMs: number;
  keyPublishDelayMs: number;
  verifiedTokenCache: number;
  /** Null outside strict mode. */
  strictCacheMs: number | null;
  linking: LinkingOptions;
  loginTtlMs: number;
  loginStates: LoginStateSealer;
  storeIssuerTokens: boolean;
}

const DEFAULT_REFRESH_TTL_SECONDS = 30 * 86_400;
const DEFAULT_REFRESH_GRACE_SECONDS = 30;
const DEFAULT_STRICT_CACHE_MS = 2000;
const DEFAULT_LOGIN_TTL_SECONDS = 600;

/**
 * Validates the `auth` option and fills in its defaults.
 *
 * @throws ByokError `config_invalid` naming the offending field
 * @example
 * const settings = resolveAuthSettings({ issuers: [google({ clientId, clientSecret })], baseUrl: 'https://api.example', allowedOrigins: ['https://app.example'] }, logger);
 */
export function resolveAuthSettings(options: AuthOptions, logger: Logger): AuthSettings {
  if (!Array.isArray(options.issuers) || options.issuers.length === 0) {
    throw new ByokError('config_invalid', 'auth.issuers needs at least one issuer');
  }
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch (cause) {
    throw new ByokError('config_invalid', 'auth.baseUrl must be an absolute URL (where byok is served)', { cause });
  }
  if (base.search || base.hash || base.username) throw new ByokError('config_invalid', 'auth.baseUrl must be a plain URL');
  const baseUrl = base.href.replace(/\/$/u, '');
  const cookies = authCookieNames(baseUrl);
  if (!options.allowedOrigins?.length) throw new ByokError('config_invalid', 'auth.allowedOrigins needs at least one origin');
  const allowedOrigins = Object.freeze(options.allowedOrigins.map(normalizeOrigin));
  const defaultReturnTo = safeReturnTo(options.defaultReturnTo ?? '/', allowedOrigins, `${allowedOrigins[0]}/`, { onReject: 'throw' });

  const jwt = options.jwt ?? {};
  const accessTtlSeconds = jwt.accessTtlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS;
  const refreshTtlSeconds = jwt.refreshTtlSeconds ?? DEFAULT_REFRESH_TTL_SECONDS;
  for (const [name, value] of [
    ['accessTtlSeconds', accessTtlSeconds],
    ['refreshTtlSeconds', refreshTtlSeconds],
  ] as const) {
    if (!Number.isInteger(value) || value <= 0) throw new ByokError('config_invalid', `auth.jwt.${name} must be a positive integer`);
  }
  const verifiedTokenCache = jwt.verifiedTokenCache ?? DEFAULT_MAX_ENTRIES;
  if (!Number.isSafeInteger(verifiedTokenCache) || verifiedTokenCache < 0) {
    throw new ByokError('config_invalid', 'auth.jwt.verifiedTokenCache must be an integer ≥ 0');
  }

  let loginStates: LoginStateSealer;
  if (options.cookieSecret !== undefined) {
    loginStates = new LoginStateSealer(options.cookieSecret);
  } else {
    logger.warn({}, 'byok auth: no auth.cookieSecret; logins must finish on the instance that started them');
    loginStates = LoginStateSealer.ephemeral();
  }
  const strict = options.strict ?? false;
  const strictCacheMs = strict === false ? null : strict === true ? DEFAULT_STRICT_CACHE_MS : (strict.cacheMs ?? DEFAULT_STRICT_CACHE_MS);
  if (strictCacheMs !== null && (!Number.isFinite(strictCacheMs) || strictCacheMs < 0)) {
    throw new ByokError('config_invalid', 'auth.strict.cacheMs must be ≥ 0');
  }

  return {
    issuers: options.issuers,
    baseUrl,
    cookies,
    allowedOrigins,
    defaultReturnTo,
    alg: jwt.alg ?? 'EdDSA',
    accessTtlSeconds,
    refreshTtlMs: refreshTtlSeconds * 1000,
    refreshGraceMs: (jwt.refreshGraceSeconds ?? DEFAULT_REFRESH_GRACE_SECONDS) * 1000,
    tokenIssuer: jwt.issuer ?? baseUrl,
    tokenAudience: jwt.audience ?? baseUrl,
    clockToleranceSeconds: jwt.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
    keyReloadIntervalMs: (jwt.keyReloadIntervalSeconds ?? 30) * 1000,
    keyPublishDelayMs: (jwt.keyPublishDelaySeconds ?? 60) * 1000,
    verifiedTokenCache,
    strictCacheMs,
    linking: options.linking ?? {},
    loginTtlMs: (options.loginTtlSeconds ?? DEFAULT_LOGIN_TTL_SECONDS) * 1000,
    loginStates,
    storeIssuerTokens: options.storeIssuerTokens ?? true,
  };
}
