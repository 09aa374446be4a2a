import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isOpenAiReasoningModel, openaiCompatible } from '@byok/openai-compatible';
import { startOpenAiStandIn, type LlmStandIn } from '@byok/testing';
import { collect, failureOf, hi } from './call-results';
import { scriptedFetch } from './scripted-fetch';

const KEY = 'sk-reasoning-test-0000000001';

describe('reasoning models get max_completion_tokens and no temperature', () => {
  let standIn: LlmStandIn;
  beforeAll(async () => {
    standIn = await startOpenAiStandIn({ keys: [KEY], models: ['gpt-4o-mini', 'o3-mini', 'gpt-5-mini', 'gpt-5-chat-latest'] });
  });
  afterAll(async () => {
    await standIn.close();
  });
  beforeEach(() => standIn.reset());

  it.each(['o3-mini', 'gpt-5-mini'])('%s: generate and stream succeed with maxOutputTokens and temperature', async (model) => {
    const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url });
    const result = await provider.generate(KEY, { model, maxOutputTokens: 50, temperature: 0.2, messages: hi });
    expect(result.text).toBe('echo: hi');
    const body = standIn.requests.at(-1)?.body as Record<string, unknown>;
    expect(body.max_completion_tokens).toBe(50);
    expect(body).not.toHaveProperty('max_tokens');
    expect(body).not.toHaveProperty('temperature');

    const events = await collect(provider.stream(KEY, { model, maxOutputTokens: 50, temperature: 0.2, messages: hi }));
    expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });
    expect(standIn.requests.at(-1)?.body).toMatchObject({ max_completion_tokens: 50, stream: true });
  });

  it('other models keep max_tokens and temperature', async () => {
    const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url });
    for (const model of ['gpt-4o-mini', 'gpt-5-chat-latest']) {
      await provider.generate(KEY, { model, maxOutputTokens: 50, temperature: 0.2, messages: hi });
      expect(standIn.requests.at(-1)?.body).toMatchObject({ max_tokens: 50, temperature: 0.2 });
    }
  });

  it('the rule can be overridden per provider instance', async () => {
    // Turned off: the API's own refusal comes back as a provider error with its message.
    const plain = openaiCompatible({ id: 'openai', baseUrl: standIn.url, reasoningModels: false });
    const error = await failureOf(plain.generate(KEY, { model: 'o3-mini', maxOutputTokens: 5, messages: hi }));
    expect(error.code).toBe('provider_error');
    expect(error.message).toContain("Unsupported parameter: 'max_tokens'");
    expect(error.details).toMatchObject({ providerStatus: 400, providerCode: 'unsupported_parameter' });
    const temperature = await failureOf(plain.generate(KEY, { model: 'gpt-5-mini', temperature: 0.3, messages: hi }));
    expect(temperature.details).toMatchObject({ providerStatus: 400, providerCode: 'unsupported_value' });

    // A deployment whose name says nothing (Azure OpenAI): a rule of the host's.
    const f = scriptedFetch(() => Response.json({ choices: [{ message: { content: 'ok' }, finish_reason: 'stop' }] }));
    const azure = openaiCompatible({ id: 'azure', baseUrl: 'https://example.test/v1', reasoningModels: (m) => m === 'prod-thinker', fetch: f.fetch });
    await azure.generate(KEY, { model: 'prod-thinker', maxOutputTokens: 7, temperature: 0.5, messages: hi });
    await azure.generate(KEY, { model: 'prod-chat', maxOutputTokens: 7, temperature: 0.5, messages: hi });
    const [thinker, chat] = f.calls.map((c) => JSON.parse(String(c.init.body)) as Record<string, unknown>);
    expect(thinker).toMatchObject({ max_completion_tokens: 7 });
    expect(thinker).not.toHaveProperty('temperature');
    expect(chat).toMatchObject({ max_tokens: 7, temperature: 0.5 });

    // An explicit field wins for every model.
    const fixed = openaiCompatible({ id: 'o', baseUrl: 'https://example.test/v1', maxTokensField: 'max_tokens', fetch: f.fetch });
    await fixed.generate(KEY, { model: 'o3-mini', maxOutputTokens: 3, messages: hi });
    expect(JSON.parse(String(f.calls.at(-1)?.init.body))).toMatchObject({ max_tokens: 3 });
  });

  it('knows the o-series and the gpt-5 family', () => {
    for (const id of ['o1', 'o1-mini', 'o3', 'o3-mini-2025-01-31', 'o4-mini', 'gpt-5', 'gpt-5-mini', 'gpt-5-nano', 'gpt-5.1', 'gpt-5.2-pro']) {
      expect(isOpenAiReasoningModel(id)).toBe(true);
    }
    for (const id of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-5-chat-latest', 'gpt-5.1-chat-latest', 'llama-3.3-70b', 'omni-moderation-latest']) {
      expect(isOpenAiReasoningModel(id)).toBe(false);
    }
  });
});
