// @byok/core/http — the adapter kit: what a framework adapter (Express, Nest, tRPC, a
// fetch handler) needs to hand requests to byok's operation registry and write back what
// it answers. Listed by name; `api/core.api.md` is the reviewed list.

// The framework-neutral request and response.
export type { ByokRequest, ByokResponse, SetCookie, SseEvent, AuthContext, RequestMeta } from './types';

// The operation registry.
export { defineOperation } from './operation';
export type { Operation, JsonOperation, EmptyOperation, RawOperation, OperationContext, AuthRequirement, HttpMethod, HttpBinding, Defined } from './operation';
// The registry's types by operation name, for typed clients (`@byok/client`).
export type { ByokOperations, OperationMapOf, OperationTypes, OperationTypesOf } from './operation-map';
export type { HttpSurface, Authenticate, AuthenticateIntent } from './http-handler';
export { openApiDocument } from './openapi';

// The Node request lifecycle, written once for every Node adapter.
export { handleNodeRequest, nodeListener, formatSse } from './node-http';
export type { ByokHandler, NodeRequestOptions } from './node-http';

// The same surface as a web-standard handler (Hono, Next.js route handlers, Bun, Deno).
export { toFetchHandler } from './fetch-handler';
export type { FetchHandler, FetchHandlerOptions, FetchRequestInfo } from './fetch-handler';

// Errors as responses, and cookies for adapters that write their own headers.
export { errorResponse } from './http-handler';
export { toByokError } from '../errors';
export { parseCookieHeader, serializeCookie } from './cookies';
