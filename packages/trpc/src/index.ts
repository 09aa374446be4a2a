// @byok/trpc — byok's operations as a tRPC 11 router, and the context its procedures read.
export { createByokRouter } from './byok-router';
export { createByokContext } from './byok-context';
export type { ByokTrpcContext, CreateByokContextOptions, NodeRequestLike, FetchRequestLike } from './byok-context';
export { byokErrorFormatter, toTrpcError } from './byok-error-formatter';
export type { ByokErrorData, ByokErrorShape } from './byok-error-formatter';
export { HTTP_ONLY_OPERATIONS } from './router-types';
export type {
  ByokRouter,
  ByokRouterRecord,
  ByokRouterRoot,
  ByokChatStreamEvent,
  HttpOnlyOperationName,
  ProcedureOf,
  ResumeInput,
  ApiKeyProviderInput,
  SetApiKeyInput,
  TestApiKeyInput,
  ApiKeyStatus,
  ApiKeyRecord,
} from './router-types';
export { DEFAULT_API_KEY_PROVIDER } from './api-key-procedures';
export type { ByokTrpcHost } from './operation-call';
