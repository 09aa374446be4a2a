import { ByokError, type ByokErrorCode } from '../errors';
import { REDACTED, sanitize, sanitizeString } from '../util/sanitize';
import type { CallDeadline } from './call-deadline';
import type { KeyValidation } from './llm-provider';

/**
 * What went wrong in a provider call, in provider-neutral terms. Each provider package
 * reads its API's error bodies into this shape; {@link providerError} and
 * {@link keyValidationFromFailure} are the one place that turns it into a `ByokError` code
 * or a key status, so every provider behaves alike.
 */
export interface ProviderFailure {
  /** The provider id (`gemini`, `openai`, ...). */
  provider: string;
  /**
   * `http`: the API answered with an error status (or an error chunk mid-stream).
   * `network`: no usable answer (refused, reset, DNS, TLS, cut mid-stream).
   * `timeout`: no answer within the deadline. `aborted`: the caller's signal fired.
   * `safety`: the prompt or the reply was blocked by the provider's safety filters.
   * `invalid-response`: an answer byok cannot read.
   */
  kind: 'http' | 'network' | 'timeout' | 'aborted' | 'safety' | 'invalid-response';
  /** The HTTP status (or the error code of a mid-stream error chunk). */
  status?: number;
  /** The API's own error code or status word (`RESOURCE_EXHAUSTED`, `invalid_api_key`, ...). */
  providerCode?: string;
  /**
   * The API says the key itself is bad (Gemini `API_KEY_INVALID`, OpenAI `invalid_api_key`).
   * Only this (or a 401 not marked `false`) makes a key `invalid`: a region, billing,
   * permission or disabled-API refusal is about the account, not the key.
   */
  keyRejected?: boolean;
  /**
   * The quota is spent and waiting does not help (OpenAI `insufficient_quota`, a Gemini
   * per-day quota or a quota whose limit is 0). Turns a 429 into `provider_quota_exhausted`
   * and drops any retry hint.
   */
  quotaExhausted?: boolean;
  /** The API's message. Secrets are scrubbed before it is used. */
  message?: string;
  /** From `Retry-After` (see `rateLimitRetryAfterMs`) or the API's retry info. */
  retryAfterMs?: number;
  /** Timeout in force, for the message of a `timeout`. */
  timeoutMs?: number;
  /** The original error; only a scrubbed copy is kept. */
  cause?: unknown;
}

const MAX_MESSAGE = 300;

/**
 * A deep copy of `value` with every occurrence of each secret (and its URL-encoded form)
 * replaced, then passed through `sanitize`. Errors become plain `Error` copies whose
 * message also carries their nested causes' messages (e.g. `fetch failed: connect
 * ECONNREFUSED ...`), so the useful part survives without the original objects.
 *
 * @example
 * (scrubSecrets(new Error('bad key abc123'), ['abc123']) as Error).message // 'bad key [redacted]'
 */
export function scrubSecrets(value: unknown, secrets: readonly string[]): unknown {
  const needles = secretNeedles(secrets);
  if (value instanceof Error) return scrubError(value, needles);
  return sanitize(deepReplace(value, needles, 0, new WeakSet()));
}

/** Replaces each secret in a string (and masks secret-shaped substrings). */
export function scrubText(text: string, secrets: readonly string[]): string {
  return sanitizeString(replaceAll(text, secretNeedles(secrets)));
}

function secretNeedles(secrets: readonly string[]): string[] {
  const out = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length < 4) continue;
    out.add(secret);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out.add(encoded);
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...out].sort((a, b) => b.length - a.length);
}

function replaceAll(text: string, needles: readonly string[]): string {
  let out = text;
  for (const needle of needles) out = out.split(needle).join(REDACTED);
  return out;
}

function deepReplace(value: unknown, needles: readonly string[], depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return replaceAll(value, needles);
  if (value === null || typeof value !== 'object' || depth > 12) return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) return scrubError(value, needles);
  if (Array.isArray(value)) return value.map((item) => deepReplace(item, needles, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = deepReplace(v, needles, depth + 1, seen);
  return out;
}

function scrubError(error: Error, needles: readonly string[]): Error {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 4; depth += 1) {
    if (current.message) messages.push(current.message);
    current = (current as { cause?: unknown }).cause;
  }
  const copy = new Error(sanitizeString(replaceAll(messages.join(': '), needles)));
  copy.name = error.name;
  const code = (error as { code?: unknown }).code ?? ((error as { cause?: { code?: unknown } }).cause?.code);
  if (typeof code === 'string' || typeof code === 'number') (copy as { code?: unknown }).code = code;
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number') (copy as { status?: unknown }).status = status;
  copy.stack = typeof error.stack === 'string' ? sanitizeString(replaceAll(error.stack, needles)) : undefined;
  return copy;
}

