import type { GenerateContentParameters, GenerateContentResponse, GoogleGenAIOptions, ListModelsParameters, Model } from '@google/genai';

/** The part of `client.models` byok calls. */
export interface GeminiModelsApi {
  list(params?: ListModelsParameters): Promise<AsyncIterable<Model>>;
  generateContent(params: GenerateContentParameters): Promise<GenerateContentResponse>;
  generateContentStream(params: GenerateContentParameters): Promise<AsyncGenerator<GenerateContentResponse>>;
}

/**
 * The `@google/genai` module, or anything shaped like the part of it byok uses: its
 * `GoogleGenAI` client class. Pass it as `gemini({ sdk })` to run on a copy other than the
 * one this package resolves (a second installed version, a wrapped client).
 */
export interface GeminiSdk {
  GoogleGenAI: new (options: GoogleGenAIOptions) => { models: GeminiModelsApi };
}
