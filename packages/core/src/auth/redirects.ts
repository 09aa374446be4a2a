import { ByokError } from '../errors';

/** What {@link safeReturnTo} does with a value it refuses. */
export interface SafeReturnToOptions {
  /** `'fallback'` (default) returns the fallback; `'throw'` raises `redirect_not_allowed`. */
  onReject?: 'fallback' | 'throw';
  /** Longest accepted value, in characters (default 2048). */
  maxLength?: number;
}

// Raw input may not contain C0/C1 controls, DEL, any Unicode space or invisible
// formatting character: WHATWG URL silently strips tabs and newlines ("/\t/evil" →
// "//evil") and trims leading/trailing C0 and spaces, so such input is never honest.
const FORBIDDEN_RAW = /[\u0000-\u0020\u007f-\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]/u;
// After percent-decoding: controls (a decoded "%09" or "%0a") are never honest either.
const FORBIDDEN_DECODED = /[\u0000-\u001f\u007f-\u009f]/u;
const MAX_DECODE_ROUNDS = 4;

/**
 * Checks a `returnTo` value before byok redirects a browser to it. Accepts only
 * an absolute http(s) URL whose origin exactly equals one of `allowedOrigins`, or a
 * path starting with a single `/`, resolved against the first allowed origin. Refuses
 * protocol-relative (`//evil.example`), other schemes (`javascript:`, `data:`),
 * backslash forms (`/\evil.example`, `\\evil`), percent-encoded variants
 * (`/%2F%2Fevil.example`, `%5C`), control characters and whitespace, and userinfo
 * (`https://good.example@evil.example`). An absent or empty value yields the fallback.
 *
 * @returns an absolute URL string that is safe to put in a `Location` header.
 * @throws ByokError `redirect_not_allowed` when refused and `onReject` is `'throw'`;
 *   `config_invalid` when an allowed origin is not an http(s) origin.
 *
 * @example
 * safeReturnTo('/chat/42', ['https://app.example'], 'https://app.example/');
 * // → 'https://app.example/chat/42'
 * safeReturnTo('//evil.example', ['https://app.example'], 'https://app.example/');
 * // → 'https://app.example/'
 * safeReturnTo('https://evil.example', ['https://app.example'], '/', { onReject: 'throw' });
 * // throws ByokError('redirect_not_allowed')
 */
export function safeReturnTo(
  value: unknown,
  allowedOrigins: readonly string[],
  fallback: string,
  options: SafeReturnToOptions = {},
): string {
  const origins = allowedOrigins.map(normalizeOrigin);
  if (value === undefined || value === null || value === '') return fallback;
  const accepted = typeof value === 'string' ? check(value, origins, options.maxLength ?? 2048) : null;
  if (accepted !== null) return accepted;
  if (options.onReject === 'throw') {
    throw new ByokError('redirect_not_allowed', 'The return address is not allowed');
  }
  return fallback;
}

/**
 * Normalises a configured origin (`https://app.example/` → `https://app.example`).
 * Exported for the CSRF check and configuration validation, which share the rule.
 *
 * @example
 * normalizeOrigin('https://App.Example:443/'); // → 'https://app.example'
 */
export function normalizeOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch (cause) {
    throw new ByokError('config_invalid', 'An allowed origin is not a URL', { cause });
  }
  const pathOk = url.pathname === '/' || url.pathname === '';
  if (
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.username !== '' ||
    url.password !== '' ||
    !pathOk ||
    url.search !== '' ||
    url.hash !== ''
  ) {
    throw new ByokError('config_invalid', 'An allowed origin must be a bare http(s) origin such as https://app.example');
  }
  return url.origin;
}

function check(raw: string, origins: readonly string[], maxLength: number): string | null {
  if (raw.length > maxLength) return null;
  if (FORBIDDEN_RAW.test(raw) || raw.includes('\\')) return null;
  const decoded = decodeFully(raw);
  if (decoded === null) return null;
  for (const form of decoded) {
    if (FORBIDDEN_DECODED.test(form) || form.includes('\\')) return null;
    if (form.startsWith('//')) return null;
  }

  if (raw.startsWith('/')) {
    // Also catches an encoded second slash: "/%2F/evil" decodes to "//evil" above.
    const base = origins[0];
    if (base === undefined) return null;
    const url = parse(raw, base);
    if (url === null || url.origin !== base) return null;
    return url.href;
  }

  // Absolute: must literally begin with a scheme and "//" (refuses "https:evil.example",
  // whose WHATWG parse is special-cased), be http(s) and carry no userinfo.
  if (!/^https?:\/\/[^/]/iu.test(raw)) return null;
  const url = parse(raw);
  if (url === null) return null;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  if (url.username !== '' || url.password !== '') return null;
  // An "@" in the authority is userinfo even when the parser found none (e.g. "https://@evil").
  const authority = raw.slice(raw.indexOf('//') + 2).split(/[/?#]/u, 1)[0] ?? '';
  if (authority.includes('@') || authority.includes('%')) return null;
  if (!origins.includes(url.origin)) return null;
  return url.href;
}

/** Every distinct percent-decoding of `value` (including itself), or null if malformed. */
function decodeFully(value: string): string[] | null {
  const forms = [value];
  let current = value;
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return null;
    }
    if (next === current) return forms;
    forms.push(next);
    current = next;
  }
  // Still changing after several rounds: layered encoding has no honest use here.
  return null;
}

function parse(value: string, base?: string): URL | null {
  try {
    return base === undefined ? new URL(value) : new URL(value, base);
  } catch {
    return null;
  }
}
