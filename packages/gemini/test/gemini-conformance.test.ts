import { gemini } from '@byok/gemini';
import { llmProviderConformance, startGeminiStandIn } from '@byok/testing';

llmProviderConformance({
  name: 'gemini (@google/genai against the Gemini stand-in)',
  startStandIn: startGeminiStandIn,
  makeProvider: (baseUrl, { timeoutMs }) => gemini({ baseUrl, timeoutMs }),
});
