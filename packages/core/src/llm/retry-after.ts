/**
 * Reads an HTTP `Retry-After` value (delta-seconds or an HTTP date) as milliseconds
 * from `now`. Returns `undefined` for a missing or unreadable value; never negative.
 *
 * @example
 * parseRetryAfter('30') // 30000
 * parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', Date.parse('Wed, 21 Oct 2026 07:27:00 GMT')) // 60000
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // An HTTP date names its month (IMF-fixdate, RFC 850 or asctime); bare numbers are not dates.
  if (!/[a-z]{3}/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Reads a duration such as Google's `RetryInfo.retryDelay` (`"29s"`, `"1.5s"`) or
 * OpenAI's rate-limit reset headers (`"6m0s"`, `"20ms"`) as milliseconds.
 *
 * @example
 * parseDurationMs('29s') // 29000
 * parseDurationMs('1m30s') // 90000
 */
export function parseDurationMs(value: string | null | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const match of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * (UNIT_MS[match[2] as string] ?? 0);
  }
  return Math.round(total);
}

/** Anything with a case-insensitive `get` (a fetch `Headers`), or a plain header record. */
export type HeaderSource = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

/** Options of {@link rateLimitRetryAfterMs}. */
export interface RateLimitRetryOptions {
  headers: HeaderSource | undefined;
  /**
   * Which limit was hit, as the API says it (OpenAI's error `type`: `tokens` or `requests`).
   * It picks the matching `x-ratelimit-reset-*` header only; unknown means the longer of the two.
   */
  limitType?: string;
  now?: number;
}

function header(source: HeaderSource | undefined, name: string): string | undefined {
  if (source === undefined) return undefined;
  if (typeof (source as { get?: unknown }).get === 'function') {
    return (source as { get(name: string): string | null }).get(name) ?? undefined;
  }
  for (const [key, value] of Object.entries(source as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() !== name) continue;
    return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/**
 * The wait a rate-limit answer asks for, in milliseconds: `retry-after-ms`, then
 * `retry-after`, then the `x-ratelimit-reset-tokens` or `x-ratelimit-reset-requests` header
 * of the limit that was hit (`limitType`). `undefined` when the answer gives no hint.
 *
 * @example
 * const res = await fetch('https://api.openai.com/v1/chat/completions', { method: 'POST' });
 * rateLimitRetryAfterMs({ headers: res.headers, limitType: 'tokens' }) // 360000 for 'x-ratelimit-reset-tokens: 6m0s'
 */
export function rateLimitRetryAfterMs(options: RateLimitRetryOptions): number | undefined {
  const { headers, limitType } = options;
  const ms = header(headers, 'retry-after-ms')?.trim();
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return Math.round(Number(ms));
  const retryAfter = parseRetryAfter(header(headers, 'retry-after'), options.now);
  if (retryAfter !== undefined) return retryAfter;
  const tokens = parseDurationMs(header(headers, 'x-ratelimit-reset-tokens'));
  const requests = parseDurationMs(header(headers, 'x-ratelimit-reset-requests'));
  if (limitType === 'tokens') return tokens;
  if (limitType === 'requests') return requests;
  if (tokens === undefined) return requests;
  if (requests === undefined) return tokens;
  return Math.max(tokens, requests);
}
