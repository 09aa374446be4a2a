import {
  ByokError,
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
import { failureFromThrown, keyValidationFromFailure, providerError, startCallDeadline, type CallDeadline } from '@byok/core/llm';
import { openAiHttpFailure, openAiStreamFailure, type OpenAiErrorObject } from './openai-errors';
import { contentText, finishReasonOf, toChatCompletion, type OpenAiToolCall } from './openai-messages';
import { isOpenAiChatModel, toModelInfo, type OpenAiListedModel } from './openai-model-list';
import { isOpenAiReasoningModel } from './openai-model-rules';
import { sseEvents } from './sse-events';
import { ToolCallDeltas, type ToolCallDelta } from './tool-call-deltas';

export interface OpenAiCompatibleOptions {
  /** Provider id, stored with each key (`openai`, `groq`, `openrouter`, ...). */
  id: string;
  /**
   * The API root, e.g. `https://api.openai.com/v1`; `/models` and `/chat/completions` are
   * appended to its path, and a query it carries is kept (Azure OpenAI:
   * `https://{resource}.openai.azure.com/openai/deployments/{deployment}?api-version=2024-10-21`).
   */
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
  /**
   * Which body field carries `maxOutputTokens`, for every model. Default: per model —
   * `max_completion_tokens` for reasoning models, else `max_tokens` (the widely supported one).
   */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
  /**
   * Which models are reasoning models: they get `max_completion_tokens` and no `temperature`
   * (OpenAI refuses both for them). Default {@link isOpenAiReasoningModel} (o-series, gpt-5
   * family); `true`/`false` for every model (e.g. an Azure deployment named freely), or a rule.
   */
  reasoningModels?: boolean | ((model: string) => boolean);
  /**
   * Send `stream_options: { include_usage: true }` with streams, so the last chunk carries
   * token usage. Default true; turn it off for servers that reject the field (usage is then
   * whatever the server sends, or zeros).
   */
  streamOptions?: boolean;
  /**
   * Which listed models `listModels` returns. Default {@link isOpenAiChatModel}: chat models
   * only (no embedding, speech, image, moderation or Responses-only models).
   */
  modelFilter?: (model: OpenAiListedModel) => boolean;
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
    // `content` is a string on OpenAI, an array of parts on some servers.
    message?: { content?: unknown; refusal?: string | null; tool_calls?: OpenAiToolCall[] };
    finish_reason?: string | null;
  }>;
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    total_tokens?: number;
    // Some compatible servers send these as `null` or leave the counts out.
    prompt_tokens_details?: { cached_tokens?: number | null } | null;
    completion_tokens_details?: { reasoning_tokens?: number | null } | null;
  };
}

interface ChatCompletionChunk {
  model?: string;
  choices?: Array<{
    delta?: { content?: unknown; refusal?: string | null; tool_calls?: ToolCallDelta[] };
    finish_reason?: string | null;
  }>;
  usage?: ChatCompletionResponse['usage'] | null;
  error?: OpenAiErrorObject | string;
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
  const id = options.id;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const doFetch = options.fetch ?? fetch;
  const modelFilter = options.modelFilter ?? isOpenAiChatModel;
  const reasoningRule = options.reasoningModels ?? isOpenAiReasoningModel;
  const isReasoning = (model: string): boolean => (typeof reasoningRule === 'function' ? reasoningRule(model) : reasoningRule);

  /** `{baseUrl}{path}`, with the base URL's query kept after the path. */
  const endpoint = (path: string): string => {
    const url = new URL(base);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
    url.hash = '';
    return url.toString();
  };

