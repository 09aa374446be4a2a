import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, GenerateContentResponse } from '@google/genai';
import { type StreamEvent } from '@byok/core';
import { startCallDeadline } from '@byok/core/llm';
import { gemini } from '@byok/gemini';
import { startGeminiStandIn, type LlmStandIn } from '@byok/testing';
import { geminiFailure } from '../src/gemini-errors';
import { finishReasonOf, readResponse, toGeminiParams } from '../src/gemini-messages';

const KEY = 'gemini-wire-key-1234';

describe('gemini on the wire', () => {
  let standIn: LlmStandIn;
  const models = Array.from({ length: 105 }, (_, i) => (i === 0 ? 'gemini-2.5-flash' : `gemini-test-${i}`));

  beforeAll(async () => {
    standIn = await startGeminiStandIn({ keys: [KEY], models });
  });
  afterAll(async () => {
    await standIn.close();
  });
  beforeEach(() => standIn.reset());

  it('sends the key in x-goog-api-key, never in the URL, on the documented paths', async () => {
    const provider = gemini({ baseUrl: standIn.url });
    await provider.validateKey(KEY);
    await provider.generate(KEY, { messages: [{ role: 'user', parts: [{ type: 'text', text: 'a' }] }] });
    for await (const _ of provider.stream(KEY, { messages: [{ role: 'user', parts: [{ type: 'text', text: 'b' }] }] })) void _;
    expect(standIn.requests.map((r) => r.path.replace(/\?pageSize=\d+/, ''))).toEqual([
      '/v1beta/models',
      '/v1beta/models/gemini-2.5-flash:generateContent',
      '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    ]);
    for (const r of standIn.requests) {
      expect(r.headers['x-goog-api-key']).toBe(KEY);
      expect(r.path).not.toContain(KEY);
    }
  });

  it('translates roles, system instruction, generation config, tools and tool results', async () => {
    const provider = gemini({ baseUrl: standIn.url });
    await provider.generate(KEY, {
      systemPrompt: 'Be brief.',
      temperature: 0.5,
      maxOutputTokens: 50,
      tools: [{ name: 'get_time', description: 'Current time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } }],
      messages: [
        { role: 'system', parts: [{ type: 'text', text: 'Use UTC.' }] },
        { role: 'user', parts: [{ type: 'text', text: 'time?' }] },
        {
          role: 'assistant',
          parts: [
            { type: 'tool-call', toolCallId: 'gemini-call-local', toolName: 'get_time', args: { tz: 'UTC' } },
            { type: 'tool-call', toolCallId: 'api-id-7', toolName: 'get_time', args: { tz: 'CET' } },
          ],
        },
        {
          role: 'tool',
          parts: [
            { type: 'tool-result', toolCallId: 'gemini-call-local', toolName: 'get_time', result: '12:00' },
            { type: 'tool-result', toolCallId: 'api-id-7', toolName: 'get_time', result: 'boom', isError: true },
          ],
        },
      ],
    });
    const body = standIn.requests.at(-1)?.body as Record<string, any>;
    expect(body.systemInstruction).toEqual({ parts: [{ text: 'Be brief.\n\nUse UTC.' }] });
    expect(body.generationConfig).toMatchObject({ temperature: 0.5, maxOutputTokens: 50 });
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          { name: 'get_time', description: 'Current time', parametersJsonSchema: { type: 'object', properties: { tz: { type: 'string' } } } },
        ],
      },
    ]);
    expect(body.contents.map((c: { role: string }) => c.role)).toEqual(['user', 'model', 'user']);
    expect(body.contents[1].parts).toEqual([
      { functionCall: { name: 'get_time', args: { tz: 'UTC' } } },
      { functionCall: { name: 'get_time', args: { tz: 'CET' }, id: 'api-id-7' } },
    ]);
    expect(body.contents[2].parts).toEqual([
      { functionResponse: { name: 'get_time', response: { result: '12:00' } } },
      { functionResponse: { name: 'get_time', response: { error: 'boom' }, id: 'api-id-7' } },
    ]);
  });

  it('keeps the API’s function call ids and makes up ids when there are none', async () => {
    const provider = gemini({ baseUrl: standIn.url });
    standIn.setReply(() => ({ toolCalls: [{ name: 'a', args: {}, id: 'fc-1' }, { name: 'b', args: { x: 1 } }] }));
    const result = await provider.generate(KEY, { messages: [{ role: 'user', parts: [{ type: 'text', text: 'go' }] }] });
    expect(result.toolCalls[0]?.toolCallId).toBe('fc-1');
    expect(result.toolCalls[1]?.toolCallId).toMatch(/^gemini-call-/);
    expect(result.finishReason).toBe('tool-calls');
  });

  it('lists every model across pages', async () => {
    const provider = gemini({ baseUrl: standIn.url });
    const listed = await provider.listModels!(KEY);
    expect(listed.map((m) => m.id)).toEqual(models);
    expect(listed[0]).toMatchObject({ id: 'gemini-2.5-flash', inputTokenLimit: 1_048_576 });
    expect(standIn.requests.filter((r) => r.route === 'models')).toHaveLength(2);
  });

  it('talks to the Gemini API even when the environment asks for Vertex AI', async () => {
    const saved = process.env.GOOGLE_GENAI_USE_VERTEXAI;
    process.env.GOOGLE_GENAI_USE_VERTEXAI = 'true';
    try {
      expect(await gemini({ baseUrl: standIn.url }).validateKey(KEY)).toEqual({ status: 'valid' });
      expect(standIn.requests.at(-1)?.path).toMatch(/^\/v1beta\/models/);
    } finally {
      if (saved === undefined) delete process.env.GOOGLE_GENAI_USE_VERTEXAI;
      else process.env.GOOGLE_GENAI_USE_VERTEXAI = saved;
    }
  });

  it('streams the model answer with usage summed from the last chunk', async () => {
    standIn.configure({ chunks: 5 });
    const events: StreamEvent[] = [];
    for await (const e of gemini({ baseUrl: standIn.url }).stream(KEY, { messages: [{ role: 'user', parts: [{ type: 'text', text: 'one two three' }] }] })) events.push(e);
    expect(events.filter((e) => e.type === 'text-delta')).toHaveLength(5);
    expect(events.at(-1)).toEqual({
      type: 'finish',
      model: 'gemini-2.5-flash',
      finishReason: 'stop',
      rawFinishReason: 'STOP',
      usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
    });
  });
});

