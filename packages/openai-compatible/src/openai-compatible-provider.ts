import {
  ByokError,
  failureFromThrown,
  keyValidationFromFailure,
  providerError,
  startCallDeadline,
  type CallDeadline,
  type CallOptions,
  type GenerateRequest,
  type GenerateResult,
  type KeyValidation,
  type LlmProvider,
  type MessagePart,
  type ModelInfo,
  type StreamEvent,
  type TokenUsage,
  type ToolCall,
  type ValidateKeyOptions,
} from '@byok/core';
import { openAiHttpFailure, openAiStreamFailure } from './openai-errors';
import { finishReasonOf, toChatCompletion, type OpenAiToolCall } from './openai-messages';
import { sseData } from './sse-events';

export interface OpenAiCompatibleOptions {
  /** Provider id, stored with each key (`openai`, `groq`, `openrouter`, ...). */
  id: string;
  /** The API root, e.g. `https://api.openai.com/v1`; `/models` and `/chat/completions` are appended. */
  baseUrl: string;
  /** Model used when a request names none. */
  defaultModel?: string;
  /** Extra headers on every request (never the key: that is per call). */
  headers?: Record<string, string>;
  /**
   * Where the key goes: `Authorization: Bearer <key>` (default) or a named header
   * (Azure OpenAI: `{ header: 'api-key' }`).
   */
  auth?: 'bearer' | { header: string };
  /** Which body field carries `maxOutputTokens`. Default `max_tokens` (the widely supported one). */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
  /**
   * Deadline in ms: for `generate` the whole call, for `stream` the longest wait for the
   * next bytes, for `validateKey` the check (there capped at 10 s unless the call passes
   * its own). Default 60 000.
   */
  timeoutMs?: number;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const VALIDATE_TIMEOUT_MS = 10_000;

interface ChatCompletionResponse {
  model?: string;
  choices?: Array<{
    message?: { content?: string | null; tool_calls?: OpenAiToolCall[] };
    finish_reason?: string | null;
  }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number };
}

interface ChatCompletionChunk {
  model?: string;
  choices?: Array<{
    delta?: {
      content?: string | null;
      tool_calls?: Array<{ index?: number; id?: string; function?: { name?: string; arguments?: string } }>;
    };
    finish_reason?: string | null;
  }>;
  usage?: ChatCompletionResponse['usage'] | null;
  error?: { message?: unknown; type?: unknown; code?: unknown } | string;
}

/**
 * A provider for any OpenAI-compatible chat API (OpenAI, Azure OpenAI, Groq, Together,
 * OpenRouter, Mistral, vLLM, Ollama, LM Studio, ...), over plain fetch. Key checks call
 * `GET {baseUrl}/models`; generation calls `POST {baseUrl}/chat/completions`, streamed
 * as SSE with `stream_options.include_usage` so the final event carries token usage.
 *
 * @example
 * import { openaiCompatible } from '@byok/openai-compatible';
 * const openai = openaiCompatible({ id: 'openai', baseUrl: 'https://api.openai.com/v1', defaultModel: 'gpt-4o-mini' });
 * for await (const event of openai.stream(apiKey, { messages: [{ role: 'user', parts: [{ type: 'text', text: 'Hi' }] }] })) {
 *   if (event.type === 'text-delta') process.stdout.write(event.text);
 *   if (event.type === 'finish') console.log(event.usage);
 * }
 */
