import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { countWords, firstWords, StandInBase, type LlmStandIn, type LlmStandInOptions, type StandInContext, type StandInFault, type StandInTurn } from './llm-stand-in';

const DEFAULT_MODELS = ['claude-sonnet-5-5', 'claude-haiku-5-5', 'claude-opus-5-5', 'claude-sonnet-4-6'];
/** `max_input_tokens` as the model list reports it. */
const CONTEXT_WINDOWS: Record<string, number> = {
  'claude-sonnet-5-5': 1_000_000,
  'claude-haiku-5-5': 200_000,
  'claude-opus-5-5': 1_000_000,
  'claude-sonnet-4-6': 200_000,
};
/**
 * Models that always think (adaptive thinking is on whatever the request says): their
 * replies start with signed thinking blocks, and a tool-use turn sent back without them is
 * refused.
 */
const SIGNED_MODELS = ['claude-opus-5-5'];

/** The `anthropic-version` values the API accepts; the first two still take sampling parameters. */
const VERSIONS = new Set(['2023-01-01', '2023-06-01', '2026-10-21']);
const SAMPLING_VERSIONS = new Set(['2023-01-01', '2023-06-01']);

/**
 * Anthropic's documented test prompt: a request containing it gets a `redacted_thinking`
 * block (here after a normal thinking block), so redacted thinking can be exercised.
 */
export const REDACTED_THINKING_TRIGGER =
  'ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB';

const EXTENDED_THINKING_DOCS = 'https://docs.claude.com/en/docs/build-with-claude/extended-thinking';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

type Block =
  | { type: 'text'; text?: string; citations?: unknown }
  | { type: 'thinking'; thinking?: string; signature?: string }
  | { type: 'redacted_thinking'; data?: string }
  | { type: 'tool_use'; id?: string; name?: string; input?: unknown }
  | { type: 'tool_result'; tool_use_id?: string; content?: string | Array<{ type: string; text?: string }>; is_error?: boolean }
  | { type: string; [key: string]: unknown };
type AnthropicMessage = { role?: string; content?: string | Block[] };
type AnthropicBody = {
  model?: string;
  max_tokens?: number;
  messages?: AnthropicMessage[];
  system?: string | Array<{ type: string; text?: string }>;
  stream?: boolean;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  thinking?: { type?: string; budget_tokens?: number };
  tools?: Array<{ name?: string }>;
};

/** A reply block the stand-in sends, in Messages API shape. */
type ReplyBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string }
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown>; caller: { type: 'direct' } };

class AnthropicError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A local stand-in for Anthropic's Messages API (`api.anthropic.com`) speaking its public
 * REST shapes: `GET /v1/models` (cursor pages: `limit`, `after_id`, `before_id`; `has_more`,
 * `first_id`, `last_id`), `GET /v1/models/{id}`, `POST /v1/messages` as JSON or, with
 * `stream: true`, as SSE with `event:` lines (`message_start`, `content_block_start` /
 * `_delta` / `_stop` with `text_delta`, `thinking_delta`, `signature_delta` and
 * `input_json_delta`, `ping`, `message_delta` with usage, `message_stop`, and `error`
 * mid-stream). The key is read from `x-api-key` or `Authorization: Bearer` (the SDK 1.x
 * sends the latter); `anthropic-version` is required and checked (`2026-10-21` refuses
 * `temperature`, `top_p` and `top_k`). Every answer has a `request-id` header; errors are
 * `{ type: 'error', error: { type, message }, request_id }` with the API's statuses (401
 * `authentication_error`, 403 `permission_error`, 404 `not_found_error`, 429
 * `rate_limit_error` with `retry-after` and `anthropic-ratelimit-*`, 500 `api_error`, 529
 * `overloaded_error`, 400 `invalid_request_error` including the credit-balance refusal).
 *
 * When a request enables thinking (or the model always thinks: `signedModels`), the reply
 * starts with a thinking block whose signature the stand-in checks when the block comes
 * back, and the API's rules are enforced: a final
 * assistant turn with tool use must start with its thinking block, and every `tool_result`
 * must answer a `tool_use` of the turn before.
 */
