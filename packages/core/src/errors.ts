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
  // The request itself is unusable: not JSON, the wrong content type, nested too deeply.
  bad_request: { status: 400, trpc: 'BAD_REQUEST' },
  // The input does not match the operation's schema; the message names the fields, never their values.
  validation_failed: { status: 400, trpc: 'BAD_REQUEST' },
  // A pagination cursor that byok did not issue for this list.
  invalid_cursor: { status: 400, trpc: 'BAD_REQUEST' },
  // No valid session: a missing, malformed or revoked token, or a session that was signed out.
  unauthenticated: { status: 401, trpc: 'UNAUTHORIZED' },
  // The access token has expired: refresh it (`POST /auth/refresh`) and retry.
  token_expired: { status: 401, trpc: 'UNAUTHORIZED' },
  // Signed in, but not allowed to do this.
  forbidden: { status: 403, trpc: 'FORBIDDEN' },
  // A cookie-authenticated unsafe request or stream without an allowed `Origin` (or `Sec-Fetch-Site: same-origin`).
  csrf_rejected: { status: 403, trpc: 'FORBIDDEN' },
  // No such record for this user; another user's record is "not found" too.
  not_found: { status: 404, trpc: 'NOT_FOUND' },
  // The route exists, but not with this HTTP method.
  method_not_allowed: { status: 405, trpc: 'METHOD_NOT_SUPPORTED' },
  // The record already exists (an identity linked to another user, a duplicate id).
  conflict: { status: 409, trpc: 'CONFLICT' },
  // The same idempotency key came with a different request.
  idempotency_conflict: { status: 409, trpc: 'CONFLICT' },
  // A refresh token that was already rotated was used again: its whole session family is now signed out.
  refresh_reused: { status: 401, trpc: 'UNAUTHORIZED' },
  // A parallel request just rotated this refresh token (within the grace period): use the newest one.
  refresh_race: { status: 409, trpc: 'CONFLICT' },
  // Too many requests of this class from this IP or user; `details.retryAfterMs` and `Retry-After` say when to retry.
  rate_limited: { status: 429, trpc: 'TOO_MANY_REQUESTS' },
  // The request body is over the size limit.
  payload_too_large: { status: 413, trpc: 'PAYLOAD_TOO_LARGE' },
  // Sign-in did not complete: a state, nonce or PKCE check failed, the issuer refused, or the login expired.
  login_failed: { status: 401, trpc: 'UNAUTHORIZED' },
  // The `returnTo` address is not on an allowed origin.
  redirect_not_allowed: { status: 400, trpc: 'BAD_REQUEST' },
  // The provider rejected the key (or it is empty or malformed); nothing was stored.
  key_invalid: { status: 422, trpc: 'UNPROCESSABLE_CONTENT' },
  // No key is stored for this provider.
  key_missing: { status: 412, trpc: 'PRECONDITION_FAILED' },
  // The provider could not be asked (network error, timeout, 429, 5xx) and unverified keys are refused; try again later.
  key_unverified: { status: 422, trpc: 'UNPROCESSABLE_CONTENT' },
  // The provider accepted the key but refuses this model or operation for it.
  provider_permission_denied: { status: 403, trpc: 'FORBIDDEN' },
  // A rate limit passes: the error carries `details.retryAfterMs` and HTTP sends `Retry-After`.
  provider_rate_limited: { status: 429, trpc: 'TOO_MANY_REQUESTS' },
  // The quota is spent (billing, a daily cap, a zero limit): also 429, so clients that back
  // off on 429 keep doing so, but never with a retry hint — waiting minutes does not help.
  provider_quota_exhausted: { status: 429, trpc: 'TOO_MANY_REQUESTS' },
  // The provider blocked the content.
  provider_safety_block: { status: 422, trpc: 'UNPROCESSABLE_CONTENT' },
  // The provider or sign-in issuer is down or overloaded.
  provider_unavailable: { status: 503, trpc: 'SERVICE_UNAVAILABLE' },
  // The provider could not be reached, or the connection broke mid-answer.
  provider_network_error: { status: 502, trpc: 'BAD_GATEWAY' },
  // The provider answered with something byok cannot use.
  provider_error: { status: 502, trpc: 'BAD_GATEWAY' },
  // The KMS did not answer after bounded retries; nothing was stored.
  kms_unavailable: { status: 503, trpc: 'SERVICE_UNAVAILABLE' },
  // A sealed value names a KMS driver, key or key version that is not configured (or was retired).
  kms_key_unknown: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  // The KMS refused or returned something unusable (permissions, a wrong-sized key).
  kms_error: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  // A sealed value does not open: tampered with, or moved to another row, user or purpose.
  seal_invalid: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  // A sealed value in a format version this byok does not read.
  seal_unsupported: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  // The options given to byok (or its environment variables) are wrong; the message names the field.
  config_invalid: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  // The database byok opens did not answer or does not exist (the message names host and database).
  database_unavailable: { status: 503, trpc: 'SERVICE_UNAVAILABLE' },
  // A migration failed, or the migration lock held by another process was not released in time.
  migration_failed: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  // The audit trail failed verification.
  audit_chain_broken: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  // A host hook (such as `beforeUserCreate`) refused the action.
  hook_rejected: { status: 403, trpc: 'FORBIDDEN' },
  // The client went away or the call was aborted before it finished.
  aborted: { status: 499, trpc: 'CLIENT_CLOSED_REQUEST' },
  // An unexpected error; the details are in the (sanitised) log, not the message.
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