export function openaiCompatible(options: OpenAiCompatibleOptions): LlmProvider {
  if (!options || typeof options.id !== 'string' || options.id === '') {
    throw new ByokError('config_invalid', 'openaiCompatible() needs an id');
  }
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new ByokError('config_invalid', `openaiCompatible(${options.id}) needs an absolute baseUrl`);
  }
  const root = base.toString().replace(/\/+$/, '');
  const id = options.id;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxTokensField = options.maxTokensField ?? 'max_tokens';
  const doFetch = options.fetch ?? fetch;

  const headersFor = (apiKey: string, accept: string): Record<string, string> => {
    const auth = options.auth ?? 'bearer';
    return {
      ...options.headers,
      accept,
      ...(auth === 'bearer' ? { authorization: `Bearer ${apiKey}` } : { [auth.header]: apiKey }),
    };
  };

  const requireKey = (apiKey: string): void => {
    if (typeof apiKey !== 'string' || apiKey.trim() === '') {
      throw new ByokError('key_invalid', `${id} API key is empty`, { details: { provider: id } });
    }
  };

  const modelOf = (request: GenerateRequest): string => {
    const model = request.model ?? options.defaultModel;
    if (!model) throw new ByokError('bad_request', `No model given and ${id} has no defaultModel`, { details: { provider: id } });
    return model;
  };

  /** Sends a request; throws a ByokError (key scrubbed) for anything but a 2xx answer. */
  const send = async (apiKey: string, path: string, init: RequestInit, deadline: CallDeadline): Promise<Response> => {
    let response: Response;
    try {
      response = await doFetch(`${root}${path}`, { ...init, signal: deadline.signal });
    } catch (error) {
      throw providerError(failureFromThrown(id, error, deadline), [apiKey]);
    }
    if (response.ok) return response;
    let text = '';
    try {
      text = await response.text();
    } catch (error) {
      throw providerError(failureFromThrown(id, error, deadline), [apiKey]);
    }
    throw providerError(openAiHttpFailure(id, response.status, response.headers, text), [apiKey]);
  };

  const readJson = async <T>(apiKey: string, response: Response, deadline: CallDeadline): Promise<T> => {
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw providerError(failureFromThrown(id, error, deadline), [apiKey]);
    }
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw providerError({ provider: id, kind: 'invalid-response', message: 'the body is not JSON', cause: error }, [apiKey]);
    }
  };

  const listModels = async (apiKey: string, call: CallOptions & { timeoutMs?: number } = {}): Promise<ModelInfo[]> => {
    requireKey(apiKey);
    const deadline = startCallDeadline({ signal: call.signal, timeoutMs: call.timeoutMs ?? timeoutMs });
    try {
      const response = await send(apiKey, '/models', { method: 'GET', headers: headersFor(apiKey, 'application/json') }, deadline);
      const body = await readJson<{ data?: Array<{ id?: unknown }> }>(apiKey, response, deadline);
      return (Array.isArray(body.data) ? body.data : [])
        .filter((m): m is { id: string } => typeof m?.id === 'string')
        .map((m) => ({ id: m.id }));
    } finally {
      deadline.abort();
      deadline.dispose();
    }
  };

  return {
    id,
    ...(options.defaultModel ? { defaultModel: options.defaultModel } : {}),

    async validateKey(apiKey: string, call: ValidateKeyOptions = {}): Promise<KeyValidation> {
      if (typeof apiKey !== 'string' || apiKey.trim() === '') return { status: 'invalid', reason: 'The key is empty' };
      const deadline = startCallDeadline({
        signal: call.signal,
        timeoutMs: call.timeoutMs ?? Math.min(timeoutMs, VALIDATE_TIMEOUT_MS),
      });
      try {
        let response: Response;
        try {
          response = await doFetch(`${root}/models`, { method: 'GET', headers: headersFor(apiKey, 'application/json'), signal: deadline.signal });
        } catch (error) {
          return keyValidationFromFailure(failureFromThrown(id, error, deadline), [apiKey]);
        }
        if (response.ok) return { status: 'valid' };
        let text = '';
        try {
          text = await response.text();
        } catch {
          // The status alone decides.
        }
        return keyValidationFromFailure(openAiHttpFailure(id, response.status, response.headers, text), [apiKey]);
      } finally {
        deadline.abort();
        deadline.dispose();
      }
    },

    async generate(apiKey: string, request: GenerateRequest, call: CallOptions = {}): Promise<GenerateResult> {
      requireKey(apiKey);
      const model = modelOf(request);
      const body = toChatCompletion(request, model, maxTokensField);
      const deadline = startCallDeadline({ signal: call.signal, timeoutMs });
      let json: ChatCompletionResponse;
      try {
        const response = await send(
          apiKey,
          '/chat/completions',
          { method: 'POST', headers: { ...headersFor(apiKey, 'application/json'), 'content-type': 'application/json' }, body: JSON.stringify(body) },
          deadline,
        );
        json = await readJson<ChatCompletionResponse>(apiKey, response, deadline);
      } finally {
        deadline.dispose();
      }
      const choice = json.choices?.[0];
      const raw = choice?.finish_reason ?? undefined;
      if (raw === 'content_filter') throw providerError({ provider: id, kind: 'safety', providerCode: raw, message: 'reply filtered' });
      if (!choice) throw providerError({ provider: id, kind: 'invalid-response', message: 'no choices in the answer' });
      const text = choice.message?.content ?? '';
      const toolCalls = (choice.message?.tool_calls ?? []).map((c) => toToolCall(id, c.id, c.function.name, c.function.arguments));
      const parts: MessagePart[] = [];
      if (text) parts.push({ type: 'text', text });
      for (const tc of toolCalls) parts.push({ type: 'tool-call', ...tc });
      return {
        model: json.model ?? model,
        text,
        parts,
        toolCalls,
        finishReason: finishReasonOf(raw),
        usage: usageOf(json.usage),
        ...(raw ? { rawFinishReason: raw } : {}),
      };
    },

    stream(apiKey: string, request: GenerateRequest, call: CallOptions = {}): AsyncIterable<StreamEvent> {
      const run = async function* (): AsyncGenerator<StreamEvent> {
        requireKey(apiKey);
        const model = modelOf(request);
        const body = { ...toChatCompletion(request, model, maxTokensField), stream: true, stream_options: { include_usage: true } };
        // Idle deadline: restarted on every chunk of bytes, paused while the consumer holds an event.
        const deadline = startCallDeadline({ signal: call.signal, timeoutMs });
        const pending = new Map<number, { id?: string; name: string; args: string }>();
        let rawFinish: string | undefined;
        let usage: TokenUsage | undefined;
        let answeredModel = model;
        let done = false;
        let events: AsyncGenerator<string> | undefined;
        try {
          const response = await send(
            apiKey,
            '/chat/completions',
            { method: 'POST', headers: { ...headersFor(apiKey, 'text/event-stream'), 'content-type': 'application/json' }, body: JSON.stringify(body) },
            deadline,
          );
          if (!response.body) throw providerError({ provider: id, kind: 'invalid-response', message: 'empty stream' });
          events = sseData(response.body, () => deadline.touch());
          for (;;) {
            let next: IteratorResult<string>;
            try {
              deadline.touch();
              next = await events.next();
            } catch (error) {
              throw providerError(failureFromThrown(id, error, deadline), [apiKey]);
            }
            if (next.done) break;
            if (next.value.trim() === '[DONE]') {
              done = true;
              break;
            }
            let chunk: ChatCompletionChunk;
            try {
              chunk = JSON.parse(next.value) as ChatCompletionChunk;
            } catch (error) {
              throw providerError({ provider: id, kind: 'invalid-response', message: 'a stream event is not JSON', cause: error }, [apiKey]);
            }
            if (chunk.error) throw providerError(openAiStreamFailure(id, chunk.error), [apiKey]);
            if (chunk.model) answeredModel = chunk.model;
            if (chunk.usage) usage = usageOf(chunk.usage);
            const out: StreamEvent[] = [];
            for (const choice of chunk.choices ?? []) {
              const delta = choice.delta;
              if (typeof delta?.content === 'string' && delta.content !== '') out.push({ type: 'text-delta', text: delta.content });
              for (const tc of delta?.tool_calls ?? []) {
                const index = tc.index ?? 0;
                const entry = pending.get(index) ?? { name: '', args: '' };
                if (tc.id) entry.id = tc.id;
                if (tc.function?.name) entry.name += tc.function.name;
                if (tc.function?.arguments) entry.args += tc.function.arguments;
                pending.set(index, entry);
              }
              if (choice.finish_reason) rawFinish = choice.finish_reason;
            }
            deadline.pause();
            for (const event of out) {
              yield event;
              if (deadline.callerAborted()) throw providerError({ provider: id, kind: 'aborted' });
            }
            if (rawFinish === 'content_filter') {
              throw providerError({ provider: id, kind: 'safety', providerCode: rawFinish, message: 'reply filtered' });
            }
          }
          if (deadline.callerAborted()) throw providerError({ provider: id, kind: 'aborted' });
          if (!done && rawFinish === undefined) {
            throw providerError({ provider: id, kind: 'network', message: 'the stream ended before the reply was complete' });
          }
          const calls = [...pending.entries()].sort(([a], [b]) => a - b).map(([index, c]) => toToolCall(id, c.id ?? `call_${index}`, c.name, c.args));
          for (const call of calls) yield { type: 'tool-call', ...call };
          yield {
            type: 'finish',
            model: answeredModel,
            finishReason: finishReasonOf(rawFinish),
            usage: usage ?? { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
            ...(rawFinish ? { rawFinishReason: rawFinish } : {}),
          };
        } finally {
          // However the iteration ended, the connection is closed.
          deadline.abort();
          deadline.dispose();
          events?.return(undefined).catch(() => undefined);
        }
      };
      return run();
    },

    listModels,
  };
}

function usageOf(usage: ChatCompletionResponse['usage'] | null | undefined): TokenUsage {
  const inputTokens = usage?.prompt_tokens ?? 0;
  const outputTokens = usage?.completion_tokens ?? 0;
  return { inputTokens, outputTokens, totalTokens: usage?.total_tokens ?? inputTokens + outputTokens };
}

function toToolCall(provider: string, toolCallId: string, toolName: string, argsText: string): ToolCall {
  let args: unknown = {};
  if (argsText.trim() !== '') {
    try {
      args = JSON.parse(argsText);
    } catch (error) {
      throw providerError({ provider, kind: 'invalid-response', message: `the arguments of tool call ${toolName} are not JSON`, cause: error });
    }
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) args = { value: args };
  return { toolCallId, toolName, args: args as Record<string, unknown> };
}
