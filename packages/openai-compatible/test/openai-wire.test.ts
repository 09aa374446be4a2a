import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openaiCompatible } from '@byok/openai-compatible';
import { startOpenAiStandIn, type LlmStandIn } from '@byok/testing';
import { collect, failureOf, hi } from './call-results';
import { chunk, scriptedFetch, sse } from './scripted-fetch';

const KEY = 'sk-wire-test-key-000000000001';

describe('openai-compatible on the wire', () => {
  let standIn: LlmStandIn;
  beforeAll(async () => {
    standIn = await startOpenAiStandIn({ keys: [KEY] });
  });
  afterAll(async () => {
    await standIn.close();
  });
  beforeEach(() => standIn.reset());

  it('sends Bearer auth, the model, stream options and max_tokens', async () => {
    const provider = openaiCompatible({ id: 'openai', baseUrl: `${standIn.url}/`, defaultModel: 'gpt-4o-mini' });
    await collect(provider.stream(KEY, { maxOutputTokens: 30, temperature: 0.1, messages: hi }));
    const request = standIn.requests.at(-1)!;
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(request.headers.accept).toBe('text/event-stream');
    expect(request.body).toMatchObject({
      model: 'gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 30,
      temperature: 0.1,
      messages: [{ role: 'user', content: 'hi' }],
    });
  });

  it('can send max_completion_tokens instead', async () => {
    const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url, defaultModel: 'gpt-4o-mini', maxTokensField: 'max_completion_tokens' });
    await provider.generate(KEY, { maxOutputTokens: 12, messages: hi });
    expect(standIn.requests.at(-1)?.body).toMatchObject({ max_completion_tokens: 12 });
    expect(standIn.requests.at(-1)?.body).not.toHaveProperty('max_tokens');
  });

  it('translates system prompt, tool calls and tool results', async () => {
    const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url, defaultModel: 'gpt-4o-mini' });
    await provider.generate(KEY, {
      systemPrompt: 'Be brief.',
      tools: [{ name: 'get_time' }],
      messages: [
        { role: 'system', parts: [{ type: 'text', text: 'Use UTC.' }] },
        { role: 'user', parts: [{ type: 'text', text: 'time?' }] },
        { role: 'assistant', parts: [{ type: 'tool-call', toolCallId: 'call_a', toolName: 'get_time', args: { tz: 'UTC' } }] },
        {
          role: 'tool',
          parts: [
            { type: 'tool-result', toolCallId: 'call_a', toolName: 'get_time', result: { time: '12:00' } },
            { type: 'tool-result', toolCallId: 'call_b', toolName: 'get_time', result: 'boom', isError: true },
          ],
        },
      ],
    });
    const body = standIn.requests.at(-1)?.body as Record<string, unknown>;
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'system', content: 'Use UTC.' },
      { role: 'user', content: 'time?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'get_time', arguments: '{"tz":"UTC"}' } }] },
      { role: 'tool', tool_call_id: 'call_a', content: '{"time":"12:00"}' },
      { role: 'tool', tool_call_id: 'call_b', content: '{"error":"boom"}' },
    ]);
    expect(body.tools).toEqual([{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }]);
  });

  it('lists models', async () => {
    const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url });
    expect(await provider.listModels!(KEY)).toEqual([{ id: 'gpt-4o-mini' }, { id: 'gpt-4o' }, { id: 'o4-mini' }]);
  });

  it('rejects a bad configuration and a request without a model', async () => {
    expect(() => openaiCompatible({ id: 'x', baseUrl: 'not a url' })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    expect(() => openaiCompatible({ id: '', baseUrl: standIn.url })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url });
    expect((await failureOf(provider.generate(KEY, { messages: hi }))).code).toBe('bad_request');
  });
});

