// @byok/gemini public surface.
export { gemini } from './gemini-provider';
export type { GeminiOptions } from './gemini-provider';
export type { GeminiSdk, GeminiModelsApi } from './gemini-sdk';
