import { parse as parseCookie } from 'cookie';
import type { SetCookie } from './types';

/**
 * Parses a Cookie header with the `cookie` package into a map without a prototype, so a
 * name such as `constructor`, `toString` or `__proto__` is only ever a cookie the client
 * sent, never an inherited property. The first occurrence of a name wins (browsers send
 * the most specific first); a value in double quotes loses them; a value that is not
 * valid percent-encoding is kept as sent; a cookie without a name is ignored.
 *
 * @example
 * parseCookieHeader('byok_at=abc; theme=%22dark%22'); // { byok_at: 'abc', theme: '"dark"' }
 * parseCookieHeader('a=1').constructor; // undefined
 */
export function parseCookieHeader(header: string | undefined): Record<string, string> {
  if (!header) return Object.create(null) as Record<string, string>;
  const cookies = parseCookie(header, { decode: decodeCookieValue }) as Record<string, string>;
  delete cookies[''];
  return cookies;
}

function decodeCookieValue(raw: string): string {
  const value = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A path attribute: printable ASCII without `;` (RFC 6265 §4.1.1 `path-value`). */
const PATH = /^\/[\u0020-\u003A\u003C-\u007E]*$/;
/** A domain attribute: DNS labels, an optional leading dot. */
const DOMAIN = /^\.?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * Serialises one Set-Cookie header value. A name, path or domain that would change the
 * header's meaning (a `;`, a control character, a space in a domain) is a TypeError.
 */
export function serializeCookie(cookie: SetCookie): string {
  if (!TOKEN.test(cookie.name)) throw new TypeError(`invalid cookie name`);
  const path = cookie.path ?? '/';
  if (!PATH.test(path)) throw new TypeError('invalid cookie path');
  if (cookie.domain && !DOMAIN.test(cookie.domain)) throw new TypeError('invalid cookie domain');
  let out = `${cookie.name}=${encodeURIComponent(cookie.value)}`;
  out += `; Path=${path}`;
  if (cookie.domain) out += `; Domain=${cookie.domain}`;
  if (cookie.maxAgeSeconds !== undefined) {
    out += `; Max-Age=${Math.floor(cookie.maxAgeSeconds)}`;
    if (cookie.maxAgeSeconds <= 0) out += '; Expires=Thu, 01 Jan 1970 00:00:00 GMT';
  }
  if (cookie.httpOnly !== false) out += '; HttpOnly';
  if (cookie.secure) out += '; Secure';
  out += `; SameSite=${cookie.sameSite ?? 'Lax'}`;
  return out;
}
