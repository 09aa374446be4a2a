import type {
  ContentBlock,
  ContentBlockParam,
  MessageCreateParamsBase,
  MessageParam,
  StopReason,
  ThinkingConfigParam,
  Tool,
  Usage,
} from '@anthropic-ai/sdk/resources/messages';
import type { FinishReason, GenerateRequest, LlmMessage, MessagePart, StreamEvent, TokenUsage } from '@byok/core';
import type { ProviderMetadata } from '@byok/core/llm';
import { providerError } from '@byok/core/llm';

/** How the model may think before it answers (Anthropic's `thinking` parameter). */
export type AnthropicThinking = { type: 'adaptive' } | { type: 'enabled'; budgetTokens: number };

/** One thinking block as it must go back: the text with its signature, or the redacted data. */
export type ThinkingBlockRecord = { type: 'thinking'; thinking: string; signature: string } | { type: 'redacted_thinking'; data: string };

/**
 * What a `reasoning` part keeps under `providerMetadata[id]`: the `signature` of its one
 * thinking block, the `redactedData` of its one redacted block, or — for a run of several
 * blocks folded into one part — every block in `blocks` (which then wins).
 */
interface ThinkingMetadata {
  signature?: unknown;
  redactedData?: unknown;
  blocks?: unknown;
}

/** The stream events that make up a reply's parts (everything but `finish`). */
export type AnthropicDelta = Extract<StreamEvent, { type: 'text-delta' | 'reasoning-delta' | 'tool-call' }>;

export interface MessagesParamsOptions {
  model: string;
  maxOutputTokens: number;
  thinking?: AnthropicThinking;
  /** The provider id: the key of this provider's `providerMetadata`. */
  provider: string;
  /**
   * The API version has sampling parameters (`2023-06-01`); from `2026-10-21` on it refuses
   * `temperature` at any value, so it is not sent.
   */
  sampling: boolean;
}

/** The body of `messages.create`: the client's own type, plus `temperature` for the API versions that still take it. */
export type MessagesParams = MessageCreateParamsBase & { temperature?: number };

/**
 * Translates a provider-neutral request into Messages API parameters: `systemPrompt` and
 * `system` messages become the top-level `system`; a `tool` message becomes a `user` turn
 * of `tool_result` blocks; consecutive turns of one role are merged (the API would merge
 * them anyway, and a `tool_result` must open the turn after its `tool_use`). `temperature`
 * is sent only to an API version that has sampling parameters. Reasoning
 * parts this provider wrote go back as their `thinking` / `redacted_thinking` blocks, with
 * their signatures; reasoning without one (another provider's) is left out.
 */
export function toMessagesParams(request: GenerateRequest, options: MessagesParamsOptions): MessagesParams {
  const system: string[] = [];
  if (request.systemPrompt) system.push(request.systemPrompt);
  const messages: MessageParam[] = [];
  for (const message of request.messages) {
    if (message.role === 'system') {
      const text = textOf(message);
      if (text) system.push(text);
      continue;
    }
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    const content = toBlocks(message, options.provider);
    if (content.length === 0) continue;
    const last = messages.at(-1);
    if (last !== undefined && last.role === role) (last.content as ContentBlockParam[]).push(...content);
    else messages.push({ role, content });
  }
  const params: MessagesParams = { model: options.model, max_tokens: request.maxOutputTokens ?? options.maxOutputTokens, messages };
  if (system.length > 0) params.system = system.join('\n\n');
  if (request.temperature !== undefined && options.sampling) params.temperature = request.temperature;
  if (options.thinking !== undefined) params.thinking = thinkingParam(options.thinking);
  if (request.tools && request.tools.length > 0) {
    params.tools = request.tools.map(
      (tool): Tool => ({
        name: tool.name,
        ...(tool.description ? { description: tool.description } : {}),
        input_schema: (tool.parameters ?? { type: 'object', properties: {} }) as Tool['input_schema'],
      }),
    );
  }
  return params;
}

function thinkingParam(thinking: AnthropicThinking): ThinkingConfigParam {
  return thinking.type === 'adaptive' ? { type: 'adaptive' } : { type: 'enabled', budget_tokens: thinking.budgetTokens };
}

function textOf(message: LlmMessage): string {
  return message.parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

function toBlocks(message: LlmMessage, provider: string): ContentBlockParam[] {
  const fromModel = message.role === 'assistant';
  const results: ContentBlockParam[] = [];
  const rest: ContentBlockParam[] = [];
  for (const part of message.parts) {
    if (part.type === 'text') {
      // The API refuses empty text blocks.
      if (part.text !== '') rest.push({ type: 'text', text: part.text });
    } else if (part.type === 'reasoning') {
      if (fromModel) rest.push(...thinkingBlocksOf(part.text, part.providerMetadata, provider));
    } else if (part.type === 'tool-call') {
      if (fromModel) rest.push({ type: 'tool_use', id: part.toolCallId, name: part.toolName, input: part.args });
      else rest.push({ type: 'text', text: `[tool call ${part.toolName}: ${JSON.stringify(part.args)}]` });
    } else {
      const value = part.result;
      results.push({
        type: 'tool_result',
        tool_use_id: part.toolCallId,
        content: typeof value === 'string' ? value : JSON.stringify(value ?? null),
        ...(part.isError === true ? { is_error: true } : {}),
      });
    }
  }
  // A tool_result must come first in its turn.
  return [...results, ...rest];
}

/** The thinking blocks a reasoning part stands for, or none when it carries no signature of ours. */
export function thinkingBlocksOf(text: string, metadata: ProviderMetadata | undefined, provider: string): ContentBlockParam[] {
  const mine = metadata?.[provider] as ThinkingMetadata | undefined;
  if (mine === undefined) return [];
  if (Array.isArray(mine.blocks)) {
    return mine.blocks.filter(isThinkingRecord).map((b) => (b.type === 'thinking' ? { type: 'thinking', thinking: b.thinking, signature: b.signature } : { type: 'redacted_thinking', data: b.data }));
  }
  if (typeof mine.redactedData === 'string' && mine.redactedData !== '') return [{ type: 'redacted_thinking', data: mine.redactedData }];
  if (typeof mine.signature === 'string' && mine.signature !== '') return [{ type: 'thinking', thinking: text, signature: mine.signature }];
  return [];
}

function isThinkingRecord(value: unknown): value is ThinkingBlockRecord {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v.type === 'thinking') return typeof v.thinking === 'string' && typeof v.signature === 'string';
  return v.type === 'redacted_thinking' && typeof v.data === 'string';
}

