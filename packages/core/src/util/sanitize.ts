/**
 * The one recursive sanitiser. Everything that may reach a log line, an error cause or
 * an error body passes through it: values under secret-looking names are replaced, and
 * secret-shaped substrings (Google API keys, bearer tokens, JWTs, byok's own tokens,
 * OpenAI-style keys, secrets in query strings) are masked wherever they appear.
 */
export const REDACTED = '[redacted]';

const SECRET_NAMES = new Set([
  'key',
  'apikey',
  'token',
  'idtoken',
  'accesstoken',
  'refreshtoken',
  'code',
  'codeverifier',
  'secret',
  'clientsecret',
  'password',
  'passwd',
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'xgoogapikey',
  'xapikey',
  'privatekey',
  'plaintext',
  'masterkey',
  'masterkeys',
  'byokmasterkeys',
  'keys',
  'datakey',
  'dek',
  'secretaccesskey',
  'sessiontoken',
  'signingkey',
  // private members of a JWK
  'd',
  'k',
  'p',
  'q',
  'dp',
  'dq',
  'qi',
]);

const SECRET_SUFFIXES = ['token', 'secret', 'password', 'apikey', 'privatekey', 'secretkey', 'accesskey', 'signingkey'];

/**
 * `code` is also the name byok gives its error codes; those (lower-case words joined by
 * underscores, no digits) are kept. OAuth codes carry digits, capitals or punctuation.
 */
const ERROR_CODE_SHAPE = /^[a-z]{2,20}(?:_[a-z]{2,20}){0,4}$/;

const SHAPES: Array<[RegExp, string]> = [
  // secrets carried in query strings or form bodies
  [/([?&;](?:code|key|api_key|apikey|token|access_token|id_token|refresh_token|client_secret|code_verifier|password)=)[^&\s"';]+/gi, `$1${REDACTED}`],
  // Authorization header values
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${REDACTED}`],
  // JWTs (header.payload.signature, base64url)
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // secrets inside JSON text carried in a string
  [/("(?:api_?key|apikey|token|access_token|id_token|refresh_token|secret|client_secret|password|code_verifier|private_key)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, `$1"${REDACTED}"`],
  // Google API keys
  [/\bAIza[0-9A-Za-z_-]{30,}/g, REDACTED],
  // Google OAuth access and refresh tokens
  [/\bya29\.[0-9A-Za-z_.-]{20,}/g, REDACTED],
  [/(^|[^0-9A-Za-z])1\/\/[0-9A-Za-z_-]{20,}/g, `$1${REDACTED}`],
  // OpenAI-style keys
  [/\bsk-[A-Za-z0-9_-]{16,}/g, REDACTED],
  // byok's own tokens (refresh tokens, state cookies): byok_<kind>_<...>
  [/\bbyok_[a-z]{2,6}_[A-Za-z0-9._~-]{8,}/g, REDACTED],
];

function normaliseName(name: string): string {
  return name.toLowerCase().replace(/[-_\s.]/g, '');
}

/** True when a property name says its value is a secret. */
export function isSecretName(name: string): boolean {
  const n = normaliseName(name);
  if (SECRET_NAMES.has(n)) return true;
  return SECRET_SUFFIXES.some((suffix) => n.endsWith(suffix));
}

/** Masks secret-shaped substrings in a string. */
export function sanitizeString(value: string): string {
  let out = value;
  for (const [pattern, replacement] of SHAPES) out = out.replace(pattern, replacement);
  return out;
}

/**
 * Returns a copy of `value` with secrets removed. Never mutates its input; handles
 * cycles, Errors, Maps, typed arrays and deep nesting (cut at depth 12).
 *
 * @example
 * sanitize({ headers: { Authorization: 'Bearer abc' }, msg: 'key=AIza...' })
 * // → { headers: { Authorization: '[redacted]' }, msg: 'key=[redacted]' }
 */
export function sanitize(value: unknown): unknown {
  return walk(value, 0, new WeakMap());
}

function walk(value: unknown, depth: number, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === 'string') return sanitizeString(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' ? '[function]' : value;
  }
  if (seen.has(value)) return '[circular]';
  if (depth > 12) return '[truncated]';
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return '[binary]';
  if (value instanceof Date) return value;
  if (typeof (value as { export?: unknown }).export === 'function' && (value as { type?: unknown }).type !== undefined) {
    return '[key object]';
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(walk(item, depth + 1, seen));
    return out;
  }
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    seen.set(value, out);
    for (const [k, v] of value) assign(out, String(k), v, depth, seen);
    return out;
  }
  const out: Record<string, unknown> = {};
  seen.set(value, out);
  if (value instanceof Error) {
    out.name = value.name;
    out.message = sanitizeString(value.message);
    if (typeof value.stack === 'string') out.stack = sanitizeString(value.stack);
  }
  for (const k of Object.keys(value)) assign(out, k, (value as Record<string, unknown>)[k], depth, seen);
  return out;
}

function assign(out: Record<string, unknown>, k: string, v: unknown, depth: number, seen: WeakMap<object, unknown>): void {
  if (v !== undefined && v !== null && isSecretName(k)) {
    if (normaliseName(k) === 'code' && typeof v === 'string' && ERROR_CODE_SHAPE.test(v)) {
      out[k] = v;
    } else if (normaliseName(k) === 'code' && typeof v === 'number') {
      out[k] = v;
    } else {
      out[k] = REDACTED;
    }
    return;
  }
  out[k] = walk(v, depth + 1, seen);
}
