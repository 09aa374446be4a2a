// @byok/testing/llm — for provider authors: the provider conformance suite and local
// stand-ins that speak the model APIs' public REST shapes (errors and SSE included).
export { llmProviderConformance } from './llm-provider-conformance';
export type { LlmProviderConformanceOptions } from './llm-provider-conformance';
export { startGeminiStandIn } from './gemini-stand-in';
export type { GeminiStandInOptions } from './gemini-stand-in';
export { startOpenAiStandIn } from './openai-stand-in';
export type { OpenAiStandInOptions } from './openai-stand-in';
export { startAnthropicStandIn, REDACTED_THINKING_TRIGGER } from './anthropic-stand-in';
export type { AnthropicStandInOptions } from './anthropic-stand-in';
export type {
  LlmStandIn,
  LlmStandInOptions,
  StandInFault,
  StandInCatalogue,
  FaultTarget,
  StandInRoute,
  StandInTurn,
  StandInRequest,
  ScriptedReply,
  ReplyScript,
} from './llm-stand-in';
