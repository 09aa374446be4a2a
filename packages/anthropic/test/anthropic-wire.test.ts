import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { APIError } from '@anthropic-ai/sdk';
import { isByokError, type ByokError } from '@byok/core';
import { StreamPartsBuilder, providerError, startCallDeadline, type LlmMessage, type MessagePart, type StreamEvent } from '@byok/core/llm';
import { REDACTED_THINKING_TRIGGER, startAnthropicStandIn, type LlmStandIn } from '@byok/testing';
import { anthropicFailure } from '../src/anthropic-errors';
import { toMessagesParams, usageOf } from '../src/anthropic-messages';
import { anthropic } from '../src/index';

const KEY = 'sk-ant-wire-key-1234';
const says = (text: string): LlmMessage[] => [{ role: 'user', parts: [{ type: 'text', text }] }];

async function collect(iterable: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of iterable) out.push(event);
  return out;
}

async function failureOf(promise: Promise<unknown>): Promise<ByokError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isByokError(error)) throw new Error(`expected a ByokError, got ${String(error)}`);
  return error;
}

const stored = (parts: MessagePart[]): MessagePart[] => JSON.parse(JSON.stringify(parts)) as MessagePart[];

describe('anthropic on the wire', () => {
  let standIn: LlmStandIn;
  // More models than one page of the provider's list (100), so paging is exercised.
  const models = ['claude-sonnet-5-5', 'claude-haiku-5-5', 'claude-opus-5-5', 'claude-sonnet-4-6', ...Array.from({ length: 130 }, (_, i) => `claude-test-${i}`)];

  beforeAll(async () => {
    standIn = await startAnthropicStandIn({ keys: [KEY], models, chunks: 3 });
  });
  afterAll(async () => {
    await standIn.close();
  });
  beforeEach(() => standIn.reset());

  it('sends the key as the client does (Authorization: Bearer), the API version, on the documented paths', async () => {
    const provider = anthropic({ baseUrl: standIn.url });
    expect(await provider.validateKey(KEY)).toEqual({ status: 'valid' });
    await provider.generate(KEY, { messages: says('a') });
    await collect(provider.stream(KEY, { messages: says('b') }));
    expect(standIn.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/models?limit=1', 'POST /v1/messages', 'POST /v1/messages']);
    for (const r of standIn.requests) {
      expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
      expect(r.headers['anthropic-version']).toBe('2026-10-21');
      expect(r.path).not.toContain(KEY);
    }
    expect(standIn.requests[2]?.body).toMatchObject({ stream: true, model: 'claude-sonnet-5-5', max_tokens: 4096 });
  });

  it('leaves temperature out on API version 2026-10-21 (which refuses it), and sends it on 2023-06-01', async () => {
    const request = { model: 'claude-sonnet-4-6', temperature: 0.3, messages: says('warm') };
    const current = await anthropic({ baseUrl: standIn.url }).generate(KEY, request);
    expect(current.text).toBe('echo: warm');
    expect(standIn.requests.at(-1)?.body).not.toHaveProperty('temperature');
    await anthropic({ baseUrl: standIn.url, apiVersion: '2023-06-01' }).generate(KEY, request);
    expect(standIn.requests.at(-1)).toMatchObject({ headers: { 'anthropic-version': '2023-06-01' }, body: { temperature: 0.3 } });
  });

  it('translates system prompt and messages, merges turns of one role, and puts tool results first', () => {
    const params = toMessagesParams(
      {
        systemPrompt: 'Be brief.',
        maxOutputTokens: 99,
        tools: [{ name: 'lookup', description: 'Looks up', parameters: { type: 'object', properties: { q: { type: 'string' } } } }, { name: 'bare' }],
        messages: [
          { role: 'system', parts: [{ type: 'text', text: 'In French.' }] },
          { role: 'user', parts: [{ type: 'text', text: 'q' }, { type: 'text', text: '' }] },
          { role: 'assistant', parts: [{ type: 'text', text: 'checking' }, { type: 'tool-call', toolCallId: 'toolu_1', toolName: 'lookup', args: { q: 'x' } }] },
          { role: 'tool', parts: [{ type: 'tool-result', toolCallId: 'toolu_1', toolName: 'lookup', result: { found: 1 } }] },
          { role: 'user', parts: [{ type: 'text', text: 'and?' }, { type: 'tool-result', toolCallId: 'toolu_2', toolName: 'lookup', result: 'plain', isError: true }] },
        ],
      },
      { model: 'm', maxOutputTokens: 4096, provider: 'anthropic', sampling: false },
    );
    expect(params).toEqual({
      model: 'm',
      max_tokens: 99,
      system: 'Be brief.\n\nIn French.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'q' }] },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'checking' },
            { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { q: 'x' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: '{"found":1}' },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: 'plain', is_error: true },
            { type: 'text', text: 'and?' },
          ],
        },
      ],
      tools: [
        { name: 'lookup', description: 'Looks up', input_schema: { type: 'object', properties: { q: { type: 'string' } } } },
        { name: 'bare', input_schema: { type: 'object', properties: {} } },
      ],
    });
  });

  describe('thinking', () => {
    const tools = [{ name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } }];
    const script = () =>
      standIn.setReply((turn) => (turn.messages.some((m) => /result/.test(m.text)) ? 'found it' : { text: 'Let me look.', toolCalls: [{ name: 'lookup', args: { q: 'x' } }] }));

    it('generate: the thinking block is a reasoning part whose signature goes back with the tool turn', async () => {
      script();
      const provider = anthropic({ baseUrl: standIn.url, thinking: { type: 'adaptive' } });
      const first = await provider.generate(KEY, { tools, messages: says('look x up') });
      expect(standIn.requests.at(-1)?.body).toMatchObject({ thinking: { type: 'adaptive' } });
      expect(first.parts.map((p) => p.type)).toEqual(['reasoning', 'text', 'tool-call']);
      const reasoning = first.parts[0] as Extract<MessagePart, { type: 'reasoning' }>;
      expect(reasoning.text.length).toBeGreaterThan(0);
      expect(reasoning.providerMetadata).toEqual({ anthropic: { signature: expect.stringMatching(/^[A-Za-z0-9+/=]{20,}$/) } });
      expect(first.text).toBe('Let me look.');
      expect(first.finishReason).toBe('tool-calls');
      const call = first.toolCalls[0]!;
      const history: LlmMessage[] = [
        ...says('look x up'),
        { role: 'assistant', parts: stored(first.parts) },
        { role: 'tool', parts: [{ type: 'tool-result', toolCallId: call.toolCallId, toolName: call.toolName, result: { ok: true } }] },
      ];
      const second = await provider.generate(KEY, { tools, messages: history });
      expect(second.text).toBe('found it');
      const sent = (standIn.requests.at(-1)?.body as { messages: Array<{ content: Array<{ type: string; signature?: string; thinking?: string }> }> }).messages[1]!;
      expect(sent.content[0]).toEqual({ type: 'thinking', thinking: reasoning.text, signature: (reasoning.providerMetadata?.anthropic as { signature: string }).signature });

      // Without the signature (another store dropped it) or with a forged one, the API refuses the turn.
      const unsigned = history.map((m) => (m.role === 'assistant' ? { ...m, parts: m.parts.map(({ providerMetadata: _m, ...p }) => p as MessagePart) } : m));
      const dropped = await failureOf(provider.generate(KEY, { tools, messages: unsigned }));
      expect(dropped).toMatchObject({ code: 'provider_error', details: { providerStatus: 400 } });
      expect(dropped.message).toMatch(/Expected `thinking` or `redacted_thinking`, but found `text`/);
      const forged = history.map((m) =>
        m.role === 'assistant' ? { ...m, parts: m.parts.map((p) => (p.type === 'reasoning' ? { ...p, providerMetadata: { anthropic: { signature: 'Zm9yZ2VkLXNpZ25hdHVyZQ==' } } } : p)) } : m,
      );
      expect((await failureOf(provider.generate(KEY, { tools, messages: forged }))).message).toContain('Invalid `signature` in `thinking` block');
    });

    it('stream: thinking_delta and signature_delta become reasoning-delta events that fold into the same parts as generate', async () => {
      script();
      const provider = anthropic({ baseUrl: standIn.url, thinking: { type: 'enabled', budgetTokens: 2048 } });
      const events = await collect(provider.stream(KEY, { tools, messages: says('look x up') }));
      expect(standIn.requests.at(-1)?.body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 2048 }, max_tokens: 4096 });
      const reasoning = events.filter((e) => e.type === 'reasoning-delta');
      expect(reasoning.filter((e) => e.type === 'reasoning-delta' && e.text !== '').length).toBe(2);
      expect(reasoning.at(-1)).toEqual({ type: 'reasoning-delta', text: '', providerMetadata: { anthropic: { signature: expect.any(String) } } });
      expect(events.findIndex((e) => e.type === 'reasoning-delta')).toBeLessThan(events.findIndex((e) => e.type === 'text-delta'));
      expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'tool-calls', rawFinishReason: 'tool_use' });
      const builder = new StreamPartsBuilder();
      for (const e of events) builder.add(e);
      const parts = builder.parts();
      expect(parts.map((p) => p.type)).toEqual(['reasoning', 'text', 'tool-call']);
      const call = parts[2] as Extract<MessagePart, { type: 'tool-call' }>;
      expect(call.args).toEqual({ q: 'x' });
      const next = await collect(
        provider.stream(KEY, {
          tools,
          messages: [
            ...says('look x up'),
            { role: 'assistant', parts: stored(parts) },
            { role: 'tool', parts: [{ type: 'tool-result', toolCallId: call.toolCallId, toolName: call.toolName, result: 1 }] },
          ],
        }),
      );
      expect(next.filter((e) => e.type === 'text-delta').map((e) => (e.type === 'text-delta' ? e.text : '')).join('')).toBe('found it');
    });

    it('a run of thinking and redacted_thinking blocks is one reasoning part that sends every block back', async () => {
      script();
      const provider = anthropic({ baseUrl: standIn.url, thinking: { type: 'adaptive' } });
      const prompt = says(`look x up ${REDACTED_THINKING_TRIGGER}`);
      const plain = await provider.generate(KEY, { tools, messages: prompt });
      const events = await collect(provider.stream(KEY, { tools, messages: prompt }));
      const builder = new StreamPartsBuilder();
      for (const e of events) builder.add(e);
      for (const parts of [plain.parts, builder.parts()]) {
        expect(parts.map((p) => p.type)).toEqual(['reasoning', 'text', 'tool-call']);
        const blocks = (parts[0]?.providerMetadata?.anthropic as { blocks: Array<{ type: string }> }).blocks;
        expect(blocks.map((b) => b.type)).toEqual(['thinking', 'redacted_thinking']);
      }
      const call = plain.toolCalls[0]!;
      const answer = await provider.generate(KEY, {
        tools,
        messages: [
          ...prompt,
          { role: 'assistant', parts: stored(plain.parts) },
          { role: 'tool', parts: [{ type: 'tool-result', toolCallId: call.toolCallId, toolName: call.toolName, result: 1 }] },
        ],
      });
      expect(answer.text).toBe('found it');
      const sent = (standIn.requests.at(-1)?.body as { messages: Array<{ content: Array<{ type: string }> }> }).messages[1]!;
      expect(sent.content.map((b) => b.type)).toEqual(['thinking', 'redacted_thinking', 'text', 'tool_use']);
    });

    it('refuses a thinking budget the API would refuse, before any call', () => {
      for (const thinking of [{ type: 'enabled' as const, budgetTokens: 512 }, { type: 'enabled' as const, budgetTokens: 4096 }]) {
        expect(() => anthropic({ thinking })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
      }
      expect(() => anthropic({ baseUrl: 'not a url' })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
      expect(() => anthropic({ apiVersion: 'latest' })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    });
  });

  it('a refusal stop is provider_safety_block, on generate and after the streamed text', async () => {
    const provider = anthropic({ baseUrl: standIn.url });
    standIn.injectFault({ kind: 'safety', stage: 'response' });
    expect((await failureOf(provider.generate(KEY, { messages: says('risky words here') }))).code).toBe('provider_safety_block');
    const seen: StreamEvent[] = [];
    const error = await failureOf(
      (async () => {
        for await (const e of provider.stream(KEY, { messages: says('risky words here') })) seen.push(e);
      })(),
    );
    expect(error).toMatchObject({ code: 'provider_safety_block', details: { providerCode: 'refusal' } });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((e) => e.type === 'text-delta')).toBe(true);
  });

  it('usage takes message_delta totals, with cache reads and thinking tokens', async () => {
    standIn.setReply(() => ({ text: 'four words right here', inputTokens: 21, outputTokens: 9 }));
    const provider = anthropic({ baseUrl: standIn.url });
    expect((await provider.generate(KEY, { messages: says('x') })).usage).toEqual({ inputTokens: 21, outputTokens: 9, totalTokens: 30, cachedInputTokens: 0 });
    const events = await collect(provider.stream(KEY, { messages: says('x') }));
    expect(events.at(-1)).toMatchObject({ type: 'finish', usage: { inputTokens: 21, outputTokens: 9, totalTokens: 30, cachedInputTokens: 0 }, model: 'claude-sonnet-5-5' });
    const thinking = await collect(anthropic({ baseUrl: standIn.url, thinking: { type: 'adaptive' } }).stream(KEY, { messages: says('x') }));
    expect(thinking.at(-1)).toMatchObject({ type: 'finish', usage: { outputTokens: 9, reasoningTokens: expect.any(Number) } });
  });

  it('usage counts cache writes and cache reads as input', () => {
    expect(usageOf({ input_tokens: 10, cache_creation_input_tokens: 100, cache_read_input_tokens: 1000, output_tokens: 5, output_tokens_details: { thinking_tokens: 3 } })).toEqual({
      inputTokens: 1110,
      outputTokens: 5,
      totalTokens: 1115,
      reasoningTokens: 3,
      cachedInputTokens: 1000,
    });
  });

  it('sends temperature on 2023-06-01 only where the model takes one (before generation 5, without thinking)', async () => {
    const old = anthropic({ baseUrl: standIn.url, apiVersion: '2023-06-01' });
    await old.generate(KEY, { model: 'claude-sonnet-4-6', temperature: 0.4, messages: says('x') });
    expect(standIn.requests.at(-1)?.body).toMatchObject({ temperature: 0.4 });
    await old.generate(KEY, { model: 'claude-sonnet-5-5', temperature: 0.4, messages: says('x') });
    expect(standIn.requests.at(-1)?.body).not.toHaveProperty('temperature');
    await anthropic({ baseUrl: standIn.url, apiVersion: '2023-06-01', thinking: { type: 'adaptive' } }).generate(KEY, { model: 'claude-sonnet-4-6', temperature: 0.4, messages: says('x') });
    expect(standIn.requests.at(-1)?.body).not.toHaveProperty('temperature');
  });

  it('lists every model across pages, with names and context windows', async () => {
    const listed = await anthropic({ baseUrl: standIn.url }).listModels!(KEY);
    expect(listed).toHaveLength(models.length);
    expect(listed.map((m) => m.id)).toEqual(models);
    expect(listed[0]).toEqual({ id: 'claude-sonnet-5-5', displayName: 'Claude Sonnet 5.5', inputTokenLimit: 1_000_000, outputTokenLimit: 128_000 });
    expect(standIn.requests.filter((r) => r.route === 'models').map((r) => r.path)).toEqual([
      '/v1/models?limit=100',
      '/v1/models?limit=100&after_id=claude-test-95',
    ]);
  });

  it('keeps a stream alive on the API’s pings: the idle deadline restarts on every byte read, not only on events', async () => {
    // The API sends `ping` events while the model is busy; the client drops them, so only
    // the bytes show that the connection is alive. Here 6 pings 100 ms apart precede the text.
    const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': 'req_011CPing' });
      res.write(event('message_start', { message: { id: 'msg_01Ping', type: 'message', role: 'assistant', model: 'claude-sonnet-5-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } } }));
      let pings = 0;
      const timer = setInterval(() => {
        if (pings++ < 6) {
          res.write(event('ping', {}));
          return;
        }
        clearInterval(timer);
        res.end(
          event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
            event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'awake' } }) +
            event('content_block_stop', { index: 0 }) +
            event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 1 } }) +
            event('message_stop', {}),
        );
      }, 100);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const provider = anthropic({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 300 });
      const events = await collect(provider.stream(KEY, { messages: says('take a while') }));
      expect(events.map((e) => e.type)).toEqual(['text-delta', 'finish']);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  describe('error bodies mapped by the real client', () => {
    const deadline = () => startCallDeadline({});
    const fail = (status: number | undefined, error: Record<string, unknown>, headers: Record<string, string> = {}) =>
      providerError(
        anthropicFailure(
          'anthropic',
          status === undefined
            ? new APIError(undefined, { type: 'error', error }, undefined, new Headers(headers), error.type as never)
            : APIError.generate(status, { type: 'error', error, request_id: 'req_011CTest' }, undefined, new Headers({ 'request-id': 'req_011CTest', ...headers })),
          deadline(),
        ),
        [KEY],
      );

    it.each([
      [401, { type: 'authentication_error', message: 'invalid x-api-key' }, {}, 'key_invalid'],
      [403, { type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' }, {}, 'provider_permission_denied'],
      [402, { type: 'billing_error', message: 'There is an issue with your billing.' }, {}, 'provider_quota_exhausted'],
      [400, { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API.' }, {}, 'provider_quota_exhausted'],
      [429, { type: 'rate_limit_error', message: 'Monthly spend limit reached.', details: { error_code: 'enforced_spend_limit_reached' } }, {}, 'provider_quota_exhausted'],
      [429, { type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit' }, { 'retry-after': '19' }, 'provider_rate_limited'],
      [529, { type: 'overloaded_error', message: 'Overloaded' }, {}, 'provider_unavailable'],
      [500, { type: 'api_error', message: 'Internal server error' }, {}, 'provider_unavailable'],
      [400, { type: 'invalid_request_error', message: 'max_tokens: Field required' }, {}, 'provider_error'],
      [404, { type: 'not_found_error', message: 'model: claude-nope' }, {}, 'provider_error'],
    ] as const)('%i %o → %s', (status, error, headers, code) => {
      const mapped = fail(status, error, headers);
      expect(mapped.code).toBe(code);
      expect(mapped.details).toMatchObject({ provider: 'anthropic', providerStatus: status, providerCode: (error as { details?: { error_code: string } }).details?.error_code ?? error.type });
      if (code === 'provider_rate_limited') expect(mapped.details).toMatchObject({ retryAfterMs: 19_000 });
      if (code === 'provider_quota_exhausted') expect(mapped.details).not.toHaveProperty('retryAfterMs');
    });

    it('a mid-stream error event (no status, the type only) reads as the status of its type', () => {
      expect(fail(undefined, { type: 'overloaded_error', message: 'Overloaded' })).toMatchObject({ code: 'provider_unavailable', details: { providerStatus: 529 } });
      expect(fail(undefined, { type: 'rate_limit_error', message: 'slow down' })).toMatchObject({ code: 'provider_rate_limited', details: { providerStatus: 429 } });
      expect(fail(undefined, { type: 'invalid_request_error', message: 'bad' })).toMatchObject({ code: 'provider_error', details: { providerStatus: 400 } });
    });

    it('reads a 529 answered by the stand-in with retry hints kept', async () => {
      standIn.injectFault({ kind: 'server-error', status: 503 }, { times: 1 });
      const error = await failureOf(anthropic({ baseUrl: standIn.url }).generate(KEY, { messages: says('x') }));
      expect(error).toMatchObject({ code: 'provider_unavailable', details: { providerStatus: 529, providerCode: 'overloaded_error' } });
    });
  });
});
