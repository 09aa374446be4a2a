import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiStandIn, type LlmStandIn } from '@byok/testing';

/** The stand-in itself, spoken to with plain fetch: the wire shapes the provider relies on. */
describe('OpenAI stand-in wire shapes', () => {
  let standIn: LlmStandIn;
  beforeAll(async () => {
    standIn = await startOpenAiStandIn({ keys: ['sk-accepted-000000000000001'], chunks: 2 });
  });
  afterAll(async () => {
    await standIn.close();
  });

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

  it('answers OpenAI’s own errors, masking a wrong key, with Retry-After on 429', async () => {
    const wrong = await chat('sk-wrong-key-1234567890', {});
    expect(wrong.status).toBe(401);
    const body = (await wrong.json()) as { error: { message: string; code: string; type: string } };
    expect(body.error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
    expect(body.error.message).not.toContain('sk-wrong-key-1234567890');

    standIn.injectFault({ kind: 'rate-limit', retryAfterSeconds: 4 }, { times: 1 });
    const limited = await chat('sk-accepted-000000000000001', {});
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('4');
    expect(await limited.json()).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
  });

  it('serves /models at /v1 and at the root', async () => {
    const headers = { authorization: 'Bearer sk-accepted-000000000000001' };
    const v1 = await fetch(`${standIn.url}/models`, { headers });
    const root = await fetch(`http://127.0.0.1:${standIn.port}/models`, { headers });
    expect(await v1.json()).toMatchObject({ object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model' }, { id: 'gpt-4o' }] });
    expect(root.status).toBe(200);
  });
});
