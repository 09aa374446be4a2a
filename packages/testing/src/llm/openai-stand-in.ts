import { countWords, firstWords, StandInBase, type LlmStandIn, type LlmStandInOptions, type StandInContext, type StandInFault, type StandInTurn } from './llm-stand-in';

const DEFAULT_MODELS = ['gpt-4o-mini', 'gpt-4o'];

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
 * `GET /models`, `POST /chat/completions` (JSON, or SSE `data: {chunk}\n\n` … `data: [DONE]`
 * with `stream: true`, usage last when `stream_options.include_usage`), `Authorization:
 * Bearer <key>`, and the error body `{ error: { message, type, param, code } }` with
 * `Retry-After` on 429. Served under `/v1` (and at the root).
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
        data: this.models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'stand-in' })),
      });
    }
    const model = body.model ?? '';
    if (!this.models.includes(model)) {
      return this.sendJson(
        ctx,
        404,
        openAiError(`The model \`${model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found'),
      );
    }
    const turn = readTurn(body, key, model, log.route as 'generate' | 'stream');
    if (fault?.kind === 'safety' && fault.stage !== 'response') {
      return this.sendJson(
        ctx,
        400,
        openAiError(
          "The response was filtered due to the prompt triggering the content management policy. Please modify your prompt and retry.",
          null,
          'content_filter',
          'prompt',
        ),
      );
    }
    if (log.route === 'generate') return this.generate(ctx, turn, fault);
    return this.stream(ctx, turn, body, fault);
  }

  private async playRequestFault(ctx: StandInContext, fault: StandInFault, key: string): Promise<boolean> {
    switch (fault.kind) {
      case 'rate-limit': {
        const seconds = fault.retryAfterSeconds ?? 20;
        const body = fault.quota
          ? openAiError('You exceeded your current quota, please check your plan and billing details.', 'insufficient_quota', 'insufficient_quota')
          : openAiError(
              `Rate limit reached for ${ctx.log.model ?? 'requests'} in organization org-standin on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in ${seconds}s.`,
              'requests',
              'rate_limit_exceeded',
            );
        this.sendJson(ctx, 429, body, { 'retry-after': String(seconds), 'x-ratelimit-reset-requests': `${seconds}s` });
        return true;
      }
      case 'server-error': {
        const status = fault.status ?? 500;
        const message =
          status === 503 ? 'The engine is currently overloaded, please try again later' : 'The server had an error while processing your request. Sorry about that!';
        this.sendJson(ctx, status, openAiError(message, 'server_error', null));
        return true;
      }
      case 'permission-denied':
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
      case 'bad-request':
        this.sendJson(ctx, 400, openAiError(fault.message ?? "Invalid value for 'temperature'.", 'invalid_request_error', null, 'temperature'));
        return true;
      default:
        return this.playTransportFault(ctx, fault);
    }
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
      usage: { prompt_tokens: a.inputTokens, completion_tokens: a.outputTokens, total_tokens: a.inputTokens + a.outputTokens },
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
      frames.push(frame({ ...base, choices: [], usage: { prompt_tokens: a.inputTokens, completion_tokens: a.outputTokens, total_tokens: a.inputTokens + a.outputTokens } }));
    }
    await this.sendStream(
      ctx,
      frames,
      fault,
      (status) => frame(openAiError(status === 503 ? 'The engine is currently overloaded, please try again later' : 'The server had an error while processing your request.', 'server_error', null)),
      'data: [DONE]\n\n',
    );
  }
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
 * const standIn = await startOpenAiStandIn({ keys: ['sk-test'], chunks: 4, chunkDelayMs: 20 });
 * const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url, defaultModel: 'gpt-4o-mini' });
 * await standIn.close();
 */
export async function startOpenAiStandIn(options: OpenAiStandInOptions = {}): Promise<LlmStandIn> {
  return new OpenAiStandIn(options, DEFAULT_MODELS).start();
}
