export type { ByokErrorCode } from '@byok/core';
export type { ApiKeyStatus, ByokRouter } from '@byok/trpc';
