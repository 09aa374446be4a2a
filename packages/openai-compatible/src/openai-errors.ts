import { parseDurationMs, parseRetryAfter, type ProviderFailure } from '@byok/core';

/** The OpenAI error body: `{ error: { message, type, param, code } }`. */
interface OpenAiErrorBody {
  error?: { message?: unknown; type?: unknown; code?: unknown; param?: unknown } | string;
  message?: unknown;
}

/**
 * Reads an error answer (status, headers, body text) into a {@link ProviderFailure}:
 * `invalid_api_key` (or any 401) is a rejected key, `content_filter` a safety block, and
 * `retry-after-ms` / `retry-after` / `x-ratelimit-reset-requests` give the retry delay.
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
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const type = typeof err?.type === 'string' ? err.type : undefined;
  const providerCode = code ?? type;
  const failure: ProviderFailure = {
    provider,
    kind: code === 'content_filter' ? 'safety' : 'http',
    status,
    keyRejected: code === 'invalid_api_key' || status === 401,
    ...(providerCode ? { providerCode } : {}),
    ...(message ? { message } : {}),
  };
  const retryAfterMs = retryAfter(headers);
  if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
  return failure;
}

/** An `{ error }` event inside a 200 stream. */
export function openAiStreamFailure(provider: string, error: NonNullable<OpenAiErrorBody['error']>): ProviderFailure {
  const err = typeof error === 'string' ? { message: error } : error;
  const code = typeof err.code === 'string' ? err.code : undefined;
  const type = typeof err.type === 'string' ? err.type : undefined;
  const numeric = typeof err.code === 'number' ? err.code : undefined;
  return {
    provider,
    kind: code === 'content_filter' ? 'safety' : 'http',
    status: numeric ?? (type === 'server_error' ? 500 : undefined),
    ...(code ?? type ? { providerCode: (code ?? type) as string } : {}),
    ...(typeof err.message === 'string' ? { message: err.message } : {}),
  };
}

function retryAfter(headers: Headers): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  return parseRetryAfter(headers.get('retry-after')) ?? parseDurationMs(headers.get('x-ratelimit-reset-requests'));
}

function parseJson(text: string): OpenAiErrorBody | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as OpenAiErrorBody) : undefined;
  } catch {
    return undefined;
  }
}