describe('gemini error bodies', () => {
  const deadline = startCallDeadline();
  const apiError = (status: number, body: unknown, prefix = '') => new ApiError({ status, message: `${prefix}${JSON.stringify(body)}` });

  it('reads API_KEY_INVALID as a rejected key', () => {
    const failure = geminiFailure(
      'gemini',
      apiError(400, {
        error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }] },
      }),
      deadline,
    );
    expect(failure).toMatchObject({ kind: 'http', status: 400, providerCode: 'API_KEY_INVALID', keyRejected: true });
  });

  it('reads an expired key from the message alone', () => {
    const failure = geminiFailure('gemini', apiError(400, { error: { code: 400, message: 'API key expired. Please renew the API key.', status: 'INVALID_ARGUMENT' } }), deadline);
    expect(failure.keyRejected).toBe(true);
  });

  it('reads RetryInfo on RESOURCE_EXHAUSTED', () => {
    const failure = geminiFailure(
      'gemini',
      apiError(429, { error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '41s' }] } }),
      deadline,
    );
    expect(failure).toMatchObject({ status: 429, providerCode: 'RESOURCE_EXHAUSTED', retryAfterMs: 41_000, keyRejected: false });
  });

  it('reads a mid-stream error chunk (`got status: ...` prefix)', () => {
    const failure = geminiFailure('gemini', apiError(503, { error: { code: 503, message: 'overloaded', status: 'UNAVAILABLE' } }, 'got status: UNAVAILABLE. '), deadline);
    expect(failure).toMatchObject({ kind: 'http', status: 503, providerCode: 'UNAVAILABLE', message: 'overloaded' });
  });

  it('unwraps the body the client could not parse on the stream route (text/event-stream), keeping status and retry delay', () => {
    const body = {
      error: {
        code: 429,
        message: 'You exceeded your current quota, please check your plan and billing details.',
        status: 'RESOURCE_EXHAUSTED',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier', quotaValue: '5' }],
          },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '23s' },
        ],
      },
    };
    // What @google/genai throws for a non-JSON content type: the raw text as the message.
    const wrapped = apiError(429, { error: { message: `${JSON.stringify(body, null, 2)}\n`, code: 429, status: 'Too Many Requests' } });
    const failure = geminiFailure('gemini', wrapped, deadline);
    expect(failure).toMatchObject({
      kind: 'http',
      status: 429,
      providerCode: 'RESOURCE_EXHAUSTED',
      retryAfterMs: 23_000,
      message: 'You exceeded your current quota, please check your plan and billing details.',
    });
    expect(failure.quotaExhausted).toBeUndefined();
  });

  it.each([
    ['a per-day quota (with a RetryInfo anyway)', { quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier', quotaValue: '20' }, 'quota'],
    ['a per-day metric', { quotaMetric: 'generativelanguage.googleapis.com/generate_requests_per_model_per_day', quotaId: 'GenerateRequestsPerDayPerProjectPerModel' }, 'quota'],
    ['a limit of 0', { quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier', quotaValue: '0' }, 'quota'],
  ])('reads %s as a spent quota without a retry hint', (_name, violation, message) => {
    const failure = geminiFailure(
      'gemini',
      apiError(429, {
        error: {
          code: 429,
          message,
          status: 'RESOURCE_EXHAUSTED',
          details: [
            { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [violation] },
            { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '41s' },
          ],
        },
      }),
      deadline,
    );
    expect(failure).toMatchObject({ status: 429, quotaExhausted: true });
    expect(failure.retryAfterMs).toBeUndefined();
  });

  it('reads depleted prepaid credits and a "limit: 0" message as a spent quota', () => {
    for (const message of [
      'Your prepayment credits are depleted. Please go to AI Studio at https://ai.studio/projects to manage your project and billing.',
      'You exceeded your current quota.\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 0, model: gemini-2.5-pro',
    ]) {
      expect(geminiFailure('gemini', apiError(429, { error: { code: 429, message, status: 'RESOURCE_EXHAUSTED' } }), deadline).quotaExhausted).toBe(true);
    }
  });

  it.each([
    ['SERVICE_DISABLED', 403, 'PERMISSION_DENIED'],
    ['BILLING_DISABLED', 403, 'PERMISSION_DENIED'],
    ['API_KEY_SERVICE_BLOCKED', 403, 'PERMISSION_DENIED'],
  ])('does not call %s a rejected key', (reason, code, status) => {
    const failure = geminiFailure(
      'gemini',
      apiError(code, { error: { code, message: 'refused', status, details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason }] } }),
      deadline,
    );
    expect(failure).toMatchObject({ keyRejected: false, providerCode: reason });
  });

  it('does not call an unsupported location a rejected key', () => {
    const failure = geminiFailure('gemini', apiError(400, { error: { code: 400, message: 'User location is not supported for the API use.', status: 'FAILED_PRECONDITION' } }), deadline);
    expect(failure).toMatchObject({ keyRejected: false, providerCode: 'FAILED_PRECONDITION' });
  });

  it('treats a non-JSON error as the status alone, and other errors as network failures', () => {
    expect(geminiFailure('gemini', new ApiError({ status: 502, message: 'Bad Gateway' }), deadline)).toMatchObject({ kind: 'http', status: 502 });
    expect(geminiFailure('gemini', new TypeError('fetch failed'), deadline).kind).toBe('network');
  });
});

