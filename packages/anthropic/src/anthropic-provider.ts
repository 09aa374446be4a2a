import Anthropic from '@anthropic-ai/sdk';
import type { Message, RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { ByokError } from '@byok/core';
import {
  StreamPartsBuilder,
  keyValidationFromFailure,
  providerError,
  startCallDeadline,
  type CallDeadline,
  type CallOptions,
  type GenerateRequest,
  type GenerateResult,
  type KeyValidation,
  type LlmProvider,
  type ModelInfo,
  type StreamEvent,
  type TokenUsage,
  type ToolCall,
  type ValidateKeyOptions,
} from '@byok/core/llm';
import { anthropicFailure } from './anthropic-errors';
import {
  deltasOfContent,
  finishReasonOf,
  parseToolInput,
  textOfParts,
  thinkingMetadata,
  toMessagesParams,
  usageOf,
  type AnthropicDelta,
  type AnthropicThinking,
  type ThinkingBlockRecord,
} from './anthropic-messages';

export interface AnthropicOptions {
  /** Provider id (also the key of this provider's `providerMetadata`). Default `anthropic`. */
  id?: string;
  /** API origin, without `/v1`. Default `https://api.anthropic.com` (the client's own default). */
  baseUrl?: string;
  /** Model used when a request names none. Default `claude-sonnet-5-5`. */
  defaultModel?: string;
  /**
   * `max_tokens` when a request sets no `maxOutputTokens` (the Messages API needs one).
   * With `thinking: { type: 'enabled' }` the thinking budget counts inside it. Default 4096.
   */
  maxOutputTokens?: number;
  /**
   * Let the model think first: `{ type: 'adaptive' }` (it decides how much) or
   * `{ type: 'enabled', budgetTokens }` (at least 1024, below `maxOutputTokens`). The
   * thinking arrives as `reasoning` parts whose signatures go back on the next turn, as the
   * API requires for tool use. The API then accepts no `temperature` other than 1.
   * Default: off.
   */
  thinking?: AnthropicThinking;
  /**
   * Deadline in ms: for `generate` the whole call, for `stream` the longest wait for the
   * next bytes (pings included), for `validateKey` the check (there capped at 10 s unless
   * the call passes its own). Default 60 000.
   */
  timeoutMs?: number;
  /**
   * The `anthropic-version` to speak. Default: the client's own (`2026-10-21` for
   * `@anthropic-ai/sdk` 1.x), which has no sampling parameters, so a request's
   * `temperature` is left out. `2023-06-01` still takes `temperature`, on models before
   * Claude generation 5 and without thinking; elsewhere it is left out.
   */
  apiVersion?: string;
  /** Extra headers on every request (never the key: that is per call). */
  headers?: Record<string, string>;
}

const DEFAULT_MODEL = 'claude-sonnet-5-5';
const DEFAULT_MAX_OUTPUT_TOKENS = 4096;
const DEFAULT_TIMEOUT_MS = 60_000;
const VALIDATE_TIMEOUT_MS = 10_000;
/**
 * The client's own timeout stays out of the way (byok's deadline decides); setting it also
 * keeps the client from refusing a large `max_tokens` without streaming.
 */
const CLIENT_TIMEOUT_MS = 2_147_483_647;
/** API versions that still take `temperature`. */
const SAMPLING_VERSIONS = new Set(['2023-01-01', '2023-06-01']);

/**
 * Whether `model` takes a `temperature` (on an API version that has one): Claude models
 * before generation 5 do; from generation 5 on the API refuses any but the default, and
 * so it does for a model whose generation the id does not tell.
 */
function takesTemperature(model: string): boolean {
  const generation = /^claude-(?:(?:opus|sonnet|haiku|instant)-)?(\d+)(?:[-.]|$)/.exec(model)?.[1];
  return generation !== undefined && Number(generation) < 5;
}

/**
 * The Anthropic provider, on `@anthropic-ai/sdk` (Messages API). A client is built per
 * call, so no client, and no plaintext key inside one, outlives the call; the client's own
 * retries are off and its logging silenced (byok classifies every failure once). Key
 * checks list models; generation uses `messages.create`, streamed with `stream: true`.
 *
 * @example
 * import { anthropic } from '@byok/anthropic';
 * const provider = anthropic({ defaultModel: 'claude-sonnet-5-5', thinking: { type: 'adaptive' } });
 * for await (const event of provider.stream(apiKey, { messages: [{ role: 'user', parts: [{ type: 'text', text: 'Hi' }] }] })) {
 *   if (event.type === 'text-delta') process.stdout.write(event.text);
 * }
 */
export function anthropic(options: AnthropicOptions = {}): LlmProvider {
  const id = options.id ?? 'anthropic';
  const defaultModel = options.defaultModel ?? DEFAULT_MODEL;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxOutputTokens = options.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
  const thinking = options.thinking;
  checkOptions(id, maxOutputTokens, thinking);
  const apiVersion = options.apiVersion;
  if (apiVersion !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(apiVersion)) {
    throw new ByokError('config_invalid', `anthropic(${id}): apiVersion must be a date such as 2023-06-01`);
  }
  const headers = { ...options.headers, ...(apiVersion ? { 'anthropic-version': apiVersion } : {}) };
  let base: string | undefined;
  if (options.baseUrl !== undefined) {
    try {
      base = new URL(options.baseUrl).toString().replace(/\/+$/, '');
    } catch {
      throw new ByokError('config_invalid', `anthropic(${id}) needs an absolute baseUrl`);
    }
  }

  const client = (apiKey: string, fetchImpl?: typeof fetch): Anthropic =>
    new Anthropic({
      apiKey,
      ...(base ? { baseURL: base } : {}),
      maxRetries: 0,
      timeout: CLIENT_TIMEOUT_MS,
      logLevel: 'off',
      ...(Object.keys(headers).length > 0 ? { defaultHeaders: { ...headers } } : {}),
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    });

  const requireKey = (apiKey: string): void => {
    if (typeof apiKey !== 'string' || apiKey.trim() === '') {
      throw new ByokError('key_invalid', `${id} API key is empty`, { details: { provider: id } });
    }
  };

  const paramsFor = (request: GenerateRequest) =>
    toMessagesParams(request, {
      model: request.model ?? defaultModel,
      maxOutputTokens,
      provider: id,
      sampling: apiVersion !== undefined && SAMPLING_VERSIONS.has(apiVersion) && thinking === undefined && takesTemperature(request.model ?? defaultModel),
      ...(thinking ? { thinking } : {}),
    });

  return {
    id,
    defaultModel,

    async validateKey(apiKey: string, call: ValidateKeyOptions = {}): Promise<KeyValidation> {
      if (typeof apiKey !== 'string' || apiKey.trim() === '') return { status: 'invalid', reason: 'The key is empty' };
      const deadline = startCallDeadline({
        signal: call.signal,
        timeoutMs: call.timeoutMs ?? Math.min(timeoutMs, VALIDATE_TIMEOUT_MS),
      });
      try {
        await client(apiKey).models.list({ limit: 1 }, { signal: deadline.signal });
        return { status: 'valid' };
      } catch (error) {
        return keyValidationFromFailure(anthropicFailure(id, error, deadline), [apiKey]);
      } finally {
        deadline.abort();
        deadline.dispose();
      }
    },

    async generate(apiKey: string, request: GenerateRequest, call: CallOptions = {}): Promise<GenerateResult> {
      requireKey(apiKey);
      const params = paramsFor(request);
      const deadline = startCallDeadline({ signal: call.signal, timeoutMs });
      let message: Message;
      try {
        message = await client(apiKey).messages.create({ ...params, stream: false }, { signal: deadline.signal });
      } catch (error) {
        throw providerError(anthropicFailure(id, error, deadline), [apiKey]);
      } finally {
        deadline.abort();
        deadline.dispose();
      }
      if (message.stop_reason === 'refusal') throw refusal(id, message.stop_details?.explanation);
      const builder = new StreamPartsBuilder();
      const toolCalls: ToolCall[] = [];
      for (const delta of deltasOfContent(message.content ?? [], id)) {
        builder.add(delta);
        if (delta.type === 'tool-call') toolCalls.push(toolCallOf(delta));
      }
      const parts = builder.parts();
      const raw = message.stop_reason ?? undefined;
      return {
        model: message.model ?? params.model,
        text: textOfParts(parts),
        parts,
        toolCalls,
        finishReason: finishReasonOf(raw),
        usage: usageOf(message.usage),
        ...(raw ? { rawFinishReason: raw } : {}),
      };
    },

    stream(apiKey: string, request: GenerateRequest, call: CallOptions = {}): AsyncIterable<StreamEvent> {
      return streamAnthropic({ id, client, requireKey, timeoutMs }, apiKey, request, paramsFor, call);
    },

    async listModels(apiKey: string, call: CallOptions = {}): Promise<ModelInfo[]> {
      requireKey(apiKey);
      const deadline = startCallDeadline({ signal: call.signal, timeoutMs });
      const out: ModelInfo[] = [];
      try {
        for await (const m of client(apiKey).models.list({ limit: 100 }, { signal: deadline.signal })) {
          if (typeof m.id !== 'string' || m.id === '') continue;
          out.push({
            id: m.id,
            ...(m.display_name ? { displayName: m.display_name } : {}),
            ...(typeof m.max_input_tokens === 'number' ? { inputTokenLimit: m.max_input_tokens } : {}),
            ...(typeof m.max_tokens === 'number' ? { outputTokenLimit: m.max_tokens } : {}),
          });
        }
        return out;
      } catch (error) {
        throw providerError(anthropicFailure(id, error, deadline), [apiKey]);
      } finally {
        deadline.abort();
        deadline.dispose();
      }
    },
  };
}

function checkOptions(id: string, maxOutputTokens: number, thinking: AnthropicThinking | undefined): void {
  if (!Number.isInteger(maxOutputTokens) || maxOutputTokens < 1) {
    throw new ByokError('config_invalid', `anthropic(${id}): maxOutputTokens must be a positive integer`);
  }
  if (thinking === undefined || thinking.type === 'adaptive') return;
  if (thinking.type !== 'enabled' || !Number.isInteger(thinking.budgetTokens) || thinking.budgetTokens < 1024 || thinking.budgetTokens >= maxOutputTokens) {
    throw new ByokError(
      'config_invalid',
      `anthropic(${id}): thinking must be { type: 'adaptive' } or { type: 'enabled', budgetTokens } with 1024 <= budgetTokens < maxOutputTokens`,
    );
  }
}

function refusal(provider: string, explanation: string | null | undefined): ByokError {
  return providerError({ provider, kind: 'safety', providerCode: 'refusal', message: explanation ? `reply refused: ${explanation}` : 'reply refused' });
}

function toolCallOf(delta: Extract<AnthropicDelta, { type: 'tool-call' }>): ToolCall {
  return { toolCallId: delta.toolCallId, toolName: delta.toolName, args: delta.args };
}

/**
 * A fetch whose response body restarts the idle deadline on every chunk of bytes the
 * client reads, pings included. The body is pulled only as the client reads it, so bytes
 * waiting while the consumer holds an event do not restart a paused timer.
 */
function touchingFetch(deadline: CallDeadline): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (!response.body) return response;
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const next = await reader.read();
          if (next.done) {
            controller.close();
            return;
          }
          deadline.touch();
          controller.enqueue(next.value);
        },
        cancel(reason) {
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/** What a stream needs from its provider. */
interface StreamContext {
  id: string;
  client: (apiKey: string, fetchImpl?: typeof fetch) => Anthropic;
  requireKey: (apiKey: string) => void;
  timeoutMs: number;
}

/** The state of the content block being streamed. */
type OpenBlock =
  | { kind: 'text' }
  | { kind: 'thinking'; record: Extract<ThinkingBlockRecord, { type: 'thinking' }> }
  | { kind: 'redacted' }
  | { kind: 'tool'; id: string; name: string; json: string }
  | { kind: 'other' };

async function* streamAnthropic(
  { id, client, requireKey, timeoutMs }: StreamContext,
  apiKey: string,
  request: GenerateRequest,
  paramsFor: (request: GenerateRequest) => ReturnType<typeof toMessagesParams>,
  call: CallOptions,
): AsyncGenerator<StreamEvent> {
  requireKey(apiKey);
  const params = paramsFor(request);
  // Idle deadline: restarted on every chunk of bytes, paused while the consumer holds an event.
  const deadline = startCallDeadline({ signal: call.signal, timeoutMs });
  let model = params.model;
  let usage: TokenUsage | undefined;
  let startUsage: Parameters<typeof usageOf>[0] = {};
  let rawFinish: string | undefined;
  let refusalExplanation: string | null | undefined;
  let stopped = false;
  let sawToolCalls = false;
  const blocks = new Map<number, OpenBlock>();
  let run: ThinkingBlockRecord[] = [];
  let iterator: AsyncIterator<RawMessageStreamEvent> | undefined;
  const fail = (error: unknown): ByokError => providerError(anthropicFailure(id, error, deadline), [apiKey]);
  try {
    try {
      const stream = await client(apiKey, touchingFetch(deadline)).messages.create({ ...params, stream: true }, { signal: deadline.signal });
      iterator = stream[Symbol.asyncIterator]();
    } catch (error) {
      throw fail(error);
    }
    const out: StreamEvent[] = [];
    const closeRun = (): void => {
      if (run.length === 0) return;
      out.push({ type: 'reasoning-delta', text: '', providerMetadata: thinkingMetadata(run, id) });
      run = [];
    };
    for (;;) {
      let next: IteratorResult<RawMessageStreamEvent>;
      try {
        deadline.touch();
        next = await iterator.next();
      } catch (error) {
        // After `message_stop` the reply is whole; the end of the connection no longer matters.
        if (stopped) break;
        throw fail(error);
      }
      if (next.done) break;
      const event = next.value;
      switch (event.type) {
        case 'message_start':
          if (event.message.model) model = event.message.model;
          startUsage = event.message.usage ?? {};
          usage = usageOf(startUsage);
          break;
        case 'content_block_start': {
          const block = event.content_block;
          if (block.type === 'thinking') {
            const record = { type: 'thinking' as const, thinking: block.thinking ?? '', signature: block.signature ?? '' };
            run.push(record);
            if (record.thinking !== '') out.push({ type: 'reasoning-delta', text: record.thinking });
            blocks.set(event.index, { kind: 'thinking', record });
            break;
          }
          if (block.type === 'redacted_thinking') {
            run.push({ type: 'redacted_thinking', data: block.data });
            blocks.set(event.index, { kind: 'redacted' });
            break;
          }
          closeRun();
          if (block.type === 'text') {
            blocks.set(event.index, { kind: 'text' });
            if (block.text) out.push({ type: 'text-delta', text: block.text });
          } else if (block.type === 'tool_use') {
            blocks.set(event.index, { kind: 'tool', id: block.id, name: block.name, json: '' });
          } else {
            blocks.set(event.index, { kind: 'other' });
          }
          break;
        }
        case 'content_block_delta': {
          const open = blocks.get(event.index);
          const delta = event.delta;
          if (delta.type === 'text_delta' && open?.kind === 'text') {
            if (delta.text !== '') out.push({ type: 'text-delta', text: delta.text });
          } else if (delta.type === 'thinking_delta' && open?.kind === 'thinking') {
            open.record.thinking += delta.thinking;
            if (delta.thinking !== '') out.push({ type: 'reasoning-delta', text: delta.thinking });
          } else if (delta.type === 'signature_delta' && open?.kind === 'thinking') {
            // The signature arrives whole, just before the block stops.
            open.record.signature = delta.signature;
          } else if (delta.type === 'input_json_delta' && open?.kind === 'tool') {
            open.json += delta.partial_json;
          }
          break;
        }
        case 'content_block_stop': {
          const open = blocks.get(event.index);
          if (open?.kind === 'tool') {
            sawToolCalls = true;
            out.push({ type: 'tool-call', toolCallId: open.id, toolName: open.name, args: parseToolInput(id, open.name, open.json) });
          }
          break;
        }
        case 'message_delta':
          closeRun();
          if (event.delta.stop_reason) rawFinish = event.delta.stop_reason;
          if (event.delta.stop_reason === 'refusal') refusalExplanation = event.delta.stop_details?.explanation ?? null;
          // Usage counters here are whole-message totals: those present replace the start's.
          if (event.usage) {
            const merged: Record<string, unknown> = { ...startUsage };
            for (const [k, v] of Object.entries(event.usage)) if (v !== null && v !== undefined) merged[k] = v;
            startUsage = merged as typeof startUsage;
            usage = usageOf(merged);
          }
          break;
        case 'message_stop':
          closeRun();
          stopped = true;
          break;
      }
      deadline.pause();
      for (const item of out.splice(0)) {
        yield item;
        if (deadline.callerAborted()) throw providerError({ provider: id, kind: 'aborted' });
      }
      if (rawFinish === 'refusal') throw refusal(id, refusalExplanation);
    }
    // The client ends its iteration quietly when the connection is aborted: the deadline
    // says why, and a reply without `message_stop` is never a finished one.
    if (deadline.callerAborted()) throw providerError({ provider: id, kind: 'aborted' });
    if (!stopped) {
      if (deadline.timedOut()) throw providerError({ provider: id, kind: 'timeout', timeoutMs: deadline.timeoutMs });
      throw providerError({ provider: id, kind: 'network', message: 'the stream ended before the reply was complete' });
    }
    yield {
      type: 'finish',
      model,
      finishReason: rawFinish === undefined && sawToolCalls ? 'tool-calls' : finishReasonOf(rawFinish),
      usage: usage ?? { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
      ...(rawFinish ? { rawFinishReason: rawFinish } : {}),
    };
  } finally {
    // However the iteration ended (done, error, abort, or the consumer leaving early),
    // the connection is closed.
    deadline.abort();
    deadline.dispose();
    iterator?.return?.(undefined).catch(() => undefined);
  }
}
