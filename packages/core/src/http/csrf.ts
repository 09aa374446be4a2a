import { ByokError } from '../errors';
import { normalizeOrigin } from '../auth/redirects';

/** Request headers as a Fetch `Headers` or a Node-style record (any key case). */
export type HeaderBag =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/** What {@link checkCsrf} needs to know about a request. */
export interface CsrfInput {
  method: string;
  headers: HeaderBag;
  /** How the request was authenticated: only cookies are ambient, so only they need the check. */
  authenticatedBy: 'cookie' | 'bearer' | 'none';
  /** An event stream (a chat turn): checked even when its method is GET. */
  isStream?: boolean;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cross-site request forgery check, applied by core's `authenticate()` (never by an
 * adapter). A cookie-authenticated request with an unsafe method, or any
 * cookie-authenticated stream, must carry an `Origin` that exactly equals an allowed
 * origin, or `Sec-Fetch-Site: same-origin`. An `Origin: null` (sandboxed frames,
 * privacy redirects) is always refused, and a missing `Origin` is refused unless the
 * browser vouches for the request with `Sec-Fetch-Site: same-origin`. Sibling
 * subdomains are not allowed origins. Bearer-authenticated and anonymous requests
 * carry no ambient credential and are exempt.
 *
 * @throws ByokError `csrf_rejected`
 *
 * @example
 * checkCsrf(
 *   { method: 'POST', headers: { origin: 'https://app.example' }, authenticatedBy: 'cookie' },
 *   ['https://app.example'],
 * ); // passes
 * checkCsrf(
 *   { method: 'POST', headers: { origin: 'https://evil.app.example' }, authenticatedBy: 'cookie' },
 *   ['https://app.example'],
 * ); // throws ByokError('csrf_rejected')
 */
export function checkCsrf(input: CsrfInput, allowedOrigins: readonly string[]): void {
  if (input.authenticatedBy !== 'cookie') return;
  const method = input.method.toUpperCase();
  if (SAFE_METHODS.has(method) && input.isStream !== true) return;

  const origin = singleHeader(input.headers, 'origin');
  const fetchSite = singleHeader(input.headers, 'sec-fetch-site');
  if (origin === 'multiple' || fetchSite === 'multiple') reject('duplicate Origin or Sec-Fetch-Site header');
  if (origin === 'null') reject('Origin null is not allowed');
  if (origin !== undefined && allowedOrigins.map(normalizeOrigin).includes(origin)) return;
  if (fetchSite === 'same-origin') return;
  reject(origin === undefined ? 'Origin header missing' : 'Origin not allowed');
}

function reject(reason: string): never {
  throw new ByokError('csrf_rejected', `Cross-site request refused: ${reason}`);
}

function singleHeader(headers: HeaderBag, name: string): string | undefined | 'multiple' {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const value = (headers as { get(name: string): string | null }).get(name);
    if (value === null) return undefined;
    // Fetch's Headers joins repeated headers with ", ".
    return value.includes(',') ? 'multiple' : value;
  }
  let found: string | undefined;
  let count = 0;
  for (const [key, value] of Object.entries(headers as Record<string, string | readonly string[] | undefined>)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    const values = typeof value === 'string' ? [value] : value;
    for (const v of values) {
      count++;
      found = v;
    }
  }
  if (count > 1 || (found !== undefined && found.includes(','))) return 'multiple';
  return found;
}