describe('gemini responses', () => {
  const response = (value: Record<string, unknown>) => Object.assign(new GenerateContentResponse(), value);

  it('reads thought parts as reasoning, apart from the text, and counts thinking tokens as output', () => {
    const chunk = readResponse(
      'gemini',
      response({
        candidates: [{ content: { role: 'model', parts: [{ text: 'hmm', thought: true }, { text: 'Answer' }] }, finishReason: 'STOP' }],
        usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, thoughtsTokenCount: 7, totalTokenCount: 22 },
      }),
    );
    expect(chunk.deltas).toEqual([
      { type: 'reasoning-delta', text: 'hmm' },
      { type: 'text-delta', text: 'Answer' },
    ]);
    expect(chunk.usage).toEqual({ inputTokens: 10, outputTokens: 12, totalTokens: 22, reasoningTokens: 7 });
  });

  it('reports prompt-cache hits as cached input tokens', () => {
    const chunk = readResponse(
      'gemini',
      response({
        candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, finishReason: 'STOP' }],
        usageMetadata: { promptTokenCount: 100, cachedContentTokenCount: 64, candidatesTokenCount: 2, totalTokenCount: 102 },
      }),
    );
    expect(chunk.usage).toEqual({ inputTokens: 100, outputTokens: 2, totalTokens: 102, cachedInputTokens: 64 });
  });

  it('keeps every part’s thoughtSignature as provider metadata under the provider id, in order', () => {
    const chunk = readResponse(
      'gem-eu',
      response({
        candidates: [
          {
            content: {
              role: 'model',
              parts: [
                { text: 'plan', thought: true, thoughtSignature: 'sig-thought' },
                { text: 'Calling.' },
                { functionCall: { name: 'lookup', args: { q: 1 }, id: 'fc-9' }, thoughtSignature: 'sig-call' },
                { functionCall: { name: 'lookup', args: { q: 2 } } },
                { text: '', thoughtSignature: 'sig-tail' },
              ],
            },
            finishReason: 'STOP',
          },
        ],
      }),
    );
    expect(chunk.deltas).toEqual([
      { type: 'reasoning-delta', text: 'plan', providerMetadata: { 'gem-eu': { thoughtSignature: 'sig-thought' } } },
      { type: 'text-delta', text: 'Calling.' },
      { type: 'tool-call', toolCallId: 'fc-9', toolName: 'lookup', args: { q: 1 }, providerMetadata: { 'gem-eu': { thoughtSignature: 'sig-call' } } },
      { type: 'tool-call', toolCallId: expect.stringMatching(/^gemini-call-/), toolName: 'lookup', args: { q: 2 } },
      { type: 'text-delta', text: '', providerMetadata: { 'gem-eu': { thoughtSignature: 'sig-tail' } } },
    ]);
  });

  it('sends each signature back on the part it came from, only on model turns and only its own', () => {
    const { contents } = toGeminiParams(
      {
        messages: [
          { role: 'user', parts: [{ type: 'text', text: 'q', providerMetadata: { gemini: { thoughtSignature: 'not-from-the-model' } } }] },
          {
            role: 'assistant',
            parts: [
              { type: 'reasoning', text: 'plan', providerMetadata: { gemini: { thoughtSignature: 'sig-thought' } } },
              { type: 'text', text: 'Calling.', providerMetadata: { openai: { thoughtSignature: 'someone-else' } } },
              { type: 'tool-call', toolCallId: 'fc-9', toolName: 'lookup', args: { q: 1 }, providerMetadata: { gemini: { thoughtSignature: 'sig-call' } } },
              { type: 'tool-call', toolCallId: 'gemini-call-x', toolName: 'lookup', args: { q: 2 } },
              { type: 'text', text: '', providerMetadata: { gemini: { thoughtSignature: 'sig-tail' } } },
            ],
          },
          { role: 'tool', parts: [{ type: 'tool-result', toolCallId: 'fc-9', toolName: 'lookup', result: { a: 1 } }] },
        ],
      },
      'gemini',
    );
    expect(contents).toEqual([
      { role: 'user', parts: [{ text: 'q' }] },
      {
        role: 'model',
        parts: [
          { text: 'plan', thought: true, thoughtSignature: 'sig-thought' },
          { text: 'Calling.' },
          { functionCall: { name: 'lookup', args: { q: 1 }, id: 'fc-9' }, thoughtSignature: 'sig-call' },
          { functionCall: { name: 'lookup', args: { q: 2 } } },
          { text: '', thoughtSignature: 'sig-tail' },
        ],
      },
      { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { a: 1 }, id: 'fc-9' } }] },
    ]);
  });

  it('reports a blocked prompt and safety-stopped replies', () => {
    expect(readResponse('gemini', response({ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } })).blocked).toMatchObject({
      kind: 'safety',
      providerCode: 'PROHIBITED_CONTENT',
    });
    for (const reason of ['SAFETY', 'RECITATION', 'BLOCKLIST', 'SPII']) {
      expect(readResponse('gemini', response({ candidates: [{ finishReason: reason }] })).blocked?.kind).toBe('safety');
    }
  });

  it('maps finish reasons', () => {
    expect(finishReasonOf('STOP', false)).toBe('stop');
    expect(finishReasonOf('STOP', true)).toBe('tool-calls');
    expect(finishReasonOf('MAX_TOKENS', false)).toBe('length');
    expect(finishReasonOf('MALFORMED_FUNCTION_CALL', false)).toBe('other');
    expect(finishReasonOf(undefined, false)).toBe('stop');
  });

  it('drops empty text parts and empty messages from the request', () => {
    const { contents } = toGeminiParams({
      messages: [
        { role: 'user', parts: [{ type: 'text', text: '' }] },
        { role: 'user', parts: [{ type: 'text', text: 'hi' }] },
      ],
    });
    expect(contents).toEqual([{ role: 'user', parts: [{ text: 'hi' }] }]);
  });
});
