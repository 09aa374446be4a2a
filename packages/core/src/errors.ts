import { sanitize } from './util/sanitize';

/**
 * Every error byok raises has one of these stable codes. Hosts switch on `code`,
 * never on the message.
 */
export type ByokErrorCode =
  | 'bad_request'
  | 'validation_failed'
  | 'invalid_cursor'
  | 'unauthenticated'
  | 'token_expired'
  | 'forbidden'
  | 'csrf_rejected'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'idempotency_conflict'
  | 'refresh_reused'
  | 'refresh_race'
  | 'rate_limited'
  | 'payload_too_large'
  | 'login_failed'
  | 'redirect_not_allowed'
  | 'key_invalid'
  | 'key_missing'
  | 'key_unverified'
  | 'provider_permission_denied'
  | 'provider_rate_limited'
  | 'provider_quota_exhausted'
  | 'provider_safety_block'
  | 'provider_unavailable'
  | 'provider_network_error'
  | 'provider_error'
  | 'kms_unavailable'
  | 'kms_key_unknown'
  | 'kms_error'
  | 'seal_invalid'
  | 'seal_unsupported'
  | 'config_invalid'
  | 'database_unavailable'
  | 'migration_failed'
  | 'audit_chain_broken'
  | 'hook_rejected'
  | 'aborted'
  | 'internal';

/** The tRPC error codes byok maps onto (the subset of TRPC_ERROR_CODE_KEY it uses). */
export type TrpcCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_SUPPORTED'
  | 'CONFLICT'
  | 'PRECONDITION_FAILED'
  | 'PAYLOAD_TOO_LARGE'
  | 'TOO_MANY_REQUESTS'
  | 'CLIENT_CLOSED_REQUEST'
  | 'UNPROCESSABLE_CONTENT'
  | 'INTERNAL_SERVER_ERROR'
  | 'BAD_GATEWAY'
  | 'SERVICE_UNAVAILABLE'
  | 'GATEWAY_TIMEOUT';

/** The one place where a code becomes an HTTP status and a tRPC code. */
export const ERROR_CODES: Record<ByokErrorCode, { status: number; trpc: TrpcCode }> = {
  bad_request: { status: 400, trpc: 'BAD_REQUEST' },
  validation_failed: { status: 400, trpc: 'BAD_REQUEST' },
  invalid_cursor: { status: 400, trpc: 'BAD_REQUEST' },
  unauthenticated: { status: 401, trpc: 'UNAUTHORIZED' },
  token_expired: { status: 401, trpc: 'UNAUTHORIZED' },
  forbidden: { status: 403, trpc: 'FORBIDDEN' },
  csrf_rejected: { status: 403, trpc: 'FORBIDDEN' },
  not_found: { status: 404, trpc: 'NOT_FOUND' },
  method_not_allowed: { status: 405, trpc: 'METHOD_NOT_SUPPORTED' },
  conflict: { status: 409, trpc: 'CONFLICT' },
  idempotency_conflict: { status: 409, trpc: 'CONFLICT' },
  refresh_reused: { status: 401, trpc: 'UNAUTHORIZED' },
  refresh_race: { status: 409, trpc: 'CONFLICT' },
  rate_limited: { status: 429, trpc: 'TOO_MANY_REQUESTS' },
  payload_too_large: { status: 413, trpc: 'PAYLOAD_TOO_LARGE' },
  login_failed: { status: 401, trpc: 'UNAUTHORIZED' },
  redirect_not_allowed: { status: 400, trpc: 'BAD_REQUEST' },
  key_invalid: { status: 422, trpc: 'UNPROCESSABLE_CONTENT' },
  key_missing: { status: 412, trpc: 'PRECONDITION_FAILED' },
  key_unverified: { status: 422, trpc: 'UNPROCESSABLE_CONTENT' },
  provider_permission_denied: { status: 403, trpc: 'FORBIDDEN' },
  // A rate limit passes: the error carries `details.retryAfterMs` and HTTP sends `Retry-After`.
  provider_rate_limited: { status: 429, trpc: 'TOO_MANY_REQUESTS' },
  // The quota is spent (billing, a daily cap, a zero limit): also 429, so clients that back
  // off on 429 keep doing so, but never with a retry hint — waiting minutes does not help.
  provider_quota_exhausted: { status: 429, trpc: 'TOO_MANY_REQUESTS' },
  provider_safety_block: { status: 422, trpc: 'UNPROCESSABLE_CONTENT' },
  provider_unavailable: { status: 503, trpc: 'SERVICE_UNAVAILABLE' },
  provider_network_error: { status: 502, trpc: 'BAD_GATEWAY' },
  provider_error: { status: 502, trpc: 'BAD_GATEWAY' },
  kms_unavailable: { status: 503, trpc: 'SERVICE_UNAVAILABLE' },
  kms_key_unknown: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  kms_error: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  seal_invalid: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  seal_unsupported: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  config_invalid: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  // The database byok opens did not answer or does not exist (the message names host and database).
  database_unavailable: { status: 503, trpc: 'SERVICE_UNAVAILABLE' },
  migration_failed: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  audit_chain_broken: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  hook_rejected: { status: 403, trpc: 'FORBIDDEN' },
  aborted: { status: 499, trpc: 'CLIENT_CLOSED_REQUEST' },
  internal: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
};

const BRAND = Symbol.for('byok.error');

export interface ByokErrorOptions {
  cause?: unknown;
  /** Extra, non-secret facts for the caller (e.g. `retryAfterMs`). Sanitised. */
  details?: Record<string, unknown>;
}

/**
 * The one error class byok throws. Check with {@link isByokError}, never `instanceof`:
 * a host can load the ESM and the CJS build side by side.
 *
 * @example
 * try { await byok.users.get(userId) } catch (e) {
 *   if (isByokError(e) && e.code === 'not_found') console.log('no such user');
 *   else throw e;
 * }
 */
export class ByokError extends Error {
  readonly code: ByokErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  readonly [BRAND] = true;

  constructor(code: ByokErrorCode, message: string, options: ByokErrorOptions = {}) {
    super(sanitize(message) as string, options.cause === undefined ? undefined : { cause: sanitizeCause(options.cause) });
    this.name = 'ByokError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = options.details === undefined ? undefined : (sanitize(options.details) as Record<string, unknown>);
  }

  /** The body byok sends over HTTP: `{ error: { code, message } }`. */
  toJSON(): { error: { code: ByokErrorCode; message: string; details?: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}

/** True for an error byok raised, whichever copy of the package raised it. */
export function isByokError(value: unknown): value is ByokError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** A cause is kept for debugging, but only as a sanitised copy: never a secret. */
function sanitizeCause(cause: unknown): unknown {
  if (isByokError(cause)) return cause;
  if (cause instanceof Error) {
    const copy = new Error(sanitize(cause.message) as string);
    copy.name = cause.name;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') (copy as { code?: unknown }).code = code;
    copy.stack = typeof cause.stack === 'string' ? (sanitize(cause.stack) as string) : undefined;
    return copy;
  }
  return sanitize(cause);
}

/** Wraps anything thrown into a ByokError (unknown errors become `internal`, message hidden). */
export function toByokError(value: unknown): ByokError {
  if (isByokError(value)) return value;
  return new ByokError('internal', 'Internal error', { cause: value });
}
