import { ByokError } from '@byok/core';
import type { ByokResponse, Operation } from '@byok/core/http';
import { initTRPC, tracked, type AnyTRPCProcedure } from '@trpc/server';
import { API_KEY_PROCEDURES, targetOperation } from './api-key-procedures';
import type { ByokTrpcContext } from './byok-context';
import { byokErrorFormatter } from './byok-error-formatter';
import { chatStreamEvents } from './chat-stream';
import { callOperation, refusal, reported, type ByokTrpcHost } from './operation-call';
import { HTTP_ONLY_OPERATIONS, type ByokChatStreamEvent, type ByokRouter } from './router-types';

const t = initTRPC.context<ByokTrpcContext>().create({ errorFormatter: byokErrorFormatter });

// Inputs arrive as the client sent them: core validates them after authentication and the
// rate limit, so a refused call is counted and its error is byok's `validation_failed`.
const procedure = t.procedure.input((raw: unknown) => raw);

const httpOnly = new Set<string>(HTTP_ONLY_OPERATIONS);

/**
 * byok's operations as a tRPC router, generated from core's operation registry
 * (`byok.http.operations()`): a GET operation is a query, any other a mutation; a chat
 * turn (`chat.messages.send`, `edit`, `regenerate`) is a mutation that streams its reply
 * as an async generator (use `httpBatchStreamLink`), and `chat.stream.resume` is a
 * subscription whose events carry `tracked()` ids (use `httpSubscriptionLink`; a
 * reconnect sends `lastEventId` and gets exactly the rest). The original backend's
 * `user.setApiKey`, `user.testApiKey`, `user.getApiKeyStatus` and `user.removeApiKey` run
 * the key vault's operations. Every call goes through `byok.http.call`: authenticated
 * (bearer token or cookie, with the CSRF check), rate limited per call (each call of a
 * batch counts), validated by core. Errors carry `data.byokCode`.
 *
 * Sign-in, refresh and sign-out set cookies and stay on byok's HTTP routes
 * ({@link HTTP_ONLY_OPERATIONS}), as do the OAuth redirects, the JWKS and
 * `/openapi.json`: mount core's HTTP handler beside the tRPC endpoint. Operations added
 * to `byok.http` after this call are not in the router.
 *
 * @example
 * import { initTRPC } from '@trpc/server';
 * import { createHTTPServer } from '@trpc/server/adapters/standalone';
 * import { byokErrorFormatter, createByokContext, createByokRouter, type ByokTrpcContext } from '@byok/trpc';
 *
 * const t = initTRPC.context<ByokTrpcContext>().create({ errorFormatter: byokErrorFormatter });
 * const appRouter = t.mergeRouters(createByokRouter(byok), t.router({ hello: t.procedure.query(() => 'hi') }));
 * type AppRouter = typeof appRouter; // what the client imports (export it from the module)
 * createHTTPServer({ router: appRouter, createContext: createByokContext, maxBodySize: 1024 * 1024 }).listen(3000);
 */
export function createByokRouter(byok: ByokTrpcHost): ByokRouter {
  const operations = byok.http.operations();
  const record: Record<string, unknown> = {};
  for (const operation of operations) {
    if (httpOnly.has(operation.name)) continue;
    const built = operationProcedure(byok, operation);
    if (built) place(record, operation.name, built);
  }
  for (const alias of API_KEY_PROCEDURES) {
    const target = targetOperation(operations, alias);
    if (!target) continue;
    const resolve = ({ ctx, input, signal }: { ctx: unknown; input: unknown; signal: AbortSignal | undefined }) =>
      alias.run((value) => callOperation(byok, { operation: target, input: value, ctx, signal }), alias.input(input));
    place(record, `user.${alias.name}`, alias.type === 'query' ? procedure.query(resolve) : procedure.mutation(resolve));
  }
  return t.router(record as Parameters<typeof t.router>[0]) as unknown as ByokRouter;
}

/** The procedure of one operation, or null for an HTTP document (redirect, JSON document, Markdown). */
function operationProcedure(byok: ByokTrpcHost, operation: Operation): AnyTRPCProcedure | null {
  const isQuery = operation.http.method === 'GET';
  if (operation.kind !== 'raw') {
    const resolve = ({ ctx, input, signal }: { ctx: unknown; input: unknown; signal: AbortSignal | undefined }) =>
      callOperation(byok, { operation, input, ctx, signal });
    return isQuery ? procedure.query(resolve) : procedure.mutation(resolve);
  }
  if (operation.produces !== 'event-stream') return null;
  if (!isQuery) {
    // The reply's first chunk is awaited before the mutation answers, so a turn refused
    // up front (no key, rate limited, not found) is the call's error, not a broken stream.
    return procedure.mutation(async ({ ctx, input, signal }) => {
      const response = (await callOperation(byok, { operation, input, ctx, signal })) as ByokResponse;
      return guarded(byok, operation.name, chatStreamEvents(response));
    });
  }
  return procedure.subscription(async function* ({ ctx, input, signal }) {
    let split: ReturnType<typeof splitLastEventId>;
    try {
      split = splitLastEventId(input);
    } catch (error) {
      throw reported(byok, operation.name, error);
    }
    const { lastEventId, rest } = split;
    const response = (await callOperation(byok, {
      operation,
      input: rest,
      ctx,
      signal,
      ...(lastEventId !== undefined ? { headers: { 'last-event-id': lastEventId } } : {}),
    })) as ByokResponse;
    for await (const event of guarded(byok, operation.name, chatStreamEvents(response))) yield tracked(event.id, event.data);
  });
}

/** The stream with a failure inside it turned into a TRPCError carrying byok's code. */
async function* guarded(byok: ByokTrpcHost, name: string, events: AsyncGenerator<ByokChatStreamEvent, void, undefined>): AsyncGenerator<ByokChatStreamEvent, void, undefined> {
  try {
    yield* events;
  } catch (error) {
    throw reported(byok, name, error);
  }
}

/** The resume's `lastEventId` (tRPC puts it into the input) goes to core as the `Last-Event-ID` header. */
function splitLastEventId(input: unknown): { lastEventId: string | undefined; rest: unknown } {
  if (input === null || typeof input !== 'object' || Array.isArray(input) || !('lastEventId' in input)) return { lastEventId: undefined, rest: input };
  const { lastEventId, ...rest } = input as Record<string, unknown>;
  if (lastEventId === undefined || lastEventId === null) return { lastEventId: undefined, rest };
  if (typeof lastEventId !== 'string') throw refusal('validation_failed', 'Invalid input (lastEventId: expected a string)', ['lastEventId']);
  return { lastEventId, rest };
}

/** Puts a procedure at its dotted path; a name that is also another's namespace is a configuration error. */
function place(record: Record<string, unknown>, name: string, value: AnyTRPCProcedure): void {
  const segments = name.split('.');
  let node = record;
  for (const segment of segments.slice(0, -1)) {
    const next = node[segment] ?? (node[segment] = {});
    if (isProcedure(next)) throw new ByokError('config_invalid', `Operation ${name} lies under the procedure ${segment}`);
    node = next as Record<string, unknown>;
  }
  const leaf = segments.at(-1)!;
  if (node[leaf] !== undefined) throw new ByokError('config_invalid', `Two procedures are named ${name}`);
  node[leaf] = value;
}

function isProcedure(value: unknown): boolean {
  return typeof value === 'function' && (value as { _def?: { procedure?: unknown } })._def?.procedure === true;
}
