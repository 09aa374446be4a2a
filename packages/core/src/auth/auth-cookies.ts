import { ByokError } from '../errors';
import type { SetCookie } from '../http/types';
import { isLoopbackHost } from './issuers';

/** The cookie names and attributes of one deployment. */
export interface AuthCookieNames {
  access: string;
  refresh: string;
  login: string;
  /** True on https: `__Host-` names with `Secure`. */
  secure: boolean;
}

/**
 * `__Host-` names with `Secure` when byok is served over https; plain names (and no
 * `Secure`) only on http://localhost or a loopback address outside production.
 *
 * @throws ByokError `config_invalid` for plain http on any other host, or in production
 * @example
 * authCookieNames('https://api.example'); // { access: '__Host-byok_at', refresh: '__Host-byok_rt', login: '__Host-byok_login', secure: true }
 */
export function authCookieNames(baseUrl: string): AuthCookieNames {
  const url = new URL(baseUrl);
  if (url.protocol === 'https:') {
    return { access: '__Host-byok_at', refresh: '__Host-byok_rt', login: '__Host-byok_login', secure: true };
  }
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname) && process.env.NODE_ENV !== 'production') {
    return { access: 'byok_at', refresh: 'byok_rt', login: 'byok_login', secure: false };
  }
  throw new ByokError('config_invalid', 'auth.baseUrl must be https (plain http only on a loopback address outside production)');
}

/**
 * An HttpOnly, SameSite=Lax, Path=/ cookie (Secure under `__Host-`); `maxAgeSeconds: 0`
 * deletes it.
 *
 * @example
 * authCookie(names, names.access, token, 300);
 */
export function authCookie(names: AuthCookieNames, name: string, value: string, maxAgeSeconds: number): SetCookie {
  return { name, value, path: '/', maxAgeSeconds, httpOnly: true, secure: names.secure, sameSite: 'Lax' };
}
