import { ByokError, isByokError, type ByokErrorCode } from '@byok/core';
import type { ByokRequest, HttpSurface, Operation } from '@byok/core/http';
import type { ByokTrpcContext } from './byok-context';
import { toTrpcError } from './byok-error-formatter';

/** What byok's router needs of a `byok` instance: its operation registry and its logger. */
export interface ByokTrpcHost {
  http: Pick<HttpSurface, 'operations' | 'call'>;
  logger?: { error(obj: object, msg?: string): void };
}

/** One tRPC call of an operation. */
export interface OperationCall {
  operation: Operation;
  /** The call's input as the client sent it (not yet validated: core validates it). */
  input: unknown;
  ctx: unknown;
  /** The call's abort signal (the client cancelled or went away). */
  signal: AbortSignal | undefined;
  /** Request headers this call carries beyond the HTTP request's own (the resume's `last-event-id`). */
  headers?: Record<string, string>;
}

/**
 * Runs one operation for one tRPC call through core's `byok.http.call`, which
 * authenticates (with the CSRF check for unsafe operations and streams), counts the
 * call against its rate limit, validates the input and runs the handler — so each call
 * of a batch is authenticated and counted on its own. Failures become TRPCErrors
 * carrying the ByokError; unexpected ones are logged (sanitised by byok's logger).
 */
export async function callOperation(host: ByokTrpcHost, call: OperationCall): Promise<unknown> {
  try {
    const base = requestOf(call.ctx);
    const request: ByokRequest = {
      ...base,
      method: call.operation.http.method,
      headers: call.headers ? { ...base.headers, ...call.headers } : base.headers,
      ...(call.signal ? { signal: call.signal } : {}),
    };
    return await host.http.call(call.operation, call.input ?? {}, request);
  } catch (error) {
    throw reported(host, call.operation.name, error);
  }
}

/** A ByokError (or anything thrown) as a TRPCError, logged first when it is not an expected refusal. */
export function reported(host: ByokTrpcHost, name: string, error: unknown): Error {
  if (!isByokError(error) || error.status >= 500) host.logger?.error({ err: error, operation: name }, 'byok tRPC call failed');
  return toTrpcError(error);
}

/** A typed refusal raised by the adapter itself (with core's codes). */
export function refusal(code: ByokErrorCode, message: string, fields?: string[]): ByokError {
  return new ByokError(code, message, fields ? { details: { fields } } : {});
}

function requestOf(ctx: unknown): ByokRequest {
  const request = (ctx as Partial<ByokTrpcContext> | null | undefined)?.byokRequest;
  if (!request) throw new ByokError('config_invalid', 'The tRPC context has no byokRequest: build it with createByokContext() in createContext');
  return request;
}
