import { openaiCompatible } from '@byok/openai-compatible';
import { llmProviderConformance, startOpenAiStandIn } from '@byok/testing';

llmProviderConformance({
  name: 'openai-compatible (fetch against the OpenAI stand-in)',
  startStandIn: startOpenAiStandIn,
  makeProvider: (baseUrl, { timeoutMs }) => openaiCompatible({ id: 'openai', baseUrl, defaultModel: 'gpt-4o-mini', timeoutMs }),
});
