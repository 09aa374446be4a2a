import { llmProviderConformance, startAnthropicStandIn } from '@byok/testing';
import { anthropic } from '../src/index';

// API version 2023-06-01 still takes `temperature`, which the suite checks is passed on;
// the client's default version (2026-10-21) refuses it (see anthropic-wire.test.ts).
llmProviderConformance({
  name: 'anthropic (@anthropic-ai/sdk against the Anthropic stand-in, anthropic-version 2023-06-01)',
  startStandIn: startAnthropicStandIn,
  makeProvider: (baseUrl, { timeoutMs }) => anthropic({ baseUrl, timeoutMs, apiVersion: '2023-06-01' }),
  // A generation-4 model: generation 5 takes no temperature on any API version.
  model: 'claude-sonnet-4-6',
});
