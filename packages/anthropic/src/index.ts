// @byok/anthropic public surface.
export { anthropic } from './anthropic-provider';
export type { AnthropicOptions } from './anthropic-provider';
export type { AnthropicThinking } from './anthropic-messages';
