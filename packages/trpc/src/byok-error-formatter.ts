import { ERROR_CODES, isByokError, type ByokError, type ByokErrorCode } from '@byok/core';
import { toByokError } from '@byok/core/http';
import { TRPCError, type TRPC_ERROR_CODE_KEY, type TRPCDefaultErrorShape, type TRPCErrorShape } from '@trpc/server';

/** The `data` of a byok error as a tRPC client receives it. */
export interface ByokErrorData {
  /** byok's stable error code (`unauthenticated`, `validation_failed`, `rate_limited`, …): switch on this. */
  byokCode: ByokErrorCode;
  /** byok's non-secret details, e.g. `retryAfterMs` for `rate_limited`, `fields` for `validation_failed`. */
  byokDetails?: Record<string, unknown>;
}

/** The error shape of byok's router: tRPC's default shape with {@link ByokErrorData} in `data` (and no stack). */
export type ByokErrorShape = TRPCErrorShape<Omit<TRPCDefaultErrorShape['data'], 'stack'> & ByokErrorData> & { message: string };

/**
 * What a tRPC error that byok did not raise (an unknown procedure, a body that is not
 * JSON, a batch over the limit) means in byok's codes, so every error carries `byokCode`.
 */
const FROM_TRPC_CODE: Partial<Record<TRPC_ERROR_CODE_KEY, ByokErrorCode>> = {
  PARSE_ERROR: 'bad_request',
  BAD_REQUEST: 'bad_request',
  UNAUTHORIZED: 'unauthenticated',
  FORBIDDEN: 'forbidden',
  NOT_FOUND: 'not_found',
  METHOD_NOT_SUPPORTED: 'method_not_allowed',
  CONFLICT: 'conflict',
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  UNSUPPORTED_MEDIA_TYPE: 'bad_request',
  TOO_MANY_REQUESTS: 'rate_limited',
  CLIENT_CLOSED_REQUEST: 'aborted',
};

/**
 * A ByokError (or anything thrown) as the TRPCError with the tRPC code core maps its
 * code to (`ERROR_CODES`), the ByokError kept as the cause for {@link byokErrorFormatter}.
 * Anything byok did not raise becomes `internal`, its message hidden.
 *
 * @example
 * import { ByokError } from '@byok/core';
 * import { toTrpcError } from '@byok/trpc';
 * throw toTrpcError(new ByokError('not_found', 'Session not found')); // code NOT_FOUND
 */
export function toTrpcError(error: unknown): TRPCError {
  const byokError = toByokError(error);
  return new TRPCError({ code: ERROR_CODES[byokError.code].trpc, message: byokError.message, cause: byokError });
}

/**
 * The tRPC `errorFormatter` that puts byok's code into every error's `data.byokCode`
 * (and its details into `data.byokDetails`). Errors tRPC raised itself get the byok
 * code of their tRPC code; an unexpected error is `internal` with its message hidden;
 * stacks are never sent. byok's router uses it; a host that nests byok's router inside
 * its own (rather than merging the two) passes it to its own `initTRPC`, since only the
 * root router's formatter runs.
 *
 * @example
 * import { initTRPC } from '@trpc/server';
 * import { byokErrorFormatter, type ByokTrpcContext } from '@byok/trpc';
 * const t = initTRPC.context<ByokTrpcContext>().create({ errorFormatter: byokErrorFormatter });
 */
export function byokErrorFormatter(options: { error: TRPCError; shape: TRPCDefaultErrorShape }): ByokErrorShape {
  const { error, shape } = options;
  const byokError: ByokError | null = isByokError(error.cause) ? error.cause : null;
  const { stack: _stack, ...data } = shape.data;
  // tRPC wraps whatever a resolver threw; only byok's own messages and tRPC's are safe to show.
  const unexpected = byokError === null && error.code === 'INTERNAL_SERVER_ERROR' && error.cause !== undefined && !(error.cause instanceof TRPCError);
  const byokCode: ByokErrorCode = byokError?.code ?? FROM_TRPC_CODE[error.code] ?? 'internal';
  return {
    ...shape,
    message: unexpected ? 'Internal error' : shape.message,
    data: {
      ...data,
      byokCode,
      ...(byokError?.details ? { byokDetails: byokError.details } : {}),
    },
  };
}
