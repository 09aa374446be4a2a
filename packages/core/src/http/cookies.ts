import type { SetCookie } from './types';

/** Parses a Cookie header; the first occurrence of a name wins, as browsers send most specific first. */
export function parseCookieHeader(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || name in out) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      out[name] = value;
    }
  }
  return out;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Serialises one Set-Cookie header value. */
export function serializeCookie(cookie: SetCookie): string {
  if (!TOKEN.test(cookie.name)) throw new TypeError(`invalid cookie name`);
  let out = `${cookie.name}=${encodeURIComponent(cookie.value)}`;
  out += `; Path=${cookie.path ?? '/'}`;
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
