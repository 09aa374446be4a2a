import { countWords, firstWords, StandInBase, type LlmStandIn, type LlmStandInOptions, type StandInContext, type StandInFault, type StandInTurn } from './llm-stand-in';

// A reasoning model among them, so clients are held to what it refuses.
const DEFAULT_MODELS = ['gpt-4o-mini', 'gpt-4o', 'o4-mini'];

/**
 * What `GET /models` lists besides the chat models, as OpenAI does: embedding, speech,
 * image and moderation models that `/chat/completions` refuses. OpenAI's list reports no
 * context windows.
 */
const LIST_ONLY_MODELS = ['text-embedding-3-small', 'whisper-1', 'tts-1', 'dall-e-3', 'omni-moderation-latest'];

/**
 * OpenAI's reasoning models (o-series, the gpt-5 family but its `-chat` variants) refuse
 * `max_tokens` and a non-default `temperature`.
 */
function isReasoningModel(model: string): boolean {
  return /^o\d/.test(model) || (/^gpt-5/.test(model) && !/^gpt-5(\.\d+)?-chat/.test(model));
}

/** A duration as OpenAI's `x-ratelimit-reset-*` headers write it: `20ms`, `1s`, `6m0s`, `1h2m3s`. */
function resetDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const totalSeconds = ms / 1000;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = Math.round((totalSeconds % 60) * 1000) / 1000;
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

type OpenAiMessage = {
  role: string;
  content?: string | Array<{ type: string; text?: string }> | null;
  tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
};
type OpenAiBody = {
  model?: string;
  messages?: OpenAiMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  tools?: Array<{ type: string; function: { name: string } }>;
  temperature?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
};

function openAiError(message: string, type: string | null, code: string | null, param: string | null = null): unknown {
  return { error: { message, type, param, code } };
}

/**
 * A local stand-in for an OpenAI-compatible API speaking its public REST shapes:
 * `GET /models` (chat models and, as OpenAI, embedding/speech/image/moderation models),
 * `POST /chat/completions` (JSON, or SSE `data: {chunk}\n\n` … `data: [DONE]` with
 * `stream: true`, usage last when `stream_options.include_usage`), `Authorization: Bearer
 * <key>`, and the error body `{ error: { message, type, param, code } }`: 429s with the
 * `x-ratelimit-*` headers (the reset of the limit that was hit), `insufficient_quota`,
 * `invalid_prompt`, and the 400s reasoning models give for `max_tokens` or a `temperature`.
 * Served under `/v1` (and at the root).
 */
class OpenAiStandIn extends StandInBase {
  protected readonly basePath = '/v1';

