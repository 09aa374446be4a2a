import type { ModelInfo } from '@byok/core';

/**
 * One entry of `GET /models` as the server sent it: OpenAI's `{ id, object, created,
 * owned_by }`, plus whatever a compatible server adds (`context_length`, `context_window`,
 * `type`, `name`, ...).
 */
export interface OpenAiListedModel {
  id: string;
  [field: string]: unknown;
}

/** Ids of models `/chat/completions` does not serve, as OpenAI and compatible servers name them. */
const NOT_CHAT = [
  /embed/, // text-embedding-3-small, nomic-embed-text, ...
  /whisper|transcribe|tts|speech|audio|realtime/, // speech in or out
  /dall-e|gpt-image|image-|sora/, // images and video
  /moderation|rerank/,
  /^(davinci|babbage)(-|$)|^gpt-3\.5-turbo-instruct/, // the legacy /completions models
  // Served by the Responses API only.
  /computer-use|deep-research|codex|^o\d+-pro|^gpt-5(\.\d+)?-pro/,
];

/** Values of a `type` field (Together and others) that are not chat models. */
const NOT_CHAT_TYPES = new Set(['embedding', 'embeddings', 'image', 'moderation', 'rerank', 'audio', 'transcribe', 'tts', 'stt']);

/**
 * The default model filter of `openaiCompatible()`: keeps the models a chat can use and
 * drops embedding, speech, image, moderation, legacy-completion and Responses-only models
 * (by id, or by the `type` field servers such as Together send).
 *
 * @example
 * openaiCompatible({ id: 'openai', baseUrl: 'https://api.openai.com/v1', modelFilter: (m) => isOpenAiChatModel(m) && m.id.startsWith('gpt-') });
 */
export function isOpenAiChatModel(model: OpenAiListedModel): boolean {
  if (typeof model.type === 'string') {
    if (model.type === 'chat') return true;
    if (NOT_CHAT_TYPES.has(model.type)) return false;
  }
  const id = model.id.toLowerCase();
  return !NOT_CHAT.some((rule) => rule.test(id));
}

/**
 * A listed model in neutral terms, with the context window where the server gives one
 * (`context_length`: OpenRouter, Together; `context_window`: Groq; `max_context_length`:
 * Mistral; `max_model_len`: vLLM). OpenAI itself lists none.
 */
export function toModelInfo(model: OpenAiListedModel): ModelInfo {
  const info: ModelInfo = { id: model.id };
  const name = firstString(model.name, model.display_name);
  if (name !== undefined && name !== model.id) info.displayName = name;
  const context = firstCount(model.context_length, model.context_window, model.max_context_length, model.max_model_len);
  if (context !== undefined) info.inputTokenLimit = context;
  const topProvider = typeof model.top_provider === 'object' && model.top_provider !== null ? (model.top_provider as Record<string, unknown>) : {};
  const output = firstCount(model.max_completion_tokens, topProvider.max_completion_tokens, model.max_output_tokens);
  if (output !== undefined) info.outputTokenLimit = output;
  return info;
}

function firstString(...values: unknown[]): string | undefined {
  return values.find((v): v is string => typeof v === 'string' && v.trim() !== '');
}

function firstCount(...values: unknown[]): number | undefined {
  return values.find((v): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0);
}