function cleanMessage(message: string | undefined, secrets: readonly string[]): string | undefined {
  if (message === undefined) return undefined;
  const text = scrubText(message, secrets).replace(/\s+/g, ' ').trim();
  if (text === '') return undefined;
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}

function describeStatus(failure: ProviderFailure): string {
  const parts = [failure.status, failure.providerCode].filter((p) => p !== undefined && p !== '');
  return parts.length === 0 ? '' : ` (${parts.join(' ')})`;
}

/** The key itself was refused: the API said so, or answered 401 (unless told otherwise). */
function keyIsRejected(failure: ProviderFailure): boolean {
  if (failure.kind !== 'http') return false;
  if (failure.keyRejected !== undefined) return failure.keyRejected && (failure.status ?? 0) < 500;
  return failure.status === 401;
}

/** The ByokError code for an HTTP error answer. */
function codeForHttp(failure: ProviderFailure): ByokErrorCode {
  const status = failure.status ?? 0;
  if (keyIsRejected(failure)) return 'key_invalid';
  if (status === 402 || failure.quotaExhausted === true) {
    return 'provider_quota_exhausted';
  }
  if (status === 403) return 'provider_permission_denied';
  if (status === 429) return 'provider_rate_limited';
  if (status === 408 || status >= 500) return 'provider_unavailable';
  return 'provider_error';
}

/**
 * Turns a provider failure into the `ByokError` a generate/stream call throws:
 * 401 or a rejected key → `key_invalid`; 402 or a spent quota (`quotaExhausted`) →
 * `provider_quota_exhausted` (no retry hint); 403 → `provider_permission_denied`; 429 →
 * `provider_rate_limited` (with `details.retryAfterMs`); 408/5xx → `provider_unavailable`;
 * network errors and timeouts → `provider_network_error`; a safety block →
 * `provider_safety_block`; the caller's abort → `aborted`; anything else → `provider_error`.
 * `secrets` (the API key) are scrubbed from the message and the cause.
 *
 * @example
 * throw providerError({ provider: 'gemini', kind: 'http', status: 429, retryAfterMs: 29_000 }, [apiKey]);
 */
export function providerError(failure: ProviderFailure, secrets: readonly string[] = []): ByokError {
  const message = cleanMessage(failure.message, secrets);
  const cause = failure.cause === undefined ? undefined : scrubSecrets(failure.cause, secrets);
  const details: Record<string, unknown> = { provider: failure.provider };
  if (failure.status !== undefined) details.providerStatus = failure.status;
  if (failure.providerCode !== undefined) details.providerCode = failure.providerCode;
  if (failure.retryAfterMs !== undefined && !failure.quotaExhausted) details.retryAfterMs = failure.retryAfterMs;
  const who = failure.provider;
  const suffix = message === undefined ? '' : `: ${message}`;
  switch (failure.kind) {
    case 'aborted':
      return new ByokError('aborted', `The ${who} request was aborted`, { cause, details });
    case 'timeout':
      details.timeout = true;
      return new ByokError(
        'provider_network_error',
        `${who} did not answer in time${failure.timeoutMs ? ` (${failure.timeoutMs} ms)` : ''}`,
        { cause, details },
      );
    case 'network':
      return new ByokError('provider_network_error', `Could not reach ${who}${suffix}`, { cause, details });
    case 'safety':
      return new ByokError('provider_safety_block', `${who} blocked the content${suffix}`, { cause, details });
    case 'invalid-response':
      return new ByokError('provider_error', `Unreadable answer from ${who}${suffix}`, { cause, details });
    case 'http': {
      const code = codeForHttp(failure);
      if (code === 'provider_quota_exhausted') delete details.retryAfterMs;
      const lead: Record<ByokErrorCode, string> = {
        key_invalid: `${who} rejected the API key`,
        provider_permission_denied: `${who} denied permission`,
        provider_rate_limited: `${who} rate limit reached, retry later`,
        provider_quota_exhausted: `${who} quota exhausted`,
        provider_unavailable: `${who} is unavailable`,
      } as Record<ByokErrorCode, string>;
      return new ByokError(code, `${lead[code] ?? `${who} returned an error`}${describeStatus(failure)}${suffix}`, {
        cause,
        details,
      });
    }
  }
}