class AnthropicStandIn extends StandInBase {
  protected readonly basePath = '';
  private readonly secret = randomBytes(32);
  private readonly organizationId = uuidish();

  protected async handle(ctx: StandInContext): Promise<void> {
    const { req, url, log } = ctx;
    const requestId = `req_011C${randomId(20)}`;
    ctx.res.setHeader('request-id', requestId);
    ctx.res.setHeader('anthropic-organization-id', this.organizationId);
    const apiKeyHeader = headerValue(req.headers['x-api-key']);
    const authorization = headerValue(req.headers.authorization);
    const bearer = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length).trim() : undefined;
    // The API uses x-api-key when both are sent.
    const key = apiKeyHeader !== undefined && apiKeyHeader !== '' ? apiKeyHeader : bearer;
    log.key = key;
    const body = (typeof ctx.body === 'object' && ctx.body !== null ? ctx.body : {}) as AnthropicBody;
    const path = url.pathname;
    const modelMatch = /^\/v1\/models\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && (/^\/v1\/models\/?$/.test(path) || modelMatch)) {
      log.route = 'models';
    } else if (req.method === 'POST' && path === '/v1/messages') {
      log.route = body.stream === true ? 'stream' : 'generate';
      if (typeof body.model === 'string') log.model = body.model;
    } else {
      return this.sendError(ctx, requestId, new AnthropicError(404, 'not_found_error', 'Not Found'));
    }

    if (key === undefined || key === '') {
      return this.sendError(ctx, requestId, new AnthropicError(401, 'authentication_error', 'x-api-key header is required'));
    }
    if (!this.isAccepted(key)) {
      const message = apiKeyHeader ? 'invalid x-api-key' : 'Invalid bearer token';
      return this.sendError(ctx, requestId, new AnthropicError(401, 'authentication_error', this.options.echoKeyInErrors ? `${message}: ${key}` : message));
    }
    const version = headerValue(req.headers['anthropic-version']);
    if (version === undefined || version === '') {
      return this.sendError(ctx, requestId, new AnthropicError(400, 'invalid_request_error', 'anthropic-version: header is required'));
    }
    if (!VERSIONS.has(version)) {
      return this.sendError(ctx, requestId, new AnthropicError(400, 'invalid_request_error', `anthropic-version: "${version}" is not a valid version`));
    }

    const fault = this.takeFault(log.route as 'models' | 'generate' | 'stream', key, log.model);
    if (fault && this.playRequestFault(ctx, requestId, fault, key)) return;

    if (log.route === 'models') return modelMatch ? this.getModel(ctx, requestId, decodeURIComponent(modelMatch[1] as string)) : this.listModels(ctx);

    try {
      this.validate(body, version, typeof body.model === 'string' && this.signedModels.includes(body.model));
    } catch (error) {
      if (error instanceof AnthropicError) return this.sendError(ctx, requestId, error);
      throw error;
    }
    const model = body.model as string;
    if (!this.models.includes(model)) {
      return this.sendError(ctx, requestId, new AnthropicError(404, 'not_found_error', `model: ${model}`));
    }
    const turn = readTurn(body, key, model, log.route as 'generate' | 'stream');
    const reply = this.answer(turn, body, fault);
    if (log.route === 'generate') return this.generate(ctx, reply);
    return this.stream(ctx, requestId, reply, fault);
  }

  /** Plays faults that replace the whole answer; returns true when it did. */
  private playRequestFault(ctx: StandInContext, requestId: string, fault: StandInFault, key: string): boolean {
    switch (fault.kind) {
      case 'rate-limit': {
        const seconds = fault.retryAfterSeconds ?? 15;
        const limit = fault.limit ?? 'requests';
        const reset = new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
        const headers: Record<string, string> = { 'retry-after': String(seconds) };
        if (limit === 'tokens') {
          headers['anthropic-ratelimit-input-tokens-limit'] = '30000';
          headers['anthropic-ratelimit-input-tokens-remaining'] = '0';
          headers['anthropic-ratelimit-input-tokens-reset'] = reset;
          headers['anthropic-ratelimit-tokens-limit'] = '38000';
          headers['anthropic-ratelimit-tokens-remaining'] = '0';
          headers['anthropic-ratelimit-tokens-reset'] = reset;
        } else {
          headers['anthropic-ratelimit-requests-limit'] = '50';
          headers['anthropic-ratelimit-requests-remaining'] = '0';
          headers['anthropic-ratelimit-requests-reset'] = reset;
        }
        const message =
          limit === 'tokens'
            ? `This request would exceed the rate limit for your organization (${this.organizationId}) of 30,000 input tokens per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.`
            : "This request would exceed your account's rate limit. Please try again later.";
        this.sendError(ctx, requestId, new AnthropicError(429, 'rate_limit_error', message), headers);
        return true;
      }
      case 'quota-exhausted': {
        const scope = fault.scope ?? 'billing';
        if (scope === 'billing') {
          this.sendError(
            ctx,
            requestId,
            new AnthropicError(400, 'invalid_request_error', 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.'),
          );
        } else if (scope === 'daily') {
          // The spend limit of the usage tier: a 429 without retry-after, named by its error_code.
          this.sendError(
            ctx,
            requestId,
            new AnthropicError(429, 'rate_limit_error', "Your organization has reached its usage tier's monthly spend limit. Usage resumes on the first day of next month at 00:00 UTC."),
            {},
            { error_code: 'enforced_spend_limit_reached' },
          );
        } else {
          const next = new Date();
          next.setUTCMonth(next.getUTCMonth() + 1, 1);
          this.sendError(
            ctx,
            requestId,
            new AnthropicError(400, 'invalid_request_error', `You have reached your specified API usage limits. You will regain access on ${next.toISOString().slice(0, 10)} at 00:00 UTC.`),
          );
        }
        return true;
      }
      case 'server-error': {
        const status = fault.status ?? 500;
        if (status === 503) {
          this.sendError(ctx, requestId, new AnthropicError(529, 'overloaded_error', 'Overloaded'));
        } else if (status === 504) {
          this.sendError(ctx, requestId, new AnthropicError(504, 'timeout_error', 'Request timeout'));
        } else {
          this.sendError(ctx, requestId, new AnthropicError(status, 'api_error', 'Internal server error'));
        }
        return true;
      }
      case 'permission-denied': {
        const reason = fault.reason ?? 'permission';
        const message =
          reason === 'api-disabled'
            ? 'This organization has been disabled.'
            : reason === 'billing'
              ? 'This organization cannot use the API until a payment method is added in Plans & Billing.'
              : this.options.echoKeyInErrors
                ? `Your API key ${key} does not have permission to use the specified resource.`
                : 'Your API key does not have permission to use the specified resource.';
        this.sendError(ctx, requestId, new AnthropicError(403, 'permission_error', message));
        return true;
      }
      case 'region-unsupported':
        // Refused at the edge, before the API: no top-level `type` and no `request_id`.
        this.sendJson(ctx, 403, { error: { type: 'forbidden', message: 'Request not allowed' } }, { 'content-type': 'application/json' });
        return true;
      case 'bad-request':
        this.sendError(ctx, requestId, new AnthropicError(400, 'invalid_request_error', fault.message ?? 'max_tokens: Input should be greater than or equal to 1'));
        return true;
      default:
        return this.playTransportFault(ctx, fault);
    }
  }

  private sendError(ctx: StandInContext, requestId: string, error: AnthropicError, headers: Record<string, string> = {}, details?: Record<string, unknown>): void {
    this.sendJson(
      ctx,
      error.status,
      { type: 'error', error: { type: error.type, message: error.message, ...(details ? { details } : {}) }, request_id: requestId },
      { 'content-type': 'application/json', ...headers },
    );
  }

  private modelInfo(id: string) {
    return {
      type: 'model',
      id,
      display_name: displayName(id),
      created_at: '2026-09-01T00:00:00Z',
      capabilities: null,
      deprecated_at: null,
      lifecycle: 'active',
      line: /haiku/.test(id) ? 'haiku' : /opus/.test(id) ? 'opus' : 'sonnet',
      // Generation 5 models come with a 128k output limit, earlier ones with 64k.
      max_input_tokens: this.contextWindows[id] ?? null,
      max_tokens: generation(id) >= 5 ? 128_000 : 64_000,
      retires_at: null,
    };
  }

  private listModels(ctx: StandInContext): void {
    const params = ctx.url.searchParams;
    const limit = Math.min(1000, Math.max(1, Number(params.get('limit') ?? 20) || 20));
    const after = params.get('after_id');
    const before = params.get('before_id');
    let start = 0;
    let end = this.models.length;
    if (after !== null) start = this.models.indexOf(after) + 1;
    if (before !== null) end = Math.max(0, this.models.indexOf(before));
    const page = before !== null ? this.models.slice(Math.max(start, end - limit), end) : this.models.slice(start, start + limit);
    const hasMore = before !== null ? end - limit > start : start + limit < end;
    this.sendJson(
      ctx,
      200,
      { data: page.map((id) => this.modelInfo(id)), has_more: hasMore, first_id: page[0] ?? null, last_id: page.at(-1) ?? null },
      { 'content-type': 'application/json' },
    );
  }

  private getModel(ctx: StandInContext, requestId: string, id: string): void {
    if (!this.models.includes(id)) return this.sendError(ctx, requestId, new AnthropicError(404, 'not_found_error', `model: ${id}`));
    this.sendJson(ctx, 200, this.modelInfo(id), { 'content-type': 'application/json' });
  }

  /** The request checks of the real API that a provider can get wrong. */
  private validate(body: AnthropicBody, version: string, alwaysThinks: boolean): void {
    const invalid = (message: string) => new AnthropicError(400, 'invalid_request_error', message);
    if (typeof body.model !== 'string' || body.model === '') throw invalid('model: Field required');
    if (typeof body.max_tokens !== 'number') throw invalid('max_tokens: Field required');
    if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) throw invalid('max_tokens: Input should be greater than or equal to 1');
    if (!Array.isArray(body.messages)) throw invalid('messages: Field required');
    for (const field of ['temperature', 'top_p', 'top_k'] as const) {
      if (body[field] !== undefined && !SAMPLING_VERSIONS.has(version)) throw invalid(`${field}: Extra inputs are not permitted`);
    }
    // Models from generation 5 on take no sampling parameters but the default, on any version.
    if (body.temperature !== undefined && body.temperature !== 1 && generation(body.model) >= 5) throw invalid('temperature is deprecated for this model.');
    const thinking = body.thinking;
    const thinkingOn = thinking?.type === 'enabled' || thinking?.type === 'adaptive' || alwaysThinks;
    if (thinking?.type === 'enabled') {
      const budget = thinking.budget_tokens;
      if (typeof budget !== 'number') throw invalid('thinking.enabled.budget_tokens: Field required');
      if (budget < 1024) throw invalid('thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
      if (body.max_tokens <= budget) {
        throw invalid(`\`max_tokens\` must be greater than \`thinking.budget_tokens\`. Please consult our documentation at ${EXTENDED_THINKING_DOCS}#max-tokens-and-context-window-size`);
      }
    }
    if (thinkingOn && body.temperature !== undefined && body.temperature !== 1) {
      throw invalid(`\`temperature\` may only be set to 1 when thinking is enabled. Please consult our documentation at ${EXTENDED_THINKING_DOCS}`);
    }
    const messages = body.messages;
    messages.forEach((message, i) => {
      const blocks = blocksOf(message);
      blocks.forEach((block) => {
        if (block.type === 'text' && (typeof block.text !== 'string' || block.text === '')) throw invalid('messages: text content blocks must be non-empty');
        if ((block.type === 'thinking' || block.type === 'redacted_thinking') && !this.verifyThinking(block)) {
          throw invalid('Invalid `signature` in `thinking` block');
        }
      });
      const results = blocks.filter((b): b is Extract<Block, { type: 'tool_result' }> => b.type === 'tool_result');
      if (results.length > 0) {
        const previous = i > 0 ? messages[i - 1] : undefined;
        const uses = new Set(blocksOf(previous ?? {}).flatMap((b) => (b.type === 'tool_use' && typeof b.id === 'string' ? [b.id] : [])));
        results.forEach((result, j) => {
          if (previous?.role !== 'assistant' || !uses.has(String(result.tool_use_id))) {
            throw invalid(
              `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(result.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
            );
          }
        });
      }
      if (message.role === 'assistant' && i + 1 < messages.length) {
        const ids = blocks.flatMap((b) => (b.type === 'tool_use' && typeof b.id === 'string' ? [b.id] : []));
        const answered = new Set(blocksOf(messages[i + 1] ?? {}).flatMap((b) => (b.type === 'tool_result' ? [String(b.tool_use_id)] : [])));
        const missing = ids.filter((id) => !answered.has(id));
        if (missing.length > 0) {
          throw invalid(
            `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
          );
        }
      }
    });
    if (thinkingOn && messages.length >= 2) {
      const last = messages[messages.length - 1] as AnthropicMessage;
      const index = messages.length - 2;
      const previous = messages[index] as AnthropicMessage;
      const lastBlocks = blocksOf(last);
      const previousBlocks = blocksOf(previous);
      if (last.role === 'user' && lastBlocks.some((b) => b.type === 'tool_result') && previous.role === 'assistant' && previousBlocks.some((b) => b.type === 'tool_use')) {
        const firstType = previousBlocks[0]?.type ?? 'text';
        if (firstType !== 'thinking' && firstType !== 'redacted_thinking') {
          throw invalid(
            `messages.${index}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${firstType}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). To avoid this requirement, disable \`thinking\`. Please consult our documentation at ${EXTENDED_THINKING_DOCS}`,
          );
        }
      }
    }
  }

  private sign(kind: string, value: string): string {
    return createHmac('sha256', this.secret).update(`${kind}\0${value}`).digest('base64');
  }

  private verifyThinking(block: Block): boolean {
    if (block.type === 'thinking') {
      const { thinking, signature } = block as { thinking?: unknown; signature?: unknown };
      return typeof thinking === 'string' && typeof signature === 'string' && safeEqual(signature, this.sign('thinking', thinking));
    }
    const data = (block as { data?: unknown }).data;
    if (typeof data !== 'string') return false;
    const raw = Buffer.from(data, 'base64');
    if (raw.length <= 32) return false;
    return safeEqual(raw.subarray(raw.length - 32).toString('base64'), this.sign('redacted', raw.subarray(0, raw.length - 32).toString('base64')));
  }

  /** The blocks of the reply, its stop reason and its usage. */
  private answer(turn: StandInTurn, body: AnthropicBody, fault: StandInFault | undefined) {
    const reply = this.replyFor(turn);
    const lastUser = [...turn.messages].reverse().find((m) => m.role === 'user')?.text ?? '';
    const blocks: ReplyBlock[] = [];
    const thinkingOn = body.thinking?.type === 'enabled' || body.thinking?.type === 'adaptive' || this.signedModels.includes(turn.model);
    let thinkingWords = 0;
    if (thinkingOn) {
      const thought = `The user wrote ${countWords(lastUser)} words; answer plainly.`;
      blocks.push({ type: 'thinking', thinking: thought, signature: this.sign('thinking', thought) });
      thinkingWords = countWords(thought);
      if (lastUser.includes(REDACTED_THINKING_TRIGGER)) {
        const opaque = randomBytes(48).toString('base64');
        const data = Buffer.concat([Buffer.from(opaque, 'base64'), Buffer.from(this.sign('redacted', opaque), 'base64')]).toString('base64');
        blocks.push({ type: 'redacted_thinking', data });
      }
    }
    let text = reply.text;
    let stopReason = reply.toolCalls.length > 0 ? 'tool_use' : 'end_turn';
    const room = (turn.maxOutputTokens ?? Number.POSITIVE_INFINITY) - thinkingWords;
    if (countWords(text) > room) {
      text = firstWords(text, Math.max(0, room));
      stopReason = 'max_tokens';
    }
    const refused = fault?.kind === 'safety';
    if (refused) {
      // A refusal ends the reply: nothing for a refused prompt, the first words for a refused reply.
      text = fault.stage === 'response' ? firstWords(text, 1) : '';
      stopReason = 'refusal';
    }
    if (text) blocks.push({ type: 'text', text });
    if (!refused && stopReason !== 'max_tokens') {
      for (const call of reply.toolCalls) {
        blocks.push({ type: 'tool_use', id: call.id ?? `toolu_01${randomId(22)}`, name: call.name, input: call.args, caller: { type: 'direct' } });
      }
    }
    const inputTokens = reply.inputTokens ?? countWords([turn.system, ...turn.messages.map((m) => m.text)].join(' '));
    const outputTokens = reply.outputTokens ?? countWords(text) + (refused ? 0 : reply.toolCalls.length) + thinkingWords;
    return { id: `msg_01${randomId(22)}`, model: turn.model, blocks, stopReason, inputTokens, outputTokens, thinkingWords };
  }

  private usage(a: ReturnType<AnthropicStandIn['answer']>, output: number) {
    return {
      input_tokens: a.inputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: output,
      service_tier: 'standard',
      inference_geo: 'global',
    };
  }

  private generate(ctx: StandInContext, a: ReturnType<AnthropicStandIn['answer']>): void {
    this.sendJson(
      ctx,
      200,
      {
        model: a.model,
        id: a.id,
        type: 'message',
        role: 'assistant',
        content: a.blocks,
        stop_reason: a.stopReason,
        stop_sequence: null,
        stop_details: a.stopReason === 'refusal' ? { type: 'refusal', category: null, explanation: null } : null,
        usage: this.usage(a, a.outputTokens),
      },
      { 'content-type': 'application/json' },
    );
  }

  private async stream(ctx: StandInContext, requestId: string, a: ReturnType<AnthropicStandIn['answer']>, fault: StandInFault | undefined): Promise<void> {
    const event = (type: string, data: Record<string, unknown>): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    // Frame 0 opens the message; each later frame is one slice of the reply, so a fault
    // "after N chunks" strikes after N pieces of content.
    let head =
      event('message_start', {
        message: { model: a.model, id: a.id, type: 'message', role: 'assistant', content: [], stop_reason: null, stop_sequence: null, stop_details: null, usage: this.usage(a, 1) },
      }) + event('ping', {});
    const frames: string[] = [];
    const push = (text: string) => {
      if (head) {
        frames.push(head + text);
        head = '';
      } else {
        frames.push(text);
      }
    };
    a.blocks.forEach((block, index) => {
      if (block.type === 'thinking') {
        const half = Math.ceil(block.thinking.length / 2);
        push(
          event('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } }) +
            event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: block.thinking.slice(0, half) } }) +
            event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: block.thinking.slice(half) } }) +
            event('content_block_delta', { index, delta: { type: 'signature_delta', signature: block.signature } }) +
            event('content_block_stop', { index }),
        );
      } else if (block.type === 'redacted_thinking') {
        push(event('content_block_start', { index, content_block: { type: 'redacted_thinking', data: block.data } }) + event('content_block_stop', { index }));
      } else if (block.type === 'text') {
        const pieces = this.split(block.text);
        pieces.forEach((piece, i) => {
          push(
            (i === 0 ? event('content_block_start', { index, content_block: { type: 'text', text: '' } }) : '') +
              event('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }) +
              (i === pieces.length - 1 ? event('content_block_stop', { index }) : ''),
          );
        });
      } else {
        const json = JSON.stringify(block.input);
        const half = Math.ceil(json.length / 2);
        push(
          event('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {}, caller: block.caller } }) +
            event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } }) +
            event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, half) } }),
        );
        push(event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(half) } }) + event('content_block_stop', { index }));
      }
    });
    push(
      event('message_delta', {
        delta: {
          stop_reason: a.stopReason,
          stop_sequence: null,
          stop_details: a.stopReason === 'refusal' ? { type: 'refusal', category: null, explanation: null } : null,
        },
        usage: {
          input_tokens: a.inputTokens,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: a.outputTokens,
          ...(a.thinkingWords > 0 ? { output_tokens_details: { thinking_tokens: a.thinkingWords } } : {}),
        },
      }) + event('message_stop', {}),
    );
    await this.sendStream(ctx, frames, fault, (status, framing) => {
      const error =
        status === 503
          ? { type: 'overloaded_error', message: 'Overloaded' }
          : status === 429
            ? { type: 'rate_limit_error', message: "This request would exceed your account's rate limit. Please try again later." }
            : { type: 'api_error', message: 'Internal server error' };
      const data = JSON.stringify({ type: 'error', error, request_id: requestId });
      return framing === 'bare' ? `${data}\n` : `event: error\ndata: ${data}\n\n`;
    });
  }
}

