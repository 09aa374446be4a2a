import { failureFromThrown, parseDurationMs, type CallDeadline, type ProviderFailure } from '@byok/core/llm';

/** One entry of Google's `error.details` (`google.rpc.ErrorInfo`, `QuotaFailure`, `RetryInfo`, ...). */
interface GoogleErrorDetail {
  '@type'?: string;
  reason?: string;
  retryDelay?: string;
  violations?: Array<{ quotaId?: string; quotaMetric?: string; quotaValue?: string }>;
}

/** Google's error body: `{ error: { code, message, status, details } }`. */
interface GoogleError {
  code?: number;
  message?: string;
  status?: string;
  details?: GoogleErrorDetail[];
}

/** Reasons under which Google says the key itself is wrong (not its project, region or quota). */
const KEY_REASONS = new Set(['API_KEY_INVALID', 'API_KEY_EXPIRED']);

/**
 * Reads an error thrown by `@google/genai` (an `ApiError` whose message is the JSON error
 * body, possibly prefixed with `got status: ...` for a mid-stream error chunk) or by fetch
 * underneath it, into a {@link ProviderFailure}. The deadline decides aborts and timeouts
 * first, whatever the client threw.
 *
 * On the stream route Google answers errors with `Content-Type: text/event-stream`, so the
 * client does not parse the body and wraps it as a string in an error of its own
 * (`{ error: { message: "<the JSON body>", code, status: "Too Many Requests" } }`); the
 * real body is unwrapped here, so a stream error reads exactly like the same error on
 * `generateContent`.
 */
export function geminiFailure(provider: string, error: unknown, deadline: CallDeadline): ProviderFailure {
  if (deadline.callerAborted() || deadline.timedOut()) return failureFromThrown(provider, error, deadline);
  const status = (error as { status?: unknown } | null)?.status;
  if (error instanceof Error && error.name === 'ApiError' && typeof status === 'number') {
    const info = unwrap(parseError(error.message));
    return googleFailure(provider, status, info, error);
  }
  return failureFromThrown(provider, error, deadline);
}

/** The failure for a Google error body (`info`) answered with HTTP `status`. */
export function googleFailure(provider: string, status: number, info: GoogleError | undefined, cause?: unknown): ProviderFailure {
  const details = Array.isArray(info?.details) ? info.details.filter((d) => typeof d === 'object' && d !== null) : [];
  const reason = details.find((d) => d['@type']?.endsWith('google.rpc.ErrorInfo') && typeof d.reason === 'string')?.reason;
  const retryDelay = details.find((d) => d['@type']?.endsWith('google.rpc.RetryInfo'))?.retryDelay;
  const message = typeof info?.message === 'string' ? info.message : undefined;
  const keyRejected =
    (reason !== undefined && KEY_REASONS.has(reason)) || (message !== undefined && /api key (not valid|expired)/i.test(message));
  const code = typeof info?.code === 'number' ? info.code : status;
  const failure: ProviderFailure = {
    provider,
    kind: 'http',
    status: code,
    keyRejected,
    ...(reason ?? info?.status ? { providerCode: (reason ?? info?.status) as string } : {}),
    ...(message !== undefined ? { message } : {}),
    ...(cause !== undefined ? { cause } : {}),
  };
  if (code === 429 && quotaSpent(details, message)) {
    failure.quotaExhausted = true;
  } else {
    const retryAfterMs = parseDurationMs(retryDelay);
    if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
  }
  return failure;
}

/**
 * A 429 that waiting minutes does not cure: a per-day quota, a quota of 0 on this tier, or
 * spent prepaid credits. Google still sends a `RetryInfo` for some of these; it is ignored.
 */
function quotaSpent(details: GoogleErrorDetail[], message: string | undefined): boolean {
  for (const detail of details) {
    if (!detail['@type']?.endsWith('google.rpc.QuotaFailure') || !Array.isArray(detail.violations)) continue;
    for (const v of detail.violations) {
      if (typeof v?.quotaId === 'string' && /PerDay/i.test(v.quotaId)) return true;
      if (typeof v?.quotaMetric === 'string' && /per_day/i.test(v.quotaMetric)) return true;
      if (v?.quotaValue === '0') return true;
    }
  }
  if (message === undefined) return false;
  return /\blimit: 0\b/.test(message) || /credits are depleted/i.test(message);
}

/** The JSON error in an `ApiError` message (after any `got status: ...` prefix). */
function parseError(message: string): GoogleError | undefined {
  const start = message.indexOf('{');
  if (start === -1) return undefined;
  try {
    const parsed = JSON.parse(message.slice(start)) as { error?: unknown };
    return typeof parsed?.error === 'object' && parsed.error !== null ? (parsed.error as GoogleError) : undefined;
  } catch {
    return undefined;
  }
}

/** The real error when the client wrapped an unparsed body (the stream route) as `message`. */
function unwrap(info: GoogleError | undefined): GoogleError | undefined {
  if (typeof info?.message !== 'string') return info;
  const text = info.message.trim();
  if (!text.startsWith('{')) return info;
  try {
    const inner = JSON.parse(text) as { error?: unknown };
    return typeof inner?.error === 'object' && inner.error !== null ? (inner.error as GoogleError) : info;
  } catch {
    return info;
  }
}