  const bodyFor = (request: GenerateRequest, model: string) => {
    const reasoning = isReasoning(model);
    return toChatCompletion(request, {
      model,
      maxTokensField: options.maxTokensField ?? (reasoning ? 'max_completion_tokens' : 'max_tokens'),
      sampling: !reasoning,
    });
  };

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
      response = await doFetch(endpoint(path), { ...init, signal: deadline.signal });
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
      const body = await readJson<{ data?: unknown[] }>(apiKey, response, deadline);
      return (Array.isArray(body.data) ? body.data : [])
        .filter((m): m is OpenAiListedModel => typeof m === 'object' && m !== null && typeof (m as { id?: unknown }).id === 'string')
        .filter((m) => modelFilter(m))
        .map(toModelInfo);
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
          response = await doFetch(endpoint('/models'), { method: 'GET', headers: headersFor(apiKey, 'application/json'), signal: deadline.signal });
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
      const body = bodyFor(request, model);
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
      const refusal = choice.message?.refusal;
      if (typeof refusal === 'string' && refusal !== '') throw refused(id, refusal);
      const text = contentText(choice.message?.content);
      const toolCalls = (choice.message?.tool_calls ?? []).map((c) => toToolCall(id, c.id, c.function.name, c.function.arguments));
      const parts: MessagePart[] = [];
      if (text) parts.push({ type: 'text', text });
      for (const tc of toolCalls) parts.push({ type: 'tool-call', ...tc });
      return {
        model: json.model ?? model,
        text,
        parts,
        toolCalls,
        finishReason: finishReasonOf(raw, toolCalls.length > 0),
        usage: usageOf(json.usage),
        ...(raw ? { rawFinishReason: raw } : {}),
      };
    },

    stream(apiKey: string, request: GenerateRequest, call: CallOptions = {}): AsyncIterable<StreamEvent> {
      const run = async function* (): AsyncGenerator<StreamEvent> {
        requireKey(apiKey);
        const model = modelOf(request);
        const body = {
          ...bodyFor(request, model),
          stream: true,
          ...(options.streamOptions === false ? {} : { stream_options: { include_usage: true } }),
        };
        // Idle deadline: restarted on every chunk of bytes, paused while the consumer holds an event.
        const deadline = startCallDeadline({ signal: call.signal, timeoutMs });
        const pending = new ToolCallDeltas();
        let refusal = '';
        let rawFinish: string | undefined;
        let usage: TokenUsage | undefined;
        let answeredModel = model;
        let done = false;
        let events: AsyncGenerator<{ event?: string; data: string }> | undefined;
        try {
          const response = await send(
            apiKey,
            '/chat/completions',
            { method: 'POST', headers: { ...headersFor(apiKey, 'text/event-stream'), 'content-type': 'application/json' }, body: JSON.stringify(body) },
            deadline,
          );
          if (!response.body) throw providerError({ provider: id, kind: 'invalid-response', message: 'empty stream' });
          events = sseEvents(response.body, () => deadline.touch());
          for (;;) {
            let next: IteratorResult<{ event?: string; data: string }>;
            try {
              deadline.touch();
              next = await events.next();
            } catch (error) {
              throw providerError(failureFromThrown(id, error, deadline), [apiKey]);
            }
            if (next.done) break;
            const data = next.value.data;
            if (data.trim() === '[DONE]') {
              done = true;
              break;
            }
            let chunk: ChatCompletionChunk;
            try {
              chunk = JSON.parse(data) as ChatCompletionChunk;
            } catch (error) {
              if (next.value.event === 'error') throw providerError(openAiStreamFailure(id, data), [apiKey]);
              throw providerError({ provider: id, kind: 'invalid-response', message: 'a stream event is not JSON', cause: error }, [apiKey]);
            }
            if (next.value.event === 'error') {
              // The error object, or the event data itself when it has no `error` field.
              const error = typeof chunk === 'object' && chunk !== null ? (chunk.error ?? (chunk as OpenAiErrorObject)) : String(chunk);
              throw providerError(openAiStreamFailure(id, error), [apiKey]);
            }
            if (chunk.error) throw providerError(openAiStreamFailure(id, chunk.error), [apiKey]);
            if (chunk.model) answeredModel = chunk.model;
            if (chunk.usage) usage = usageOf(chunk.usage);
            const out: StreamEvent[] = [];
            for (const choice of chunk.choices ?? []) {
              const delta = choice.delta;
              const text = contentText(delta?.content);
              if (text !== '') out.push({ type: 'text-delta', text });
              if (typeof delta?.refusal === 'string') refusal += delta.refusal;
              for (const tc of Array.isArray(delta?.tool_calls) ? delta.tool_calls : []) pending.add(tc);
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
          if (refusal !== '') throw refused(id, refusal);
          const calls = pending.finish().map((c) => toToolCall(id, c.id, c.name, c.args));
          for (const call of calls) yield { type: 'tool-call', ...call };
          yield {
            type: 'finish',
            model: answeredModel,
            finishReason: finishReasonOf(rawFinish, calls.length > 0),
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

/** The model declined (OpenAI `refusal`): a safety refusal, with its words as the reason. */
function refused(provider: string, refusal: string): ByokError {
  return providerError({ provider, kind: 'safety', providerCode: 'refusal', message: refusal });
}

function usageOf(usage: ChatCompletionResponse['usage'] | null | undefined): TokenUsage {
  const inputTokens = usage?.prompt_tokens ?? 0;
  const outputTokens = usage?.completion_tokens ?? 0;
  const reasoningTokens = usage?.completion_tokens_details?.reasoning_tokens;
  const cachedInputTokens = usage?.prompt_tokens_details?.cached_tokens;
  return {
    inputTokens,
    outputTokens,
    totalTokens: usage?.total_tokens ?? inputTokens + outputTokens,
    ...(typeof reasoningTokens === 'number' ? { reasoningTokens } : {}),
    ...(typeof cachedInputTokens === 'number' ? { cachedInputTokens } : {}),
  };
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
