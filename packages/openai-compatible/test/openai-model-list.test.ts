import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOpenAiChatModel, openaiCompatible } from '@byok/openai-compatible';
import { startOpenAiStandIn, type LlmStandIn } from '@byok/testing';
import { scriptedFetch } from './scripted-fetch';

const KEY = 'sk-model-list-test-000000001';

function listing(data: unknown[]) {
  return scriptedFetch(() => Response.json({ object: 'list', data })).fetch;
}

describe('listModels', () => {
  let standIn: LlmStandIn;
  beforeAll(async () => {
    standIn = await startOpenAiStandIn({ keys: [KEY], models: ['gpt-4o-mini', 'o3-mini'] });
  });
  afterAll(async () => {
    await standIn.close();
  });

  it('shows chat models only (OpenAI also lists embedding, speech, image and moderation models)', async () => {
    const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url });
    expect(await provider.listModels!(KEY)).toEqual([{ id: 'gpt-4o-mini' }, { id: 'o3-mini' }]);
  });

  it('is filtered by the host’s rule when given', async () => {
    const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url, modelFilter: (m) => isOpenAiChatModel(m) && m.id.startsWith('o') });
    expect(await provider.listModels!(KEY)).toEqual([{ id: 'o3-mini' }]);
  });

  it('drops the non-chat models other servers list, by id or by their type field', async () => {
    const provider = openaiCompatible({
      id: 'together',
      baseUrl: 'https://example.test/v1',
      fetch: listing([
        { id: 'meta-llama/Llama-3.3-70B-Instruct-Turbo', object: 'model', type: 'chat', context_length: 131072 },
        { id: 'BAAI/bge-large-en-v1.5', object: 'model', type: 'embedding', context_length: 512 },
        { id: 'Salesforce/Llama-Rank-V1', object: 'model', type: 'rerank' },
        { id: 'whisper-large-v3', object: 'model' },
        { id: 'nomic-embed-text', object: 'model' },
        { id: 'gpt-3.5-turbo-instruct', object: 'model' },
        { id: 'computer-use-preview', object: 'model' },
        { id: 'gpt-4o-realtime-preview', object: 'model' },
        { id: 'gpt-image-1', object: 'model' },
        { id: 'mistral-large-latest', object: 'model' },
        { id: 42 },
      ]),
    });
    expect((await provider.listModels!(KEY)).map((m) => m.id)).toEqual(['meta-llama/Llama-3.3-70B-Instruct-Turbo', 'mistral-large-latest']);
  });

  it('gives each model’s context window where the server says it', async () => {
    const provider = openaiCompatible({
      id: 'compat',
      baseUrl: 'https://example.test/v1',
      fetch: listing([
        // Groq
        { id: 'llama-3.3-70b-versatile', object: 'model', owned_by: 'Meta', active: true, context_window: 131072, max_completion_tokens: 32768 },
        // OpenRouter
        { id: 'openai/gpt-4o', name: 'OpenAI: GPT-4o', context_length: 128000, top_provider: { context_length: 128000, max_completion_tokens: 16384, is_moderated: true } },
        // Mistral
        { id: 'mistral-small-latest', object: 'model', max_context_length: 32768 },
        // vLLM
        { id: 'Qwen/Qwen2.5-7B-Instruct', object: 'model', owned_by: 'vllm', max_model_len: 32768 },
        // OpenAI: nothing said
        { id: 'gpt-4o', object: 'model', created: 1715367049, owned_by: 'system' },
      ]),
    });
    expect(await provider.listModels!(KEY)).toEqual([
      { id: 'llama-3.3-70b-versatile', inputTokenLimit: 131072, outputTokenLimit: 32768 },
      { id: 'openai/gpt-4o', displayName: 'OpenAI: GPT-4o', inputTokenLimit: 128000, outputTokenLimit: 16384 },
      { id: 'mistral-small-latest', inputTokenLimit: 32768 },
      { id: 'Qwen/Qwen2.5-7B-Instruct', inputTokenLimit: 32768 },
      { id: 'gpt-4o' },
    ]);
  });
});
