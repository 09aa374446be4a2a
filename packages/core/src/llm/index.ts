// @byok/core/llm — the provider-author kit: the LlmProvider interface with its types,
// the provider-neutral message parts, and the helpers every provider uses to classify
// failures, bound a call and read retry hints. Listed by name; `api/core.api.md` is the
// reviewed list.

export type {
  LlmProvider,
  CallOptions,
  ValidateKeyOptions,
  KeyValidation,
  LlmMessage,
  ToolDefinition,
  GenerateRequest,
  TokenUsage,
  FinishReason,
  ToolCall,
  GenerateResult,
  StreamEvent,
  ModelInfo,
} from './llm-provider';
export {
  providerMetadataSchema,
  textPartSchema,
  reasoningPartSchema,
  toolCallPartSchema,
  toolResultPartSchema,
  messagePartSchema,
  messagePartsSchema,
  messageRoleSchema,
  partsText,
} from './message-parts';
export type { ProviderMetadata, TextPart, ReasoningPart, ToolCallPart, ToolResultPart, MessagePart, MessageRole } from './message-parts';
export { StreamPartsBuilder } from './stream-parts';

// Failures: one classification (key rejected, rate limited, unavailable, …) for every provider.
export { providerError, keyValidationFromFailure, failureFromThrown, scrubSecrets, scrubText } from './provider-errors';
export type { ProviderFailure } from './provider-errors';
export { startCallDeadline } from './call-deadline';
export type { CallDeadline, CallDeadlineOptions } from './call-deadline';
export { parseRetryAfter, parseDurationMs, rateLimitRetryAfterMs } from './retry-after';
export type { HeaderSource, RateLimitRetryOptions } from './retry-after';
