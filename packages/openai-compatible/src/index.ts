// @byok/openai-compatible public surface.
export { openaiCompatible } from './openai-compatible-provider';
export type { OpenAiCompatibleOptions } from './openai-compatible-provider';
