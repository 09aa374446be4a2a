import type { FinishReason, GenerateRequest } from '@byok/core';

/** A chat message on the wire. */
export type OpenAiMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: OpenAiToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface OpenAiToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatCompletionBody {
  model: string;
  messages: OpenAiMessage[];
  temperature?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  tools?: Array<{ type: 'function'; function: { name: string; description?: string; parameters?: Record<string, unknown> } }>;
  stream?: boolean;
  stream_options?: { include_usage: boolean };
}

/** How a request is rendered for one model. */
export interface ChatCompletionOptions {
  model: string;
  /** The body field that carries `maxOutputTokens`. */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
  /** Send `temperature` (reasoning models refuse any but the default). */
  sampling: boolean;
}

/**
 * Translates a provider-neutral request into a `/chat/completions` body: `systemPrompt`
 * first as a `system` message, tool calls as `tool_calls` with JSON-string arguments, each
 * tool result as its own `tool` message; sampling options only where the model takes them.
 */
export function toChatCompletion(request: GenerateRequest, options: ChatCompletionOptions): ChatCompletionBody {
  const { model, maxTokensField } = options;
  const messages: OpenAiMessage[] = [];
  if (request.systemPrompt) messages.push({ role: 'system', content: request.systemPrompt });
  for (const message of request.messages) {
    const text = message.parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
    const calls: OpenAiToolCall[] = [];
    for (const part of message.parts) {
      if (part.type === 'tool-call') {
        calls.push({ id: part.toolCallId, type: 'function', function: { name: part.toolName, arguments: JSON.stringify(part.args) } });
      }
    }
    const results = message.parts.filter((p) => p.type === 'tool-result');
    if (message.role === 'system') {
      if (text) messages.push({ role: 'system', content: text });
    } else if (message.role === 'assistant') {
      if (text || calls.length > 0) messages.push({ role: 'assistant', content: text || null, ...(calls.length ? { tool_calls: calls } : {}) });
    } else if (message.role === 'user' && text) {
      messages.push({ role: 'user', content: text });
    }
    for (const part of results) {
      if (part.type !== 'tool-result') continue;
      const value = part.isError === true ? { error: part.result } : part.result;
      messages.push({ role: 'tool', tool_call_id: part.toolCallId, content: typeof value === 'string' ? value : JSON.stringify(value ?? null) });
    }
    if (message.role === 'tool' && results.length === 0 && text) {
      // A tool message without a structured result: nothing to pair it with, send as text.
      messages.push({ role: 'user', content: text });
    }
  }
  const body: ChatCompletionBody = { model, messages };
  if (request.temperature !== undefined && options.sampling) body.temperature = request.temperature;
  if (request.maxOutputTokens !== undefined) body[maxTokensField] = request.maxOutputTokens;
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description ? { description: tool.description } : {}),
        parameters: tool.parameters ?? { type: 'object', properties: {} },
      },
    }));
  }
  return body;
}

/**
 * OpenAI's finish reason in neutral terms (`content_filter` is thrown as a safety block
 * instead). A reply that carries tool calls wants their results whatever the server says:
 * some (Gemini's OpenAI-compatible endpoint when streaming) finish it with `stop`.
 */
export function finishReasonOf(raw: string | null | undefined, hasToolCalls = false): FinishReason {
  if (hasToolCalls && (raw === 'stop' || raw === null || raw === undefined)) return 'tool-calls';
  if (raw === 'stop' || raw === null || raw === undefined) return 'stop';
  if (raw === 'length') return 'length';
  if (raw === 'tool_calls' || raw === 'function_call') return 'tool-calls';
  return 'other';
}

/**
 * The text of a reply's `content`: a string (OpenAI), or an array of parts whose `text`
 * parts are joined (Mistral and others; `thinking` and other parts are left out).
 */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content) {
    if (typeof part === 'string') out += part;
    else if (typeof part === 'object' && part !== null) {
      const { type, text } = part as { type?: unknown; text?: unknown };
      if ((type === 'text' || type === undefined) && typeof text === 'string') out += text;
    }
  }
  return out;
}
