import type { MessagePart, MessageRole, ProviderMetadata } from './message-parts';

/**
 * The one plug-in point for model providers. `@byok/gemini` and `@byok/openai-compatible`
 * implement it; a third party can too (run `llmProviderConformance` from `@byok/testing`).
 *
 * The user's API key is an argument of every call and is never kept by the provider
 * beyond that call. Every failure is a `ByokError` (see `provider-errors.ts` for the codes),
 * and no error, cause or log line ever contains the key.
 *
 * @example
 * import { gemini } from '@byok/gemini';
 * const provider: LlmProvider = gemini();
 * const check = await provider.validateKey(apiKey, { timeoutMs: 5_000 });
 * if (check.status === 'valid') {
 *   for await (const event of provider.stream(apiKey, { messages: [{ role: 'user', parts: [{ type: 'text', text: 'Hi' }] }] })) {
 *     if (event.type === 'text-delta') process.stdout.write(event.text);
 *   }
 * }
 */
export interface LlmProvider {
  /** Stable id, stored with each key (`provider_keys.provider`) and session. */
  readonly id: string;
  /** The model used when a request names none. */
  readonly defaultModel?: string;
  /**
   * Asks the provider whether `apiKey` works. Never throws for a provider answer:
   * only an answer that rejects the key itself (Gemini `API_KEY_INVALID`, a 401) is
   * `invalid`; a region, disabled-API, permission, billing or quota refusal, a network
   * error, a timeout, a 429 or a 5xx is `unverified` with its reason, so a valid key is
   * never made unstorable. Throws only `aborted` when `signal` fires.
   */
  validateKey(apiKey: string, options?: ValidateKeyOptions): Promise<KeyValidation>;
  /** One complete reply. */
  generate(apiKey: string, request: GenerateRequest, options?: CallOptions): Promise<GenerateResult>;
  /**
   * The reply as it is produced: `text-delta`, `reasoning-delta` and `tool-call` events,
   * then exactly one `finish` event. A stream that ends without the provider saying the
   * reply is finished is a `provider_network_error`, never a `finish`. Aborting `signal`
   * (or leaving the loop early) closes the connection; an abort ends the iteration with a
   * `ByokError` of code `aborted`. Fold the events into parts with `StreamPartsBuilder`.
   */
  stream(apiKey: string, request: GenerateRequest, options?: CallOptions): AsyncIterable<StreamEvent>;
  /** The chat models this key can use (no embedding or image models), when the provider can list them. */
  listModels?(apiKey: string, options?: CallOptions): Promise<ModelInfo[]>;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ValidateKeyOptions extends CallOptions {
  /** Give up (as `unverified`) after this long. Default: the provider's `timeoutMs`, or 10 s. */
  timeoutMs?: number;
}

/**
 * The outcome of asking the provider about a key. `reason` is a short, key-free sentence
 * suitable for `provider_keys.status_reason`.
 */
export type KeyValidation =
  | { status: 'valid' }
  | { status: 'invalid'; reason: string }
  | { status: 'unverified'; reason: string; retryAfterMs?: number };

/** One message sent to the model. */
export interface LlmMessage {
  role: MessageRole;
  parts: MessagePart[];
}

/** A function the model may call; `parameters` is a JSON Schema object. */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

export interface GenerateRequest {
  /** Defaults to the provider's `defaultModel`. */
  model?: string;
  /** Sent as the provider's system instruction, before any `system` messages. */
  systemPrompt?: string;
  messages: LlmMessage[];
  temperature?: number;
  maxOutputTokens?: number;
  tools?: ToolDefinition[];
}

export interface TokenUsage {
  /** Prompt tokens, cached ones included. */
  inputTokens: number;
  /** Reply tokens, reasoning included. */
  outputTokens: number;
  totalTokens: number;
  /** Of `outputTokens`, those spent on reasoning, when the provider reports them. */
  reasoningTokens?: number;
  /** Of `inputTokens`, those served from the provider's prompt cache, when reported. */
  cachedInputTokens?: number;
}

/**
 * Why the model stopped: `stop` (natural end), `length` (hit `maxOutputTokens`),
 * `tool-calls` (wants tool results), `other` (anything else the provider reported).
 * A safety block is not a finish reason: it is a `provider_safety_block` error.
 */
export type FinishReason = 'stop' | 'length' | 'tool-calls' | 'other';

export interface ToolCall {
  toolCallId: string;
  toolName: string;
  args: Record<string, unknown>;
  /** What the provider needs back with this call on the next turn (e.g. Gemini's `thoughtSignature`). */
  providerMetadata?: ProviderMetadata;
}

export interface GenerateResult {
  /** The model that answered (as the provider names it). */
  model: string;
  text: string;
  /**
   * The reply as message parts, in the order the model produced them (`reasoning`,
   * `text`, `tool-call`), with their `providerMetadata`. Store them as they are: sending
   * them back on the next turn is what keeps e.g. Gemini's thought signatures.
   */
  parts: MessagePart[];
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: TokenUsage;
  /** The provider's own finish reason, for logs (e.g. `MAX_TOKENS`, `length`). */
  rawFinishReason?: string;
}

/**
 * One step of a streamed reply. `providerMetadata` on a delta belongs to the part the
 * delta extends (a delta may carry only metadata, with empty `text`).
 */
export type StreamEvent =
  | { type: 'text-delta'; text: string; providerMetadata?: ProviderMetadata }
  | { type: 'reasoning-delta'; text: string; providerMetadata?: ProviderMetadata }
  | ({ type: 'tool-call' } & ToolCall)
  | { type: 'finish'; model: string; finishReason: FinishReason; usage: TokenUsage; rawFinishReason?: string };

export interface ModelInfo {
  /** The id to put in `GenerateRequest.model`. */
  id: string;
  displayName?: string;
  /** The context window, in tokens, when the API says it: budget a turn's history against it. */
  inputTokenLimit?: number;
  outputTokenLimit?: number;
}