/** The Claude generation a model id names (`claude-sonnet-5-5` → 5, `claude-3-7-sonnet-…` → 3); unknown ids count as new. */
function generation(model: string): number {
  const match = /^claude-(?:(?:opus|sonnet|haiku|instant)-)?(\d+)(?:[-.]|$)/.exec(model);
  return match ? Number(match[1]) : Number.POSITIVE_INFINITY;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function randomId(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += BASE62[byte % BASE62.length];
  return out;
}

function uuidish(): string {
  const hex = randomBytes(16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function displayName(id: string): string {
  const match = /^claude-([a-z]+)-(\d+)(?:-(\d+))?$/.exec(id);
  if (!match) return id;
  const family = (match[1] as string).charAt(0).toUpperCase() + (match[1] as string).slice(1);
  return `Claude ${family} ${match[2]}${match[3] ? `.${match[3]}` : ''}`;
}

function blocksOf(message: AnthropicMessage): Block[] {
  const content = message.content;
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return Array.isArray(content) ? content.filter((b): b is Block => typeof b === 'object' && b !== null && typeof (b as Block).type === 'string') : [];
}

function blockText(block: Block): string {
  if (block.type === 'text') return String((block as { text?: unknown }).text ?? '');
  if (block.type === 'tool_use') return `[call ${String((block as { name?: unknown }).name)}]`;
  if (block.type === 'tool_result') {
    const content = (block as { content?: unknown }).content;
    const text = typeof content === 'string' ? content : Array.isArray(content) ? content.map((c) => String((c as { text?: unknown }).text ?? '')).join('') : '';
    return `[result ${String((block as { tool_use_id?: unknown }).tool_use_id)}: ${text}]`;
  }
  return '';
}

function readTurn(body: AnthropicBody, key: string, model: string, route: 'generate' | 'stream'): StandInTurn {
  const system = typeof body.system === 'string' ? body.system : Array.isArray(body.system) ? body.system.map((b) => b.text ?? '').join('\n') : '';
  return {
    key,
    model,
    route,
    system,
    messages: (body.messages ?? []).map((m) => ({ role: m.role ?? 'user', text: blocksOf(m).map(blockText).join('') })),
    tools: (body.tools ?? []).map((t) => String(t.name)),
    ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
    ...(body.max_tokens !== undefined ? { maxOutputTokens: body.max_tokens } : {}),
    body,
  };
}

export type AnthropicStandInOptions = LlmStandInOptions;

/**
 * Starts an Anthropic Messages API stand-in on 127.0.0.1 (ephemeral port). Point the real
 * client at it: `anthropic({ baseUrl: standIn.url })` or
 * `new Anthropic({ apiKey, baseURL: standIn.url })`. The default reply is
 * `echo: <last user text>`, cut into `chunks` text deltas.
 *
 * @example
 * const standIn = await startAnthropicStandIn({ keys: ['sk-ant-test'], chunks: 4 });
 * standIn.injectFault({ kind: 'rate-limit', retryAfterSeconds: 7 }, { route: 'stream', times: 1 });
 * // ... run the client ...
 * await standIn.close();
 */
export async function startAnthropicStandIn(options: AnthropicStandInOptions = {}): Promise<LlmStandIn> {
  return new AnthropicStandIn(options, DEFAULT_MODELS, { contextWindows: CONTEXT_WINDOWS, signedModels: SIGNED_MODELS }).start();
}