/**
 * Turns the failure of a key check into a key status (DESIGN §4). Only an answer that
 * rejects the key itself (`keyRejected`, or a 401) is `invalid`; everything else — a
 * region or location refusal, a disabled API, a permission or billing problem, a rate
 * limit or a spent quota, a 5xx, a network error, a timeout — is `unverified` with a
 * reason the user can act on, so a valid key is never made unstorable. The caller's abort
 * is thrown as `aborted`.
 *
 * @example
 * const check = keyValidationFromFailure({ provider: 'gemini', kind: 'http', status: 400, providerCode: 'API_KEY_INVALID', keyRejected: true }, [apiKey]);
 * // { status: 'invalid', reason: 'gemini rejected the key (400 API_KEY_INVALID)' }
 */
export function keyValidationFromFailure(failure: ProviderFailure, secrets: readonly string[] = []): KeyValidation {
  if (failure.kind === 'aborted') throw providerError(failure, secrets);
  const message = cleanMessage(failure.message, secrets);
  const suffix = message === undefined ? '' : `: ${message}`;
  const who = failure.provider;
  if (failure.kind === 'http') {
    const status = failure.status ?? 0;
    if (keyIsRejected(failure)) {
      return { status: 'invalid', reason: `${who} rejected the key${describeStatus(failure)}${suffix}` };
    }
    const code = codeForHttp(failure);
    if (code === 'provider_quota_exhausted') {
      return { status: 'unverified', reason: `${who} quota exhausted for this key's account${describeStatus(failure)}${suffix}` };
    }
    const retry = failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs };
    if (status === 429) {
      return { status: 'unverified', reason: `${who} rate limit reached while checking the key${suffix}`, ...retry };
    }
    if (status === 408 || status >= 500) {
      return { status: 'unverified', reason: `${who} is unavailable${describeStatus(failure)}${suffix}`, ...retry };
    }
    if (status === 403) {
      return { status: 'unverified', reason: `${who} refused the request for this key's account${describeStatus(failure)}${suffix}` };
    }
    return { status: 'unverified', reason: `${who} could not check the key${describeStatus(failure)}${suffix}` };
  }
  if (failure.kind === 'timeout') {
    return {
      status: 'unverified',
      reason: `${who} did not answer in time${failure.timeoutMs ? ` (${failure.timeoutMs} ms)` : ''}`,
    };
  }
  if (failure.kind === 'network') {
    const detail = cleanMessage(failure.cause instanceof Error ? (scrubSecrets(failure.cause, secrets) as Error).message : undefined, secrets);
    return { status: 'unverified', reason: `Could not reach ${who}${detail === undefined ? suffix : `: ${detail}`}` };
  }
  return { status: 'unverified', reason: `Unexpected answer from ${who}${suffix}` };
}

/**
 * Classifies an error thrown by fetch or a vendor client that carries no HTTP answer:
 * the caller's abort, the deadline's timeout, or a network failure.
 *
 * @example
 * const deadline = startCallDeadline({ signal, timeoutMs: 30_000 });
 * try { await fetch('https://api.openai.com/v1/models', { headers: { authorization: `Bearer ${apiKey}` }, signal: deadline.signal }); }
 * catch (e) { throw providerError(failureFromThrown('openai', e, deadline), [apiKey]); }
 * finally { deadline.dispose(); }
 */
export function failureFromThrown(provider: string, error: unknown, deadline?: CallDeadline): ProviderFailure {
  if (deadline?.callerAborted()) return { provider, kind: 'aborted', cause: error };
  if (deadline?.timedOut()) return { provider, kind: 'timeout', timeoutMs: deadline.timeoutMs, cause: error };
  return { provider, kind: 'network', cause: error };
}
