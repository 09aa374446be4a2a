import { ByokError } from '../errors';

/** An OpenID Connect issuer byok can sign users in with. */
export interface OidcIssuerConfig {
  /** Short id used in routes and cookies (`google`, `dev`, `okta`, …). */
  readonly id: string;
  /** `google` gets Google's email-authority rules; `dev` never links accounts. */
  readonly kind: 'google' | 'oidc' | 'dev';
  /** The issuer identifier; discovery is at `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly clientId: string;
  /** Omit for a public client (PKCE only). */
  readonly clientSecret?: string;
  /** Requested scopes; always includes `openid`. */
  readonly scopes: readonly string[];
  /** Extra authorization request parameters (e.g. Google's `hd`, `access_type`). */
  readonly authorizationParams: Readonly<Record<string, string>>;
  /**
   * Sign-in is refused unless the ID token's `hd` claim equals this (Google Workspace):
   * the `hd` request parameter is only a hint the user can edit.
   */
  readonly requiredHostedDomain?: string;
}

/** Options for {@link google}. */
export interface GoogleIssuerOptions {
  clientId: string;
  clientSecret: string;
  /** Default `['openid', 'email', 'profile']`. */
  scopes?: string[];
  /**
   * Only accounts of this Google Workspace domain may sign in: the account chooser is
   * narrowed with `hd`, and the ID token's `hd` claim is checked at the callback.
   */
  hostedDomain?: string;
  /** Ask for a Google refresh token (`access_type=offline`, `prompt=consent`). */
  offline?: boolean;
}

/**
 * Google as an OpenID Connect issuer (`https://accounts.google.com`).
 *
 * @example
 * createByok({
 *   auth: {
 *     issuers: [google({ clientId: process.env.GOOGLE_CLIENT_ID!, clientSecret: process.env.GOOGLE_CLIENT_SECRET! })],
 *     baseUrl: 'https://api.example',
 *     allowedOrigins: ['https://app.example'],
 *   },
 * });
 */
export function google(options: GoogleIssuerOptions): OidcIssuerConfig {
  requireText(options.clientId, 'google clientId');
  requireText(options.clientSecret, 'google clientSecret');
  const params: Record<string, string> = {};
  if (options.hostedDomain) params.hd = options.hostedDomain;
  if (options.offline) {
    params.access_type = 'offline';
    params.prompt = 'consent';
  }
  return Object.freeze({
    id: 'google',
    kind: 'google' as const,
    issuer: 'https://accounts.google.com',
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    scopes: withOpenid(options.scopes ?? ['openid', 'email', 'profile']),
    authorizationParams: Object.freeze(params),
    ...(options.hostedDomain ? { requiredHostedDomain: options.hostedDomain.toLowerCase() } : {}),
  });
}

/** Options for {@link oidc}. */
export interface GenericIssuerOptions {
  /** Route/cookie id; default derived from the issuer's host name. */
  id?: string;
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** Default `['openid', 'email', 'profile']`. */
  scopes?: string[];
  authorizationParams?: Record<string, string>;
  /** Marks a development issuer (e.g. `startDevIssuer` from @byok/testing): never links accounts by email. */
  development?: boolean;
}

/**
 * Any OpenID Connect issuer that supports discovery and the authorization code flow
 * with PKCE. Plain `http://` is accepted only for loopback issuers (development).
 *
 * @example
 * oidc({ id: 'okta', issuer: 'https://example.okta.com', clientId: process.env.OKTA_CLIENT_ID!, clientSecret: process.env.OKTA_CLIENT_SECRET!, scopes: ['openid', 'email'] });
 */
export function oidc(options: GenericIssuerOptions): OidcIssuerConfig {
  requireText(options.clientId, 'oidc clientId');
  let url: URL;
  try {
    url = new URL(options.issuer);
  } catch (cause) {
    throw new ByokError('config_invalid', 'oidc issuer must be a URL', { cause });
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new ByokError('config_invalid', 'oidc issuer must use https (http only on a loopback address)');
  }
  const id = options.id ?? url.hostname.replace(/[^a-z0-9]+/giu, '-').toLowerCase();
  if (!/^[a-z0-9][a-z0-9_-]{0,39}$/u.test(id)) {
    throw new ByokError('config_invalid', 'oidc id must be lower-case letters, digits, "-" or "_"');
  }
  return Object.freeze({
    id,
    kind: options.development ? ('dev' as const) : ('oidc' as const),
    issuer: options.issuer,
    clientId: options.clientId,
    ...(options.clientSecret === undefined ? {} : { clientSecret: options.clientSecret }),
    scopes: withOpenid(options.scopes ?? ['openid', 'email', 'profile']),
    authorizationParams: Object.freeze({ ...options.authorizationParams }),
  });
}

/**
 * True for `localhost`, `127.0.0.0/8` and `[::1]`: the only hosts a plain-http issuer
 * may have.
 *
 * @example
 * isLoopbackHost(new URL('http://127.0.0.1:9000').hostname); // → true
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127(?:\.\d{1,3}){3}$/u.test(host);
}

function withOpenid(scopes: readonly string[]): readonly string[] {
  return Object.freeze(scopes.includes('openid') ? [...scopes] : ['openid', ...scopes]);
}

function requireText(value: unknown, name: string): void {
  if (typeof value !== 'string' || value.trim() === '') throw new ByokError('config_invalid', `${name} is required`);
}
