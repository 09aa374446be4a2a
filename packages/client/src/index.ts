// @byok/client — a typed fetch client for byok's HTTP surface. Runs in browsers and Node;
// its only runtime dependency is an SSE parser. The chat transport for the AI SDK's
// `useChat` is in `@byok/client/ai`.

export { createByokClient } from './byok-client';
export type {
  ByokClient,
  ByokClientOptions,
  CallOptions,
  StreamOptions,
  ClientAuth,
  CallableName,
  StreamName,
  InputOf,
  OutputOf,
  InputArgs,
} from './byok-client';
export { ByokClientError, isByokClientError } from './client-error';
export type { ByokClientErrorCode } from './client-error';
export { memoryTokenStore } from './token-store';
export type { TokenStore, SessionTokens } from './token-store';
export type { ReconnectOptions } from './ui-message-stream';
export { BYOK_ROUTES } from './routes';
export type { Route, RoutesOf } from './routes';
export type { UiMessageChunk } from '@byok/core';
