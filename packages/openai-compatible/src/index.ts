// @byok/openai-compatible public surface.
export { openaiCompatible } from './openai-compatible-provider';
export type { OpenAiCompatibleOptions } from './openai-compatible-provider';
export { isOpenAiChatModel } from './openai-model-list';
export type { OpenAiListedModel } from './openai-model-list';
export { isOpenAiReasoningModel } from './openai-model-rules';
