import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, localKms, type Byok } from '@byok/core';
import { openaiCompatible } from '@byok/openai-compatible';
import { selectTestBackends, createTestDatabase, type TestDatabase } from '@byok/testing';
import { codeOf, collect, MASTER } from './chat-harness';

const KEY = 'sk-usage-test-0000000000000000000001';

/** OpenAI's own stream shape, usage details included (the last chunk, as with stream_options.include_usage). */
function completion(text: string, usage: Record<string, unknown>): Response {
  const frame = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
  const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'o4-mini-2025-04-16' };
  const body =
    frame({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: text }, finish_reason: null }] }) +
    frame({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) +
    frame({ ...base, choices: [], usage }) +
    'data: [DONE]\n\n';
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('chat usage on %s', (kind) => {
  let byok: Byok;
  let db: TestDatabase | undefined;
  let now = 1_900_000_000_000;
  let user: string;
  beforeAll(async () => {
    db = kind === 'memory' ? undefined : await createTestDatabase(kind);
    const fetch = (async (input: string | URL | Request) => {
      if (String(input).endsWith('/models')) return Response.json({ object: 'list', data: [{ id: 'o4-mini', object: 'model' }] });
      return completion('Thought it through.', {
        prompt_tokens: 1200,
        completion_tokens: 300,
        total_tokens: 1500,
        prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 256, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      });
    }) as typeof globalThis.fetch;
    byok = await createByok({
      database: db ? db.config : { memory: true },
      kms: localKms({ keys: MASTER }),
      clock: { now: () => now },
      providers: [openaiCompatible({ id: 'openai', baseUrl: 'https://api.example.test/v1', fetch })],
    });
    user = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'u' })).user.id;
    await byok.keyVault.setKey(user, 'openai', KEY);
  });
  afterAll(async () => {
    await byok?.close();
    await db?.drop();
  });

  it('stores input, output, reasoning and cached tokens per reply, and totals per session and per user over a time range', async () => {
    const a = await byok.chat.createSession(user, { provider: 'openai', model: 'o4-mini' });
    const b = await byok.chat.createSession(user, { provider: 'openai', model: 'o4-mini' });
    const events = await collect(byok.chat.send(user, a.id, { text: 'think' }));
    const finish = events.at(-1)!.chunk as { type: 'finish'; messageMetadata: { usage: Record<string, unknown> } };
    expect(finish.messageMetadata.usage).toMatchObject({ inputTokens: 1200, outputTokens: 300, reasoningTokens: 256, cachedInputTokens: 1024, totalTokens: 1500 });
    const reply = (await byok.chat.listMessages(user, a.id)).items.at(-1)!;
    expect(reply.usage).toMatchObject({
      inputTokens: 1200,
      outputTokens: 300,
      reasoningTokens: 256,
      cachedInputTokens: 1024,
      totalTokens: 1500,
      provider: 'openai',
      model: 'o4-mini-2025-04-16',
      finishReason: 'stop',
      steps: 1,
    });
    expect(reply.usage!.durationMs).toBe(0);
    now += 1_000;
    await collect(byok.chat.send(user, a.id, { text: 'again' }));
    now += 1_000;
    await collect(byok.chat.send(user, b.id, { text: 'other' }));
    expect((await byok.chat.getSession(user, a.id)).usage).toEqual({ inputTokens: 2400, outputTokens: 600, reasoningTokens: 512, cachedInputTokens: 2048 });
    expect(await byok.chat.usageTotals(user)).toEqual({ inputTokens: 3600, outputTokens: 900, reasoningTokens: 768, cachedInputTokens: 3072, replies: 3 });
    expect(await byok.chat.usageTotals(user, { sessionId: b.id })).toMatchObject({ inputTokens: 1200, replies: 1 });
    expect(await byok.chat.usageTotals(user, { from: 1_900_000_000_000 + 1_000 })).toMatchObject({ replies: 2 });
    expect(await byok.chat.usageTotals(user, { from: 1_900_000_000_000, to: 1_900_000_000_000 + 1_000 })).toMatchObject({ replies: 1, reasoningTokens: 256 });
    expect(await codeOf(byok.chat.usageTotals(user, { from: -1 }))).toBe('validation_failed');
  });
});
