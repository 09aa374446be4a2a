import { failureFromThrown, parseRetryAfter, type CallDeadline, type ProviderFailure } from '@byok/core/llm';

/** The error object of Anthropic's body `{ type: 'error', error: { type, message, details? }, request_id }`. */
interface AnthropicErrorObject {
  type?: unknown;
  message?: unknown;
  details?: { error_code?: unknown } | null;
}

/** The status each error `type` is sent with; a mid-stream `error` event carries the type only. */
const STATUS_OF_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** `error.details.error_code` values under which waiting does not help: the spend is capped until an admin acts or the month ends. */
const SPENT_CODES = new Set(['enforced_spend_limit_reached', 'contract_spend_limit_reached', 'linked_organization_spend_limit_reached']);

/** The 400 messages Anthropic sends for billing problems (no `error_code` is given for these). */
const BILLING_MESSAGE = /credit balance is too low|reached your specified API usage limits|purchase credits|billing/i;

/**
 * Reads an error thrown by `@anthropic-ai/sdk` (an `APIError` with `status`, `headers` and
 * the parsed body in `error`; a mid-stream `error` event has no status, only the body) or by
 * fetch underneath it, into a {@link ProviderFailure}. The deadline decides aborts and
 * timeouts first, whatever the client threw.
 *
 * - `authentication_error` (401) is a rejected key;
 * - `billing_error` (402), a 400 about the credit balance or the usage limits, and a 429
 *   whose `error_code` is a spend limit are a spent quota (no retry hint);
 * - any other 429 carries `retry-after` (or `retry-after-ms`) as `retryAfterMs`;
 * - `overloaded_error` (529) and `api_error` (500) are the service being unavailable.
 */
export function anthropicFailure(provider: string, error: unknown, deadline: CallDeadline): ProviderFailure {
  if (deadline.callerAborted() || deadline.timedOut()) return failureFromThrown(provider, error, deadline);
  if (isApiError(error)) {
    const body = (error as { error?: unknown }).error;
    const info = errorObjectOf(body);
    const type = typeof info?.type === 'string' ? info.type : undefined;
    const status = typeof (error as { status?: unknown }).status === 'number' ? ((error as { status: number }).status) : type ? STATUS_OF_TYPE[type] : undefined;
    if (status === undefined && info === undefined) return failureFromThrown(provider, error, deadline);
    const headers = (error as { headers?: unknown }).headers;
    return anthropicHttpFailure(provider, status ?? 500, info, headers instanceof Headers ? headers : undefined, error);
  }
  return failureFromThrown(provider, error, deadline);
}

/** The failure for an Anthropic error object answered with `status` (and its response headers, if any). */
export function anthropicHttpFailure(provider: string, status: number, info: AnthropicErrorObject | undefined, headers: Headers | undefined, cause?: unknown): ProviderFailure {
  const type = typeof info?.type === 'string' ? info.type : undefined;
  const message = typeof info?.message === 'string' ? info.message : undefined;
  const errorCode = typeof info?.details?.error_code === 'string' ? info.details.error_code : undefined;
  const failure: ProviderFailure = {
    provider,
    kind: 'http',
    status,
    keyRejected: type === 'authentication_error' || (type === undefined && status === 401),
    ...((errorCode ?? type) !== undefined ? { providerCode: (errorCode ?? type) as string } : {}),
    ...(message !== undefined ? { message } : {}),
    ...(cause !== undefined ? { cause } : {}),
  };
  const spent =
    type === 'billing_error' ||
    (errorCode !== undefined && SPENT_CODES.has(errorCode)) ||
    (status === 400 && type === 'invalid_request_error' && message !== undefined && BILLING_MESSAGE.test(message));
  if (spent) {
    failure.quotaExhausted = true;
  } else if (status === 429 || status === 529 || status >= 500) {
    const retryAfterMs = retryAfter(headers);
    if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs;
  }
  return failure;
}

function retryAfter(headers: Headers | undefined): number | undefined {
  if (headers === undefined) return undefined;
  const ms = headers.get('retry-after-ms')?.trim();
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return Math.round(Number(ms));
  return parseRetryAfter(headers.get('retry-after'));
}

/** The SDK's `APIError` (by name: a host may load another copy of the SDK than ours). */
function isApiError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'APIUserAbortError' || error.name === 'APIConnectionError' || error.name === 'APIConnectionTimeoutError') return false;
  return 'status' in error && 'error' in error && 'headers' in error;
}

function errorObjectOf(body: unknown): AnthropicErrorObject | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const inner = (body as { error?: unknown }).error;
  if (typeof inner === 'object' && inner !== null) return inner as AnthropicErrorObject;
  return undefined;
}