/**
 * Folds a run of consecutive thinking blocks into what the `reasoning` part of that run
 * carries: one block keeps just its signature (or redacted data), several keep all.
 */
export function thinkingMetadata(run: readonly ThinkingBlockRecord[], provider: string): ProviderMetadata {
  if (run.length === 1) {
    const only = run[0] as ThinkingBlockRecord;
    return { [provider]: only.type === 'thinking' ? { signature: only.signature } : { redactedData: only.data } };
  }
  return { [provider]: { blocks: run.map((b) => ({ ...b })) } };
}

/**
 * The reply of a whole `Message` as the stream events it would have streamed: thinking as
 * `reasoning-delta` (the run's metadata on its last delta), text as `text-delta`, each
 * `tool_use` as a `tool-call`. Blocks of server tools and other kinds are left out.
 */
export function deltasOfContent(content: readonly ContentBlock[], provider: string): AnthropicDelta[] {
  const out: AnthropicDelta[] = [];
  let run: ThinkingBlockRecord[] = [];
  const closeRun = () => {
    if (run.length === 0) return;
    out.push({ type: 'reasoning-delta', text: '', providerMetadata: thinkingMetadata(run, provider) });
    run = [];
  };
  for (const block of content) {
    if (block.type === 'thinking') {
      run.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
      if (block.thinking !== '') out.push({ type: 'reasoning-delta', text: block.thinking });
      continue;
    }
    if (block.type === 'redacted_thinking') {
      run.push({ type: 'redacted_thinking', data: block.data });
      continue;
    }
    closeRun();
    if (block.type === 'text') out.push({ type: 'text-delta', text: block.text });
    else if (block.type === 'tool_use') out.push({ type: 'tool-call', toolCallId: block.id, toolName: block.name, args: toolArgs(provider, block.name, block.input) });
  }
  closeRun();
  return out;
}

/** A tool's input as the JSON object byok's `ToolCall.args` is (a non-object is wrapped as `{ value }`). */
export function toolArgs(provider: string, toolName: string, input: unknown): Record<string, unknown> {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) return input as Record<string, unknown>;
  if (input === undefined) throw providerError({ provider, kind: 'invalid-response', message: `tool call ${toolName} has no input` });
  return { value: input };
}

/** Parses the `input_json_delta` pieces of one `tool_use` block. */
export function parseToolInput(provider: string, toolName: string, json: string): Record<string, unknown> {
  if (json.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw providerError({ provider, kind: 'invalid-response', message: `the input of tool call ${toolName} is not JSON`, cause: error });
  }
  return toolArgs(provider, toolName, value);
}

/**
 * Token usage: input counts the cache-read and cache-writing tokens too (Anthropic reports
 * them apart from `input_tokens`); the cache reads are `cachedInputTokens`, the thinking
 * tokens (`output_tokens_details.thinking_tokens`) are `reasoningTokens`.
 */
export function usageOf(
  usage:
    | (Partial<Pick<Usage, 'input_tokens' | 'output_tokens' | 'cache_creation_input_tokens' | 'cache_read_input_tokens'>> & {
        output_tokens_details?: { thinking_tokens?: number | null } | null;
      })
    | undefined,
): TokenUsage {
  const cached = usage?.cache_read_input_tokens;
  const inputTokens = (usage?.input_tokens ?? 0) + (usage?.cache_creation_input_tokens ?? 0) + (cached ?? 0);
  const outputTokens = usage?.output_tokens ?? 0;
  const reasoning = usage?.output_tokens_details?.thinking_tokens;
  return {
    inputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens,
    ...(typeof reasoning === 'number' ? { reasoningTokens: reasoning } : {}),
    ...(typeof cached === 'number' ? { cachedInputTokens: cached } : {}),
  };
}

/** Anthropic's stop reason in neutral terms (`refusal` is thrown as a safety block instead). */
export function finishReasonOf(raw: StopReason | string | null | undefined): FinishReason {
  if (raw === 'end_turn' || raw === 'stop_sequence' || raw === null || raw === undefined) return 'stop';
  if (raw === 'max_tokens' || raw === 'model_context_window_exceeded') return 'length';
  if (raw === 'tool_use') return 'tool-calls';
  return 'other';
}

/** The text of a reply's parts (for `GenerateResult.text`). */
export function textOfParts(parts: readonly MessagePart[]): string {
  let out = '';
  for (const part of parts) if (part.type === 'text') out += part.text;
  return out;
}
