import { failureFromThrown, type CallDeadline, type ProviderFailure, parseDurationMs } from '@byok/core';

/** Google's error body: `{ error: { code, message, status, details } }`. */
interface GoogleErrorBody {
  error?: {
    code?: number;
    message?: string;
    status?: string;
    details?: Array<{ '@type'?: string; reason?: string; retryDelay?: string }>;
  };
}

/** Reasons under which Google says the key itself is wrong. */
const KEY_REASONS = new Set(['API_KEY_INVALID', 'API_KEY_EXPIRED']);

/**
 * Reads an error thrown by `@google/genai` (an `ApiError` whose message is the JSON error
 * body, possibly prefixed with `got status: ...` for a mid-stream error chunk) or by fetch
 * underneath it, into a {@link ProviderFailure}. The deadline decides aborts and timeouts
 * first, whatever the client threw.
 */
export function geminiFailure(provider: string, error: unknown, deadline: CallDeadline): ProviderFailure {
  if (deadline.callerAborted() || deadline.timedOut()) return failureFromThrown(provider, error, deadline);
  const status = (error as { status?: unknown } | null)?.status;
  if (error instanceof Error && error.name === 'ApiError' && typeof status === 'number') {
    const body = parseBody(error.message);
    const info = body?.error;
    const details = Array.isArray(info?.details) ? info.details : [];
    const reason = details.find((d) => typeof d?.reason === 'string')?.reason;
    const retryDelay = details.find((d) => d?.['@type']?.endsWith('google.rpc.RetryInfo'))?.retryDelay;
    const message = typeof info?.message === 'string' ? info.message : undefined;
    const keyRejected =
      (reason !== undefined && KEY_REASONS.has(reason)) || (message !== undefined && /api key (not valid|expired)/i.test(message));
    return {
      provider,
      kind: 'http',
      status: typeof info?.code === 'number' ? info.code : status,
      providerCode: reason ?? info?.status,
      keyRejected,
      message,
      retryAfterMs: parseDurationMs(retryDelay),
      cause: error,
    };
  }
  return failureFromThrown(provider, error, deadline);
}

function parseBody(message: string): GoogleErrorBody | undefined {
  const start = message.indexOf('{');
  if (start === -1) return undefined;
  try {
    const parsed = JSON.parse(message.slice(start)) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as GoogleErrorBody) : undefined;
  } catch {
    return undefined;
  }
}
