import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openaiCompatible } from '@byok/openai-compatible';
import { startOpenAiStandIn, type LlmStandIn } from '@byok/testing';
import { collect, failureOf, hi } from './call-results';
import { scriptedFetch } from './scripted-fetch';

const KEY = 'sk-rate-limit-test-0000000001';

describe('rate limits and spent quotas', () => {
  let standIn: LlmStandIn;
  beforeAll(async () => {
    standIn = await startOpenAiStandIn({ keys: [KEY] });
  });
  afterAll(async () => {
    await standIn.close();
  });
  beforeEach(() => standIn.reset());
  const provider = () => openaiCompatible({ id: 'openai', baseUrl: standIn.url, defaultModel: 'gpt-4o-mini' });

  it('takes the retry hint from x-ratelimit-reset-tokens when the token limit was hit', async () => {
    standIn.injectFault({ kind: 'rate-limit', limit: 'tokens', retryAfterSeconds: 360 });
    const error = await failureOf(provider().generate(KEY, { messages: hi }));
    expect(error.code).toBe('provider_rate_limited');
    // x-ratelimit-reset-requests says 120ms: the wrong limit's reset.
    expect(error.details).toMatchObject({ retryAfterMs: 360_000, providerStatus: 429, providerCode: 'rate_limit_exceeded' });
    const streamed = await failureOf(collect(provider().stream(KEY, { messages: hi })));
    expect(streamed.details?.retryAfterMs).toBe(360_000);
  });

  it('takes it from x-ratelimit-reset-requests when the request limit was hit', async () => {
    standIn.injectFault({ kind: 'rate-limit', limit: 'requests', retryAfterSeconds: 1 });
    const error = await failureOf(provider().generate(KEY, { messages: hi }));
    expect(error.code).toBe('provider_rate_limited');
    expect(error.details?.retryAfterMs).toBe(1_000);
  });

  it('picks the reset of the limit that was hit even when the other one is longer', async () => {
    const limited = (type: string) =>
      openaiCompatible({
        id: 'openai',
        baseUrl: 'https://example.test/v1',
        defaultModel: 'm',
        fetch: scriptedFetch(() =>
          Response.json(
            { error: { message: 'Rate limit reached', type, param: null, code: 'rate_limit_exceeded' } },
            { status: 429, headers: { 'x-ratelimit-reset-tokens': '20ms', 'x-ratelimit-reset-requests': '6m0s' } },
          ),
        ).fetch,
      });
    expect((await failureOf(limited('tokens').generate(KEY, { messages: hi }))).details?.retryAfterMs).toBe(20);
    expect((await failureOf(limited('requests').generate(KEY, { messages: hi }))).details?.retryAfterMs).toBe(360_000);
  });

  it('prefers retry-after-ms and retry-after when the server sends them (Azure OpenAI)', async () => {
    const limited = openaiCompatible({
      id: 'azure',
      baseUrl: 'https://example.test/v1',
      defaultModel: 'm',
      fetch: scriptedFetch(() =>
        Response.json(
          { error: { message: 'Rate limit', type: 'tokens', code: 'rate_limit_exceeded' } },
          { status: 429, headers: { 'retry-after': '3', 'x-ratelimit-reset-tokens': '6m0s' } },
        ),
      ).fetch,
    });
    expect((await failureOf(limited.generate(KEY, { messages: hi }))).details?.retryAfterMs).toBe(3_000);
  });

  it('insufficient_quota is provider_quota_exhausted with no retry hint, even when headers offer one', async () => {
    standIn.injectFault({ kind: 'quota-exhausted', scope: 'billing' });
    const error = await failureOf(provider().generate(KEY, { messages: hi }));
    expect(error.code).toBe('provider_quota_exhausted');
    expect(error.details).toMatchObject({ providerCode: 'insufficient_quota', providerStatus: 429 });
    expect(error.details).not.toHaveProperty('retryAfterMs');

    const withHeaders = openaiCompatible({
      id: 'openai',
      baseUrl: 'https://example.test/v1',
      defaultModel: 'm',
      fetch: scriptedFetch(() =>
        Response.json(
          { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } },
          { status: 429, headers: { 'retry-after': '20', 'x-ratelimit-reset-requests': '20s' } },
        ),
      ).fetch,
    });
    const hinted = await failureOf(withHeaders.generate(KEY, { messages: hi }));
    expect(hinted.code).toBe('provider_quota_exhausted');
    expect(hinted.details).not.toHaveProperty('retryAfterMs');
  });

  it('a per-day limit and a request over the per-minute limit are spent quotas too', async () => {
    for (const scope of ['daily', 'zero-limit'] as const) {
      standIn.injectFault({ kind: 'quota-exhausted', scope }, { times: 1 });
      const error = await failureOf(provider().generate(KEY, { messages: hi }));
      expect(error.code).toBe('provider_quota_exhausted');
      expect(error.details).not.toHaveProperty('retryAfterMs');
    }
  });

  it('key checks: a rate limit is unverified with its hint, a spent quota unverified without one', async () => {
    standIn.injectFault({ kind: 'rate-limit', limit: 'tokens', retryAfterSeconds: 2 }, { route: 'models', times: 1 });
    expect(await provider().validateKey(KEY)).toMatchObject({ status: 'unverified', retryAfterMs: 2_000 });
    standIn.injectFault({ kind: 'quota-exhausted', scope: 'billing' }, { route: 'models', times: 1 });
    const quota = await provider().validateKey(KEY);
    expect(quota.status).toBe('unverified');
    expect(quota).not.toHaveProperty('retryAfterMs');
    expect(quota.status === 'unverified' && quota.reason).toMatch(/quota/i);
  });

  it('a rate limit inside a stream keeps its class', async () => {
    const streamed = openaiCompatible({
      id: 'openai',
      baseUrl: 'https://example.test/v1',
      defaultModel: 'm',
      fetch: scriptedFetch(
        () =>
          new Response(
            `data: ${JSON.stringify({ error: { message: 'Rate limit reached', type: 'tokens', param: null, code: 'rate_limit_exceeded' } })}\n\n`,
            { headers: { 'content-type': 'text/event-stream' } },
          ),
      ).fetch,
    });
    expect((await failureOf(collect(streamed.stream(KEY, { messages: hi })))).code).toBe('provider_rate_limited');
  });
});