describe('openai-compatible against scripted answers', () => {
  it('puts the key in a named header when asked (Azure style)', async () => {
    const f = scriptedFetch(() => Response.json({ data: [] }));
    const provider = openaiCompatible({ id: 'azure', baseUrl: 'https://example.test/openai', auth: { header: 'api-key' }, headers: { 'x-extra': '1' }, fetch: f.fetch });
    expect(await provider.validateKey(KEY)).toEqual({ status: 'valid' });
    const headers = f.calls[0]!.init.headers as Record<string, string>;
    expect(headers['api-key']).toBe(KEY);
    expect(headers.authorization).toBeUndefined();
    expect(headers['x-extra']).toBe('1');
    expect(f.calls[0]!.url).toBe('https://example.test/openai/models');
  });

  it('reads Retry-After as an HTTP date and retry-after-ms', async () => {
    const at = new Date(Date.now() + 120_000).toUTCString();
    const dated = openaiCompatible({
      id: 'o',
      baseUrl: 'https://example.test/v1',
      defaultModel: 'm',
      fetch: scriptedFetch(() => Response.json({ error: { message: 'slow', type: 'requests', code: 'rate_limit_exceeded' } }, { status: 429, headers: { 'retry-after': at } })).fetch,
    });
    const error = await failureOf(dated.generate(KEY, { messages: hi }));
    expect(error.code).toBe('provider_rate_limited');
    expect(error.details?.retryAfterMs).toBeGreaterThan(100_000);
    expect(error.details?.retryAfterMs).toBeLessThanOrEqual(120_000);

    const ms = openaiCompatible({
      id: 'o',
      baseUrl: 'https://example.test/v1',
      defaultModel: 'm',
      fetch: scriptedFetch(() => Response.json({ error: { message: 'slow' } }, { status: 429, headers: { 'retry-after-ms': '1500', 'retry-after': '2' } })).fetch,
    });
    expect((await failureOf(ms.generate(KEY, { messages: hi }))).details?.retryAfterMs).toBe(1_500);
  });

  it('maps an HTML error page from a proxy by its status', async () => {
    const provider = openaiCompatible({
      id: 'o',
      baseUrl: 'https://example.test/v1',
      defaultModel: 'm',
      fetch: scriptedFetch(() => new Response('<html>502 Bad Gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } })).fetch,
    });
    const error = await failureOf(provider.generate(KEY, { messages: hi }));
    expect(error.code).toBe('provider_unavailable');
    expect((await provider.validateKey(KEY)).status).toBe('unverified');
  });

  it('says unverified when the API has no models endpoint', async () => {
    const provider = openaiCompatible({ id: 'o', baseUrl: 'https://example.test/v1', fetch: scriptedFetch(() => new Response('Not Found', { status: 404 })).fetch });
    expect((await provider.validateKey(KEY)).status).toBe('unverified');
  });

  it('fails a stream that ends without a finish reason or [DONE]', async () => {
    const provider = openaiCompatible({
      id: 'o',
      baseUrl: 'https://example.test/v1',
      defaultModel: 'm',
      fetch: scriptedFetch(() => sse([JSON.stringify({ choices: [{ index: 0, delta: { content: 'partial' }, finish_reason: null }] })])).fetch,
    });
    const error = await failureOf(collect(provider.stream(KEY, { messages: hi })));
    expect(error.code).toBe('provider_network_error');
  });

  it('finishes with zero usage when the server sends none, and accepts a stream without [DONE]', async () => {
    const provider = openaiCompatible({
      id: 'o',
      baseUrl: 'https://example.test/v1',
      defaultModel: 'm',
      fetch: scriptedFetch(() =>
        sse([
          JSON.stringify({ model: 'm-2024', choices: [{ index: 0, delta: { content: 'ok' }, finish_reason: null }] }),
          JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
        ]),
      ).fetch,
    });
    expect(await collect(provider.stream(KEY, { messages: hi }))).toEqual([
      { type: 'text-delta', text: 'ok' },
      { type: 'finish', model: 'm-2024', finishReason: 'stop', rawFinishReason: 'stop', usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 } },
    ]);
  });

  it('reports reasoning tokens and prompt-cache hits from the usage details, in replies and streams', async () => {
    // OpenAI's own usage shape (chat completions), details included.
    const usage = {
      prompt_tokens: 1200,
      completion_tokens: 300,
      total_tokens: 1500,
      prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 256, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    const expected = { inputTokens: 1200, outputTokens: 300, totalTokens: 1500, reasoningTokens: 256, cachedInputTokens: 1024 };
    const generated = openaiCompatible({
      id: 'o',
      baseUrl: 'https://example.test/v1',
      defaultModel: 'o4-mini',
      fetch: scriptedFetch(() =>
        Response.json({ id: 'chatcmpl-1', object: 'chat.completion', model: 'o4-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage }),
      ).fetch,
    });
    expect((await generated.generate(KEY, { messages: hi })).usage).toEqual(expected);

    const streamed = openaiCompatible({
      id: 'o',
      baseUrl: 'https://example.test/v1',
      defaultModel: 'o4-mini',
      fetch: scriptedFetch(() =>
        sse([chunk({ role: 'assistant', content: 'ok' }), chunk({}, 'stop'), JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'm', choices: [], usage }), '[DONE]']),
      ).fetch,
    });
    expect((await collect(streamed.stream(KEY, { messages: hi }))).at(-1)).toMatchObject({ type: 'finish', usage: expected });

    // Compatible servers that send the details as null (or without counts) report neither.
    const nulls = openaiCompatible({
      id: 'o',
      baseUrl: 'https://example.test/v1',
      defaultModel: 'm',
      fetch: scriptedFetch(() =>
        Response.json({
          choices: [{ message: { content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6, prompt_tokens_details: { cached_tokens: null }, completion_tokens_details: null },
        }),
      ).fetch,
    });
    expect((await nulls.generate(KEY, { messages: hi })).usage).toEqual({ inputTokens: 5, outputTokens: 1, totalTokens: 6 });
  });

  it('maps error events, malformed tool arguments, empty choices and filtered replies', async () => {
    const make = (response: () => Response) =>
      openaiCompatible({ id: 'o', baseUrl: 'https://example.test/v1', defaultModel: 'm', fetch: scriptedFetch(response).fetch });
    expect((await failureOf(collect(make(() => sse([JSON.stringify({ error: 'upstream exploded' })])).stream(KEY, { messages: hi })))).code).toBe(
      'provider_error',
    );
    const badArgs = sse([
      JSON.stringify({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'c1', function: { name: 'f', arguments: '{"a":' } }] }, finish_reason: null }] }),
      JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
      '[DONE]',
    ]);
    expect((await failureOf(collect(make(() => badArgs).stream(KEY, { messages: hi })))).code).toBe('provider_error');
    expect((await failureOf(make(() => Response.json({ choices: [] })).generate(KEY, { messages: hi }))).code).toBe('provider_error');
    expect(
      (await failureOf(make(() => Response.json({ choices: [{ message: { content: null }, finish_reason: 'content_filter' }] })).generate(KEY, { messages: hi }))).code,
    ).toBe('provider_safety_block');
    expect((await failureOf(make(() => new Response('not json', { status: 200 })).generate(KEY, { messages: hi }))).code).toBe('provider_error');
  });
});
