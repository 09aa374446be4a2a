import type { z } from 'zod';
import type { RateLimitClass } from './rate-limit/rate-limiter';
import type { AuthContext, ByokRequest, ByokResponse, RequestMeta, SetCookie } from './types';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a handler gets: validated input, the caller, and a place to put cookies/headers. */
export interface OperationContext<I, A extends AuthContext | null = AuthContext | null> {
  input: I;
  auth: A;
  request: ByokRequest;
  meta: RequestMeta;
  /** Cookies and headers added to whatever response the operation produces. */
  response: { cookies: SetCookie[]; headers: Record<string, string> };
}

interface OperationBase<I> {
  /** Stable dotted name, also the tRPC procedure path (e.g. `me.preferences.update`). */
  name: string;
  summary: string;
  /** Rate-limit class applied per IP and per user before the handler runs (a typo does not compile). */
  rateLimit?: RateLimitClass;
  input: z.ZodType<I, any>;
  http: HttpBinding;
}

/** Where an operation lives on the HTTP surface. */
export interface HttpBinding {
  method: HttpMethod;
  path: string;
  status?: number;
}

export type AuthRequirement = 'required' | 'optional' | 'none';

type Ctx<I, R extends AuthRequirement> = OperationContext<I, R extends 'required' ? AuthContext : AuthContext | null>;

/** An operation that answers with a JSON body validated (and stripped) by `output`. */
export interface JsonOperation<I = any, O = any, R extends AuthRequirement = AuthRequirement> extends OperationBase<I> {
  kind: 'json';
  auth: R;
  output: z.ZodType<O, any>;
  handler(ctx: Ctx<I, R>): Promise<O>;
}

/** An operation that answers with no body (204 by default). */
export interface EmptyOperation<I = any, R extends AuthRequirement = AuthRequirement> extends OperationBase<I> {
  kind: 'empty';
  auth: R;
  handler(ctx: Ctx<I, R>): Promise<void>;
}

/** An operation that answers with a raw ByokResponse: redirects, event streams, documents. */
export interface RawOperation<I = any, R extends AuthRequirement = AuthRequirement> extends OperationBase<I> {
  kind: 'raw';
  auth: R;
  /** For OpenAPI: what the success response is (`markdown`: a `text` body as `text/markdown`). */
  produces: 'redirect' | 'event-stream' | 'json' | 'markdown';
  handler(ctx: Ctx<I, R>): Promise<Omit<ByokResponse, 'cookies' | 'headers'> & Partial<Pick<ByokResponse, 'cookies' | 'headers'>>>;
}

export type Operation = JsonOperation<any, any, any> | EmptyOperation<any, any> | RawOperation<any, any>;

/**
 * An operation as `defineOperation` returns it: its name, binding, schemas (and what a raw
 * one produces) keep their literal types, so `OperationMapOf` can type a client from it.
 */
export type Defined<Op, Facts> = Omit<Op, keyof Facts> & Facts;

/**
 * Declares an operation with its types inferred. Identity at run time.
 *
 * @example
 * import { z } from 'zod';
 * const whoAmI = defineOperation({
 *   kind: 'json', name: 'me.id', summary: 'The signed-in user id', auth: 'required',
 *   input: z.object({}), output: z.object({ userId: z.string() }),
 *   http: { method: 'GET', path: '/me/id' },
 *   handler: async ({ auth }) => ({ userId: auth.userId }),
 * });
 * byok.http.add(whoAmI);
 */
export function defineOperation<I, O, R extends AuthRequirement, const N extends string, const H extends HttpBinding, SI extends z.ZodType<I, any>, SO extends z.ZodType<O, any>>(
  op: JsonOperation<I, O, R> & { name: N; http: H; input: SI; output: SO },
): Defined<JsonOperation<I, O, R>, { name: N; http: H; input: SI; output: SO }>;
export function defineOperation<I, R extends AuthRequirement, const N extends string, const H extends HttpBinding, SI extends z.ZodType<I, any>>(
  op: EmptyOperation<I, R> & { name: N; http: H; input: SI },
): Defined<EmptyOperation<I, R>, { name: N; http: H; input: SI }>;
export function defineOperation<I, R extends AuthRequirement, const N extends string, const H extends HttpBinding, SI extends z.ZodType<I, any>, const P extends RawOperation['produces']>(
  op: RawOperation<I, R> & { name: N; http: H; input: SI; produces: P },
): Defined<RawOperation<I, R>, { name: N; http: H; input: SI; produces: P }>;
export function defineOperation(op: Operation): Operation {
  return op;
}
