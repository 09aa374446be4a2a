import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openaiCompatible } from '@byok/openai-compatible';
import { startOpenAiStandIn, type LlmStandIn } from '@byok/testing';
import { collect, failureOf, hi } from './call-results';
import { chunk, scriptedFetch, sse } from './scripted-fetch';

const KEY = 'sk-compat-test-0000000000001';

function answering(response: () => Response) {
  const f = scriptedFetch(response);
  return { provider: openaiCompatible({ id: 'compat', baseUrl: 'https://example.test/v1', defaultModel: 'm', fetch: f.fetch }), calls: f.calls };
}

describe('OpenAI-compatible servers that differ from OpenAI', () => {
  it('merges tool-call deltas that have no index by id, and reports tool calls finished with stop', async () => {
    // Gemini's OpenAI-compatible endpoint: no `index`, arguments split, `finish_reason: stop`.
    const { provider } = answering(() =>
      sse([
        chunk({ role: 'assistant', tool_calls: [{ id: 'function-call-1', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] }),
        chunk({ tool_calls: [{ id: 'function-call-1', type: 'function', function: { arguments: '"Paris"}' } }] }),
        chunk({ tool_calls: [{ id: 'function-call-2', type: 'function', function: { name: 'get_time', arguments: '{"tz":' } }] }),
        chunk({ tool_calls: [{ function: { arguments: '"UTC"}' } }] }),
        chunk({}, 'stop'),
        '[DONE]',
      ]),
    );
    const events = await collect(provider.stream(KEY, { messages: hi }));
    expect(events.filter((e) => e.type === 'tool-call')).toEqual([
      { type: 'tool-call', toolCallId: 'function-call-1', toolName: 'get_weather', args: { city: 'Paris' } },
      { type: 'tool-call', toolCallId: 'function-call-2', toolName: 'get_time', args: { tz: 'UTC' } },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'tool-calls', rawFinishReason: 'stop' });
  });

  it('still merges OpenAI’s indexed deltas by index', async () => {
    const { provider } = answering(() =>
      sse([
        chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'f', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'g', arguments: '{"b":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] }),
        chunk({ tool_calls: [{ index: 1, function: { arguments: '2}' } }] }),
        chunk({}, 'tool_calls'),
        '[DONE]',
      ]),
    );
    const calls = (await collect(provider.stream(KEY, { messages: hi }))).filter((e) => e.type === 'tool-call');
    expect(calls).toMatchObject([
      { toolCallId: 'call_a', toolName: 'f', args: { a: 1 } },
      { toolCallId: 'call_b', toolName: 'g', args: { b: 2 } },
    ]);
  });

  it('generate: tool calls finished with stop are tool calls', async () => {
    const { provider } = answering(() =>
      Response.json({
        choices: [{ message: { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'stop' }],
      }),
    );
    expect((await provider.generate(KEY, { messages: hi })).finishReason).toBe('tool-calls');
  });

  it('a refusal is a safety refusal, not an empty success (generate and stream)', async () => {
    const refusal = "I'm sorry, I can't help with that.";
    const { provider } = answering(() =>
      Response.json({ choices: [{ index: 0, message: { role: 'assistant', content: null, refusal }, finish_reason: 'stop' }] }),
    );
    const error = await failureOf(provider.generate(KEY, { messages: hi }));
    expect(error.code).toBe('provider_safety_block');
    expect(error.message).toContain(refusal);
    expect(error.details).toMatchObject({ providerCode: 'refusal' });

    const streamed = answering(() =>
      sse([chunk({ role: 'assistant', content: null, refusal: '' }), chunk({ refusal: "I'm sorry, " }), chunk({ refusal: "I can't help with that." }), chunk({}, 'stop'), '[DONE]']),
    );
    const seen: string[] = [];
    const streamError = await failureOf(
      (async () => {
        for await (const event of streamed.provider.stream(KEY, { messages: hi })) seen.push(event.type);
      })(),
    );
    expect(streamError.code).toBe('provider_safety_block');
    expect(streamError.message).toContain(refusal);
    expect(seen).not.toContain('finish');
  });

  it('reads content given as an array of parts', async () => {
    const { provider } = answering(() =>
      Response.json({
        choices: [
          {
            message: { role: 'assistant', content: [{ type: 'thinking', thinking: [{ type: 'text', text: 'hmm' }] }, { type: 'text', text: 'Hello ' }, { type: 'text', text: 'there' }] },
            finish_reason: 'stop',
          },
        ],
      }),
    );
    const result = await provider.generate(KEY, { messages: hi });
    expect(result.text).toBe('Hello there');
    expect(result.parts).toEqual([{ type: 'text', text: 'Hello there' }]);

    const streamed = answering(() => sse([chunk({ content: [{ type: 'text', text: 'Hel' }] }), chunk({ content: [{ type: 'text', text: 'lo' }] }), chunk({}, 'stop')]));
    const deltas = (await collect(streamed.provider.stream(KEY, { messages: hi }))).filter((e) => e.type === 'text-delta');
    expect(deltas).toEqual([
      { type: 'text-delta', text: 'Hel' },
      { type: 'text-delta', text: 'lo' },
    ]);
  });

  it('Azure OpenAI’s content_filter prompt block is provider_safety_block', async () => {
    const { provider } = answering(() =>
      Response.json(
        {
          error: {
            message: 'The response was filtered due to the prompt triggering Azure OpenAI’s content management policy.',
            type: null,
            param: 'prompt',
            code: 'content_filter',
            status: 400,
          },
        },
        { status: 400 },
      ),
    );
    expect((await failureOf(provider.generate(KEY, { messages: hi }))).code).toBe('provider_safety_block');
  });

  it('keeps a query the baseUrl carries (Azure api-version) after the path', async () => {
    const f = scriptedFetch((url) =>
      url.includes('/models') ? Response.json({ data: [] }) : Response.json({ choices: [{ message: { content: 'ok' }, finish_reason: 'stop' }] }),
    );
    const provider = openaiCompatible({
      id: 'azure',
      baseUrl: 'https://res.openai.azure.com/openai/deployments/gpt-4o/?api-version=2024-10-21',
      defaultModel: 'gpt-4o',
      auth: { header: 'api-key' },
      fetch: f.fetch,
    });
    await provider.validateKey(KEY);
    await provider.generate(KEY, { messages: hi });
    expect(f.calls.map((c) => c.url)).toEqual([
      'https://res.openai.azure.com/openai/deployments/gpt-4o/models?api-version=2024-10-21',
      'https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
    ]);
  });

  it('an `event: error` keeps its HTTP class', async () => {
    const cases: Array<[string, string]> = [
      ['event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', 'provider_unavailable'],
      ['event: error\ndata: {"message":"Too many requests","code":429}', 'provider_rate_limited'],
      ['event: error\ndata: {"error":{"message":"Invalid API key","type":"invalid_request_error","code":"invalid_api_key"}}', 'key_invalid'],
      ['event: error\ndata: {"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}', 'provider_quota_exhausted'],
      ['event: error\ndata: upstream timed out', 'provider_error'],
    ];
    for (const [event, code] of cases) {
      const { provider } = answering(() => sse([chunk({ content: 'par' }), event]));
      const seen: string[] = [];
      const error = await failureOf(
        (async () => {
          for await (const e of provider.stream(KEY, { messages: hi })) seen.push(e.type);
        })(),
      );
      expect([event, error.code]).toEqual([event, code]);
      expect(seen).toEqual(['text-delta']);
    }
  });
});

describe('stream_options can be turned off', () => {
  let standIn: LlmStandIn;
  beforeAll(async () => {
    standIn = await startOpenAiStandIn({ keys: [KEY] });
  });
  afterAll(async () => {
    await standIn.close();
  });
  beforeEach(() => standIn.reset());

  it('sends no stream_options when told, and still finishes', async () => {
    const provider = openaiCompatible({ id: 'o', baseUrl: standIn.url, defaultModel: 'gpt-4o-mini', streamOptions: false });
    const events = await collect(provider.stream(KEY, { messages: hi }));
    expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop', usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 } });
    const body = standIn.requests.at(-1)?.body as Record<string, unknown>;
    expect(body.stream).toBe(true);
    expect(body).not.toHaveProperty('stream_options');
  });
});
