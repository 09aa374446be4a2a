import { rateLimitRetryAfterMs, type ProviderFailure } from '@byok/core/llm';

/** The OpenAI error object: `{ message, type, param, code }` (other servers vary the types). */
export interface OpenAiErrorObject {
  message?: unknown;
  type?: unknown;
  param?: unknown;
  code?: unknown;
  status?: unknown;
}

/** The OpenAI error body: `{ error: { message, type, param, code } }`. */
interface OpenAiErrorBody {
  error?: OpenAiErrorObject | string;
  message?: unknown;
}

/** Codes that say the key itself is wrong. */
const KEY_REJECTED_CODES = new Set(['invalid_api_key']);

/** 401 codes about the request's other credentials, not the key (OpenAI `OpenAI-Organization`). */
const NOT_THE_KEY_CODES = new Set(['mismatched_organization']);

/** A restricted key that lacks a scope (`Missing scopes: api.model.read`): OpenAI answers 401, code null. */
const MISSING_PERMISSION = /insufficient permissions|missing scopes/i;

/** Billing states that waiting does not cure. */
const QUOTA_EXHAUSTED_CODES = new Set(['insufficient_quota', 'billing_not_active', 'billing_hard_limit_reached']);

/**
 * Rate limits that waiting minutes does not lift: a per-day limit (`requests per day (RPD)`,
 * `tokens per day (TPD)`), or a request larger than the per-minute limit allows at all
 * (`Request too large … The input or output tokens must be reduced`).
 */
const LIMIT_NOT_PASSING = /\bper day \(|^Request too large/i;

/** Prompt or reply blocks: OpenAI's own `invalid_prompt`, Azure OpenAI's `content_filter`. */
const SAFETY_CODES = new Set(['invalid_prompt', 'content_filter']);

/**
 * The HTTP class an error names by its words, for errors that carry no status (an error
 * event inside a 200 stream): OpenAI's `type`/`code` and the `*_error` types other
 * compatible servers use.
 */
const STATUS_BY_WORD: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  invalid_api_key: 401,
  permission_error: 403,
  permission_denied: 403,
  not_found_error: 404,
  model_not_found: 404,
  request_too_large: 413,
  rate_limit_exceeded: 429,
  rate_limit_error: 429,
  tokens: 429,
  requests: 429,
  insufficient_quota: 429,
  server_error: 500,
  api_error: 500,
  internal_error: 500,
  service_unavailable: 503,
  overloaded_error: 503,
  engine_overloaded: 503,
  timeout: 504,
};

/**
 * Reads an error answer (status, headers, body text) into a {@link ProviderFailure}:
 * `invalid_api_key` (or a 401 not about permissions) is a rejected key; a region, scope or
 * organisation refusal is not; `insufficient_quota`, a per-day limit or a request over the
 * per-minute limit is a spent quota (no retry hint);
 * `invalid_prompt` / `content_filter` a safety block; and a rate limit's retry delay comes
 * from `retry-after-ms`, `retry-after`, or the `x-ratelimit-reset-*` header of the limit
 * that was hit (the error `type`: `tokens` or `requests`).
 */
export function openAiHttpFailure(provider: string, status: number, headers: Headers, bodyText: string): ProviderFailure {
  const parsed = parseJson(bodyText);
  const err = typeof parsed?.error === 'object' && parsed.error !== null ? parsed.error : undefined;
  const message =
    typeof err?.message === 'string'
      ? err.message
      : typeof parsed?.error === 'string'
        ? parsed.error
        : typeof parsed?.message === 'string'
          ? parsed.message
          : bodyText.slice(0, 200) || undefined;
  const failure = classify(provider, status, err ?? {}, message);
  if (!failure.quotaExhausted) {
    const retryAfterMs = retryAfter(headers, typeof err?.type === 'string' ? err.type : undefined, status);
    if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
  }
  return failure;
}

/**
 * An error inside a 200 stream: a `data: {"error": …}` chunk or an `event: error` event.
 * It keeps the HTTP class its status, numeric code or type names (a rate limit is a 429, a
 * `server_error` a 500, ...), so it maps as the same failure would before the stream.
 */
export function openAiStreamFailure(provider: string, error: OpenAiErrorObject | string): ProviderFailure {
  const err = typeof error === 'string' ? { message: error } : error;
  const status = statusOf(err);
  return classify(provider, status, err, typeof err.message === 'string' ? err.message : undefined);
}

function classify(provider: string, status: number | undefined, err: OpenAiErrorObject, message: string | undefined): ProviderFailure {
  const code = typeof err.code === 'string' ? err.code : undefined;
  const type = typeof err.type === 'string' ? err.type : undefined;
  const providerCode = code ?? type;
  const words = [code, type].filter((w): w is string => w !== undefined);
  const failure: ProviderFailure = {
    provider,
    kind: words.some((w) => SAFETY_CODES.has(w)) ? 'safety' : 'http',
    ...(status !== undefined ? { status } : {}),
    ...(providerCode ? { providerCode } : {}),
    ...(message ? { message } : {}),
  };
  const keyRejected = keyIsRejected(status, words, message);
  if (keyRejected !== undefined) failure.keyRejected = keyRejected;
  if (words.some((w) => QUOTA_EXHAUSTED_CODES.has(w))) failure.quotaExhausted = true;
  if (code === 'rate_limit_exceeded' && message !== undefined && LIMIT_NOT_PASSING.test(message)) failure.quotaExhausted = true;
  return failure;
}

/** true: the key itself; false: said explicitly not to be the key; undefined: no opinion. */
function keyIsRejected(status: number | undefined, words: string[], message: string | undefined): boolean | undefined {
  if (words.some((w) => KEY_REJECTED_CODES.has(w))) return true;
  if (status !== 401) return status === undefined ? undefined : false;
  if (words.some((w) => NOT_THE_KEY_CODES.has(w))) return false;
  if (message !== undefined && MISSING_PERMISSION.test(message)) return false;
  return true;
}

function statusOf(err: OpenAiErrorObject): number | undefined {
  for (const value of [err.status, err.code]) {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{3}$/.test(value) ? Number(value) : undefined;
    if (n !== undefined && n >= 400 && n <= 599) return n;
  }
  for (const value of [err.code, err.type]) {
    if (typeof value === 'string' && STATUS_BY_WORD[value] !== undefined) return STATUS_BY_WORD[value];
  }
  return undefined;
}

/**
 * `retry-after-ms` (OpenAI's SDKs read it first), then `retry-after`, then — on a 429 only,
 * as OpenAI puts `x-ratelimit-*` headers on every answer — the reset header of the limit
 * that was hit (the longer of the two when the type is unknown).
 */
function retryAfter(headers: Headers, limitType: string | undefined, status: number): number | undefined {
  if (status === 429) return rateLimitRetryAfterMs({ headers, limitType });
  return rateLimitRetryAfterMs({
    headers: { 'retry-after-ms': headers.get('retry-after-ms') ?? undefined, 'retry-after': headers.get('retry-after') ?? undefined },
  });
}

function parseJson(text: string): OpenAiErrorBody | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as OpenAiErrorBody) : undefined;
  } catch {
    return undefined;
  }
}
