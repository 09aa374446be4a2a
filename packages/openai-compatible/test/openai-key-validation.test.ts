import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openaiCompatible } from '@byok/openai-compatible';
import { startOpenAiStandIn, type LlmStandIn } from '@byok/testing';
import { failureOf, hi } from './call-results';
import { scriptedFetch } from './scripted-fetch';

const KEY = 'sk-key-check-test-0000000001';

/** A provider whose API answers every request with `status` and the OpenAI error object `error`. */
function answering(status: number, error: Record<string, unknown>) {
  return openaiCompatible({
    id: 'openai',
    baseUrl: 'https://example.test/v1',
    defaultModel: 'm',
    fetch: scriptedFetch(() => Response.json({ error: { param: null, ...error } }, { status })).fetch,
  });
}

describe('key checks judge the key, not the account', () => {
  let standIn: LlmStandIn;
  beforeAll(async () => {
    standIn = await startOpenAiStandIn({ keys: [KEY] });
  });
  afterAll(async () => {
    await standIn.close();
  });
  beforeEach(() => standIn.reset());

  it('a key OpenAI rejects (401 invalid_api_key) is invalid', async () => {
    const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url });
    const result = await provider.validateKey('sk-not-a-real-key-00000001');
    expect(result).toMatchObject({ status: 'invalid', reason: expect.stringContaining('invalid_api_key') });
  });

  it('an unsupported region (403) is unverified with its reason, and generation is permission denied', async () => {
    const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url, defaultModel: 'gpt-4o-mini' });
    standIn.injectFault({ kind: 'region-unsupported' });
    const result = await provider.validateKey(KEY);
    expect(result.status).toBe('unverified');
    expect(result.status === 'unverified' && result.reason).toContain('Country, region, or territory not supported');
    expect((await failureOf(provider.generate(KEY, { messages: hi }))).code).toBe('provider_permission_denied');
  });

  it.each([
    ['api-disabled', /does not have access to model/],
    ['permission', /Missing scopes/],
    ['billing', /account is not active/],
  ] as const)('a refusal about the account (%s) is unverified with OpenAI’s reason', async (reason, shown) => {
    const provider = openaiCompatible({ id: 'openai', baseUrl: standIn.url, defaultModel: 'gpt-4o-mini' });
    standIn.injectFault({ kind: 'permission-denied', reason });
    const result = await provider.validateKey(KEY);
    expect(result.status).toBe('unverified');
    expect(result.status === 'unverified' && result.reason).toMatch(shown);
    expect(result).not.toHaveProperty('retryAfterMs');
  });

  it('a restricted key missing a scope (401, code null) is unverified, not invalid', async () => {
    const provider = answering(401, {
      message:
        "You have insufficient permissions for this operation. Missing scopes: api.model.read. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.",
      type: 'invalid_request_error',
      code: null,
    });
    const result = await provider.validateKey(KEY);
    expect(result.status).toBe('unverified');
    expect(result.status === 'unverified' && result.reason).toContain('Missing scopes: api.model.read');
    // Not the key: generation fails with the API's words, never as a rejected key.
    const error = await failureOf(provider.generate(KEY, { messages: hi }));
    expect(error.code).not.toBe('key_invalid');
    expect(error.message).toContain('Missing scopes: api.model.read');
  });

  it('an organisation header that does not match the key (401 mismatched_organization) is unverified', async () => {
    const provider = answering(401, {
      message: 'OpenAI-Organization header should match organization for API key',
      type: 'invalid_request_error',
      code: 'mismatched_organization',
    });
    expect((await provider.validateKey(KEY)).status).toBe('unverified');
    expect((await failureOf(provider.generate(KEY, { messages: hi }))).code).not.toBe('key_invalid');
  });

  it('a bare 401 from a compatible server still rejects the key', async () => {
    const provider = openaiCompatible({
      id: 'mistral',
      baseUrl: 'https://example.test/v1',
      fetch: scriptedFetch(() => Response.json({ message: 'Unauthorized', request_id: 'r1' }, { status: 401 })).fetch,
    });
    expect((await provider.validateKey(KEY)).status).toBe('invalid');
  });

  it('a billing problem is unverified', async () => {
    const provider = answering(429, { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', code: 'insufficient_quota' });
    expect((await provider.validateKey(KEY)).status).toBe('unverified');
  });
});