  protected async handle(ctx: StandInContext): Promise<void> {
    const { req, url, log } = ctx;
    const auth = req.headers.authorization;
    const key = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : undefined;
    log.key = key;
    const path = url.pathname.replace(/^\/v1(?=\/)/, '');
    const body = (ctx.body ?? {}) as OpenAiBody;
    if (req.method === 'GET' && path === '/models') log.route = 'models';
    else if (req.method === 'POST' && path === '/chat/completions') {
      log.route = body.stream ? 'stream' : 'generate';
      log.model = body.model;
    } else {
      return this.sendJson(ctx, 404, openAiError(`Invalid URL (${req.method} ${url.pathname})`, 'invalid_request_error', null));
    }

    if (key === undefined || key === '') {
      return this.sendJson(
        ctx,
        401,
        openAiError(
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
          'invalid_request_error',
          null,
        ),
      );
    }
    if (!this.isAccepted(key)) {
      const shown = this.options.echoKeyInErrors ? key : `${key.slice(0, 3)}*****${key.slice(-2)}`;
      return this.sendJson(
        ctx,
        401,
        openAiError(
          `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          'invalid_request_error',
          'invalid_api_key',
        ),
      );
    }

    const fault = this.takeFault(log.route as 'models' | 'generate' | 'stream', key, log.model);
    if (fault && (await this.playRequestFault(ctx, fault, key))) return;

    if (log.route === 'models') {
      return this.sendJson(ctx, 200, {
        object: 'list',
        data: [...this.models, ...this.nonChatModels].map((id) => ({
          id,
          object: 'model',
          created: 1_700_000_000,
          owned_by: 'system',
        })),
      });
    }
    const model = body.model ?? '';
    if (this.nonChatModels.includes(model)) {
      return this.sendJson(
        ctx,
        404,
        openAiError(
          'This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use v1/completions?',
          'invalid_request_error',
          null,
          'model',
        ),
      );
    }
    if (!this.models.includes(model)) {
      return this.sendJson(
        ctx,
        404,
        openAiError(`The model \`${model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found'),
      );
    }
    if (isReasoningModel(model)) {
      if (body.max_tokens !== undefined) {
        return this.sendJson(
          ctx,
          400,
          openAiError(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            'invalid_request_error',
            'unsupported_parameter',
            'max_tokens',
          ),
        );
      }
      if (body.temperature !== undefined && body.temperature !== 1) {
        return this.sendJson(
          ctx,
          400,
          openAiError(
            `Unsupported value: 'temperature' does not support ${body.temperature} with this model. Only the default (1) value is supported.`,
            'invalid_request_error',
            'unsupported_value',
            'temperature',
          ),
        );
      }
    }
    const turn = readTurn(body, key, model, log.route as 'generate' | 'stream');
    if (fault?.kind === 'safety' && fault.stage !== 'response') {
      // OpenAI's own prompt block (Azure OpenAI answers `content_filter` instead).
      return this.sendJson(
        ctx,
        400,
        openAiError(
          'Invalid prompt: your prompt was flagged as potentially violating our usage policy. Please try again with a different prompt: https://platform.openai.com/docs/guides/reasoning#advice-on-prompting',
          'invalid_request_error',
          'invalid_prompt',
        ),
      );
    }
    if (log.route === 'generate') return this.generate(ctx, turn, fault);
    return this.stream(ctx, turn, body, fault);
  }

  private async playRequestFault(ctx: StandInContext, fault: StandInFault, key: string): Promise<boolean> {
    switch (fault.kind) {
      case 'rate-limit': {
        if (fault.quota) return this.playQuotaExhausted(ctx, 'billing');
        const wait = resetDuration((fault.retryAfterSeconds ?? 20) * 1000);
        const limit = fault.limit ?? 'requests';
        const model = this.modelNamed(ctx);
        const message =
          limit === 'tokens'
            ? `Rate limit reached for ${model} in organization org-standin on tokens per min (TPM): Limit 30000, Used 29954, Requested 1116. Please try again in ${wait}. Visit https://platform.openai.com/account/rate-limits to learn more.`
            : `Rate limit reached for ${model} in organization org-standin on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in ${wait}. Visit https://platform.openai.com/account/rate-limits to learn more.`;
        // OpenAI sends no Retry-After: the reset header of the limit that was hit is the hint.
        this.sendJson(ctx, 429, openAiError(message, limit, 'rate_limit_exceeded'), {
          ...rateLimitHeaders(),
          ...(limit === 'tokens'
            ? { 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': wait }
            : { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': wait }),
        });
        return true;
      }
      case 'quota-exhausted':
        return this.playQuotaExhausted(ctx, fault.scope ?? 'billing');
      case 'server-error': {
        const status = fault.status ?? 500;
        const message =
          status === 503 ? 'The engine is currently overloaded, please try again later' : 'The server had an error while processing your request. Sorry about that!';
        this.sendJson(ctx, status, openAiError(message, 'server_error', null));
        return true;
      }
      case 'region-unsupported':
        this.sendJson(
          ctx,
          403,
          openAiError(
            this.options.echoKeyInErrors ? `Key ${key} is not allowed in this region.` : 'Country, region, or territory not supported',
            'request_forbidden',
            'unsupported_country_region_territory',
          ),
        );
        return true;
      case 'permission-denied':
        return this.playPermissionDenied(ctx, fault.reason, key);
      case 'bad-request':
        this.sendJson(ctx, 400, openAiError(fault.message ?? "Invalid value for 'temperature'.", 'invalid_request_error', null, 'temperature'));
        return true;
      default:
        return this.playTransportFault(ctx, fault);
    }
  }

  /**
   * OpenAI's refusals about the key's account: a project without access to the model (403,
   * the nearest to an API not enabled), a restricted key missing a scope (401, code null),
   * billing not active (429 `billing_not_active`).
   */
  private playPermissionDenied(ctx: StandInContext, reason: 'api-disabled' | 'billing' | 'permission' | undefined, key: string): true {
    if (reason === 'billing') {
      this.sendJson(
        ctx,
        429,
        openAiError('Your account is not active, please check your billing details on our website.', 'billing_not_active', 'billing_not_active'),
      );
    } else if (reason === 'permission') {
      this.sendJson(
        ctx,
        401,
        openAiError(
          "You have insufficient permissions for this operation. Missing scopes: api.model.read. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.",
          'invalid_request_error',
          null,
        ),
      );
    } else {
      const project = this.options.echoKeyInErrors ? key : 'proj_standin0000000000000000';
      this.sendJson(
        ctx,
        403,
        openAiError(`Project \`${project}\` does not have access to model \`${this.modelNamed(ctx)}\``, 'invalid_request_error', 'model_not_found'),
      );
    }
    return true;
  }

  /**
   * A 429 that waiting does not cure: no credit left (`insufficient_quota`), the per-day
   * request limit, or a request larger than the per-minute token limit can ever allow.
   */
  private playQuotaExhausted(ctx: StandInContext, scope: 'billing' | 'daily' | 'zero-limit'): true {
    const model = this.modelNamed(ctx);
    if (scope === 'billing') {
      this.sendJson(
        ctx,
        429,
        openAiError(
          'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
          'insufficient_quota',
          'insufficient_quota',
        ),
      );
    } else if (scope === 'daily') {
      this.sendJson(
        ctx,
        429,
        openAiError(
          `Rate limit reached for ${model} in organization org-standin on requests per day (RPD): Limit 200, Used 200, Requested 1. Please try again in 7m12s. Visit https://platform.openai.com/account/rate-limits to learn more. You can increase your rate limit by adding a payment method to your account at https://platform.openai.com/account/billing.`,
          'requests',
          'rate_limit_exceeded',
        ),
        rateLimitHeaders(),
      );
    } else {
      this.sendJson(
        ctx,
        429,
        openAiError(
          `Request too large for ${model} in organization org-standin on tokens per min (TPM): Limit 30000, Requested 30601. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.`,
          'tokens',
          'rate_limit_exceeded',
        ),
        rateLimitHeaders(),
      );
    }
    return true;
  }

  /** The model a request named, for messages (`/models` names none). */
  private modelNamed(ctx: StandInContext): string {
    return ctx.log.model ?? this.models[0] ?? 'gpt-4o-mini';
  }

  private answer(turn: StandInTurn, safety: boolean) {
    const reply = this.replyFor(turn);
    let text = reply.text;
    let finishReason = reply.toolCalls.length > 0 ? 'tool_calls' : 'stop';
    if (turn.maxOutputTokens !== undefined && countWords(text) > turn.maxOutputTokens) {
      text = firstWords(text, turn.maxOutputTokens);
      finishReason = 'length';
    }
    if (safety) finishReason = 'content_filter';
    const toolCalls = reply.toolCalls.map((call, i) => ({
      id: call.id ?? `call_${i}_${turn.model.length}`,
      type: 'function' as const,
      function: { name: call.name, arguments: JSON.stringify(call.args) },
    }));
    const inputTokens = reply.inputTokens ?? countWords([turn.system, ...turn.messages.map((m) => m.text)].join(' '));
    const outputTokens = reply.outputTokens ?? countWords(text) + toolCalls.length;
    return { text, toolCalls, finishReason, inputTokens, outputTokens };
  }

  private generate(ctx: StandInContext, turn: StandInTurn, fault: StandInFault | undefined): void {
    const a = this.answer(turn, fault?.kind === 'safety');
    this.sendJson(ctx, 200, {
      id: `chatcmpl-${ctx.log.id}`,
      object: 'chat.completion',
      created: 1_700_000_000,
      model: turn.model,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: fault?.kind === 'safety' ? null : a.text || null,
            ...(a.toolCalls.length > 0 ? { tool_calls: a.toolCalls } : {}),
          },
          finish_reason: a.finishReason,
        },
      ],
      usage: openAiUsage(a),
    });
  }

  private async stream(ctx: StandInContext, turn: StandInTurn, body: OpenAiBody, fault: StandInFault | undefined): Promise<void> {
    const safety = fault?.kind === 'safety';
    const a = this.answer(turn, safety);
    const base = { id: `chatcmpl-${ctx.log.id}`, object: 'chat.completion.chunk', created: 1_700_000_000, model: turn.model };
    const frame = (value: unknown): string => `data: ${JSON.stringify(value)}\n\n`;
    const frames: string[] = [];
    const pieces = a.text ? this.split(a.text) : [];
    const shown = safety ? pieces.slice(0, 1) : pieces;
    shown.forEach((piece, i) => {
      frames.push(frame({ ...base, choices: [{ index: 0, delta: { ...(i === 0 ? { role: 'assistant' } : {}), content: piece }, finish_reason: null }] }));
    });
    if (!safety) {
      a.toolCalls.forEach((call, index) => {
        const args = call.function.arguments;
        const half = Math.ceil(args.length / 2);
        frames.push(frame({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: args.slice(0, half) } }] }, finish_reason: null }] }));
        frames.push(frame({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index, function: { arguments: args.slice(half) } }] }, finish_reason: null }] }));
      });
    }
    frames.push(frame({ ...base, choices: [{ index: 0, delta: {}, finish_reason: a.finishReason }] }));
    if (body.stream_options?.include_usage) {
      frames.push(frame({ ...base, choices: [], usage: openAiUsage(a) }));
    }
    // OpenAI writes an error mid-stream as a `data:` chunk carrying `{ error }`.
    const errorBody = (status: number): unknown =>
      status === 429
        ? openAiError(
            `Rate limit reached for ${turn.model} in organization org-standin on tokens per min (TPM): Limit 30000, Used 29954, Requested 1116. Please try again in 2.14s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
            'tokens',
            'rate_limit_exceeded',
          )
        : openAiError(
            status === 503 ? 'The engine is currently overloaded, please try again later' : 'The server had an error while processing your request. Sorry about that!',
            'server_error',
            null,
          );
    await this.sendStream(
      ctx,
      frames,
      fault,
      (status, framing) => (framing === 'bare' ? `${JSON.stringify(errorBody(status))}\n` : frame(errorBody(status))),
      'data: [DONE]\n\n',
    );
  }
}

/** The `x-ratelimit-*` headers OpenAI puts on answers (per-minute limits, nothing spent). */
function rateLimitHeaders(): Record<string, string> {
  return {
    'x-ratelimit-limit-requests': '500',
    'x-ratelimit-limit-tokens': '30000',
    'x-ratelimit-remaining-requests': '499',
    'x-ratelimit-remaining-tokens': '29000',
    'x-ratelimit-reset-requests': '120ms',
    'x-ratelimit-reset-tokens': '2ms',
  };
}

function contentText(content: OpenAiMessage['content']): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c) => c.text ?? '').join('');
  return '';
}

function readTurn(body: OpenAiBody, key: string, model: string, route: 'generate' | 'stream'): StandInTurn {
  const messages = body.messages ?? [];
  return {
    key,
    model,
    route,
    system: messages.filter((m) => m.role === 'system').map((m) => contentText(m.content)).join('\n'),
    messages: messages
      .filter((m) => m.role !== 'system')
      .map((m) => ({
        role: m.role,
        text:
          contentText(m.content) +
          (m.tool_calls ?? []).map((c) => `[call ${c.function.name}]`).join('') +
          (m.role === 'tool' ? ` [result ${m.tool_call_id ?? ''}]` : ''),
      })),
    tools: (body.tools ?? []).map((t) => t.function.name),
    temperature: body.temperature,
    maxOutputTokens: body.max_completion_tokens ?? body.max_tokens,
    body,
  };
}

export type OpenAiStandInOptions = LlmStandInOptions;

/**
 * Starts an OpenAI-compatible API stand-in on 127.0.0.1 (ephemeral port); `standIn.url`
 * ends in `/v1`, like `https://api.openai.com/v1`.
 *
 * @example
 * import { openaiCompatible } from '@byok/openai-compatible';
 * const standIn = await startOpenAiStandIn({ keys: ['sk-test'], chunks: 4, chunkDelayMs: 20 });
 * const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url, defaultModel: 'gpt-4o-mini' });
 * await standIn.close();
 */
export async function startOpenAiStandIn(options: OpenAiStandInOptions = {}): Promise<LlmStandIn> {
  return new OpenAiStandIn(options, DEFAULT_MODELS, { nonChatModels: LIST_ONLY_MODELS }).start();
}

/** A usage object as OpenAI sends it, with its `*_tokens_details` (this stand-in caches and reasons nothing). */
function openAiUsage(a: { inputTokens: number; outputTokens: number }): unknown {
  return {
    prompt_tokens: a.inputTokens,
    completion_tokens: a.outputTokens,
    total_tokens: a.inputTokens + a.outputTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}
