import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOpenAiStandIn, type LlmStandIn } from '@byok/testing';

/** The stand-in itself, spoken to with plain fetch: the wire shapes the provider relies on. */
const KEY = 'sk-accepted-000000000000001';

describe('OpenAI stand-in wire shapes', () => {
  let standIn: LlmStandIn;
  beforeAll(async () => {
    standIn = await startOpenAiStandIn({ keys: [KEY], chunks: 2, models: ['gpt-4o-mini', 'gpt-4o', 'o3-mini', 'gpt-5-mini'] });
  });
  afterAll(async () => {
    await standIn.close();
  });
  beforeEach(() => standIn.reset());

  const chat = (key: string, body: Record<string, unknown>) =>
    fetch(`${standIn.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping pong' }], ...body }),
    });

  it('streams `data: {chunk}\\n\\n` events, usage with empty choices, then `data: [DONE]`', async () => {
    const response = await chat('sk-accepted-000000000000001', { stream: true, stream_options: { include_usage: true } });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const events = (await response.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
    expect(chunks[0]).toMatchObject({ object: 'chat.completion.chunk', choices: [{ delta: { role: 'assistant' } }] });
    expect(chunks.at(-2)).toMatchObject({ choices: [{ delta: {}, finish_reason: 'stop' }] });
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 } });
  });

  it('sends no usage chunk unless asked', async () => {
    const events = (await (await chat('sk-accepted-000000000000001', { stream: true })).text()).split('\n\n').filter(Boolean);
    expect(events.some((e) => e.includes('"usage"'))).toBe(false);
  });

  it('answers OpenAI’s own errors, masking a wrong key', async () => {
    const wrong = await chat('sk-wrong-key-1234567890', {});
    expect(wrong.status).toBe(401);
    const body = (await wrong.json()) as { error: { message: string; code: string; type: string } };
    expect(body.error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
    expect(body.error.message).not.toContain('sk-wrong-key-1234567890');
  });

  it('rate limits as OpenAI does: the limit type in the body, its reset in x-ratelimit-reset-*, no Retry-After', async () => {
    standIn.injectFault({ kind: 'rate-limit', retryAfterSeconds: 360, limit: 'tokens' }, { times: 1 });
    const tokens = await chat(KEY, {});
    expect(tokens.status).toBe(429);
    expect(tokens.headers.get('retry-after')).toBeNull();
    expect(tokens.headers.get('x-ratelimit-reset-tokens')).toBe('6m0s');
    expect(tokens.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
    expect(tokens.headers.get('x-ratelimit-reset-requests')).toBe('120ms');
    expect(await tokens.json()).toMatchObject({
      error: { type: 'tokens', code: 'rate_limit_exceeded', param: null, message: expect.stringMatching(/^Rate limit reached for gpt-4o-mini .* tokens per min \(TPM\).* Please try again in 6m0s\./) },
    });

    standIn.injectFault({ kind: 'rate-limit', retryAfterSeconds: 1 }, { times: 1 });
    const requests = await chat(KEY, {});
    expect(requests.headers.get('x-ratelimit-reset-requests')).toBe('1s');
    expect(requests.headers.get('x-ratelimit-reset-tokens')).toBe('2ms');
    expect(await requests.json()).toMatchObject({ error: { type: 'requests', code: 'rate_limit_exceeded' } });
  });

  it('answers a spent quota with insufficient_quota, a daily limit and a request over the limit, without retry headers', async () => {
    standIn.injectFault({ kind: 'quota-exhausted', scope: 'billing' }, { times: 1 });
    const billing = await chat(KEY, {});
    expect(billing.status).toBe(429);
    expect(billing.headers.get('retry-after')).toBeNull();
    expect(await billing.json()).toMatchObject({ error: { type: 'insufficient_quota', code: 'insufficient_quota', param: null } });

    standIn.injectFault({ kind: 'quota-exhausted', scope: 'daily' }, { times: 1 });
    expect(await (await chat(KEY, {})).json()).toMatchObject({
      error: { type: 'requests', code: 'rate_limit_exceeded', message: expect.stringContaining('on requests per day (RPD)') },
    });

    standIn.injectFault({ kind: 'quota-exhausted', scope: 'zero-limit' }, { times: 1 });
    expect(await (await chat(KEY, {})).json()).toMatchObject({
      error: { type: 'tokens', code: 'rate_limit_exceeded', message: expect.stringMatching(/^Request too large .* must be reduced/) },
    });
  });

  it('refuses an unsupported region with 403 and a prompt with invalid_prompt', async () => {
    standIn.injectFault({ kind: 'region-unsupported' }, { times: 1 });
    const region = await chat(KEY, {});
    expect(region.status).toBe(403);
    expect(await region.json()).toEqual({
      error: { message: 'Country, region, or territory not supported', type: 'request_forbidden', param: null, code: 'unsupported_country_region_territory' },
    });

    standIn.injectFault({ kind: 'safety', stage: 'prompt' }, { times: 1 });
    const prompt = await chat(KEY, {});
    expect(prompt.status).toBe(400);
    expect(await prompt.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: 'invalid_prompt', param: null, message: expect.stringMatching(/^Invalid prompt: your prompt was flagged/) },
    });
  });

  it('answers account refusals as OpenAI does: project model access, a missing scope, billing not active', async () => {
    standIn.injectFault({ kind: 'permission-denied' }, { times: 1 });
    const project = await chat(KEY, {});
    expect(project.status).toBe(403);
    expect(await project.json()).toEqual({
      error: { message: 'Project `proj_standin0000000000000000` does not have access to model `gpt-4o-mini`', type: 'invalid_request_error', param: null, code: 'model_not_found' },
    });
    standIn.injectFault({ kind: 'permission-denied', reason: 'permission' }, { times: 1 });
    const scope = await chat(KEY, {});
    expect(scope.status).toBe(401);
    expect(await scope.json()).toMatchObject({ error: { type: 'invalid_request_error', code: null, message: expect.stringMatching(/^You have insufficient permissions for this operation\. Missing scopes: api\.model\.read\./) } });
    standIn.injectFault({ kind: 'permission-denied', reason: 'billing' }, { times: 1 });
    const billing = await chat(KEY, {});
    expect(billing.status).toBe(429);
    expect(await billing.json()).toEqual({
      error: { message: 'Your account is not active, please check your billing details on our website.', type: 'billing_not_active', param: null, code: 'billing_not_active' },
    });
  });

  it('writes an error mid-stream as a data chunk, or bare when asked', async () => {
    standIn.injectFault({ kind: 'stream-error', afterChunks: 1, status: 429 }, { times: 1 });
    const framed = (await (await chat(KEY, { stream: true })).text()).split('\n\n').filter(Boolean);
    expect(framed).toHaveLength(2);
    expect(JSON.parse(framed[1]!.slice('data: '.length))).toMatchObject({ error: { type: 'tokens', code: 'rate_limit_exceeded' } });
    standIn.injectFault({ kind: 'stream-error', afterChunks: 1, status: 503, framing: 'bare' }, { times: 1 });
    const bare = await (await chat(KEY, { stream: true })).text();
    expect(bare).toMatch(/\n\n\{"error":\{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":null\}\}\n$/);
  });

  it('refuses max_tokens and a non-default temperature for reasoning models, as OpenAI does', async () => {
    const maxTokens = await chat(KEY, { model: 'o3-mini', max_tokens: 10 });
    expect(maxTokens.status).toBe(400);
    expect(await maxTokens.json()).toEqual({
      error: {
        message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        type: 'invalid_request_error',
        param: 'max_tokens',
        code: 'unsupported_parameter',
      },
    });
    const temperature = await chat(KEY, { model: 'gpt-5-mini', temperature: 0.2, max_completion_tokens: 10 });
    expect(temperature.status).toBe(400);
    expect(await temperature.json()).toEqual({
      error: {
        message: "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.",
        type: 'invalid_request_error',
        param: 'temperature',
        code: 'unsupported_value',
      },
    });
    expect((await chat(KEY, { model: 'gpt-5-mini', temperature: 1, max_completion_tokens: 10 })).status).toBe(200);
    expect((await chat(KEY, { model: 'gpt-4o', temperature: 0.2, max_tokens: 10 })).status).toBe(200);
  });

  it('lists non-chat models too, and refuses them on /chat/completions', async () => {
    const listed = (await (await fetch(`${standIn.url}/models`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { data: Array<{ id: string }> };
    expect(listed.data.map((m) => m.id)).toEqual(expect.arrayContaining(['text-embedding-3-small', 'whisper-1', 'tts-1', 'dall-e-3']));
    const embedding = await chat(KEY, { model: 'text-embedding-3-small' });
    expect(embedding.status).toBe(404);
    expect(await embedding.json()).toMatchObject({ error: { type: 'invalid_request_error', param: 'model', code: null, message: expect.stringMatching(/^This is not a chat model/) } });
  });

  it('serves /models at /v1 and at the root', async () => {
    const headers = { authorization: 'Bearer sk-accepted-000000000000001' };
    const v1 = await fetch(`${standIn.url}/models`, { headers });
    const root = await fetch(`http://127.0.0.1:${standIn.port}/models`, { headers });
    const listed = (await v1.json()) as { object: string; data: Array<Record<string, unknown>> };
    expect(listed.object).toBe('list');
    expect(listed.data.slice(0, 2)).toMatchObject([{ id: 'gpt-4o-mini', object: 'model', owned_by: 'system' }, { id: 'gpt-4o' }]);
    expect(root.status).toBe(200);
  });
});
