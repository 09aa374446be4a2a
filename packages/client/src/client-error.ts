import type { ByokErrorCode } from '@byok/core';

/**
 * The codes of a `ByokClientError`: every code the server sends (`{ error: { code } }`),
 * plus what only a client sees — the server could not be reached (`network_error`), it
 * answered something that is not byok's (`invalid_response`), or a stream broke and did
 * not come back within the reconnect bound (`stream_interrupted`).
 */
export type ByokClientErrorCode = ByokErrorCode | 'network_error' | 'invalid_response' | 'stream_interrupted';

const BRAND = Symbol.for('byok.client_error');

/** What a failed call throws: the server's `{ error: { code, message } }` and the HTTP status. */
export class ByokClientError extends Error {
  override readonly name = 'ByokClientError';
  readonly code: ByokClientErrorCode;
  /** The HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** The server's `details` (e.g. `retryAfterMs`, the invalid `fields`), when it sent any. */
  readonly details: Record<string, unknown> | undefined;

  constructor(options: { code: ByokClientErrorCode; status: number; message: string; details?: Record<string, unknown>; cause?: unknown }) {
    super(options.message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = options.code;
    this.status = options.status;
    this.details = options.details;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** True for a `ByokClientError`, also one thrown by another copy of this package (ESM and CJS). */
export function isByokClientError(value: unknown): value is ByokClientError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** Reads a failed response as a `ByokClientError`. */
export async function errorFromResponse(response: Response): Promise<ByokClientError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') {
    return new ByokClientError({
      code: error.code as ByokClientErrorCode,
      status: response.status,
      message: error.message,
      ...(typeof error.details === 'object' && error.details !== null ? { details: error.details as Record<string, unknown> } : {}),
    });
  }
  return new ByokClientError({ code: 'invalid_response', status: response.status, message: `The server answered ${response.status} without a byok error body` });
}
