import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isByokError } from '../src/errors';
import { startCallDeadline } from '../src/llm/call-deadline';
import {
  failureFromThrown,
  keyValidationFromFailure,
  providerError,
  scrubSecrets,
  scrubText,
  type ProviderFailure,
} from '../src/llm/provider-errors';

const KEY = 'plain-canary-key-4242';

describe('providerError', () => {
  const http = (status: number, extra: Partial<ProviderFailure> = {}): ProviderFailure => ({ provider: 'p', kind: 'http', status, ...extra });

  it.each([
    [http(401), 'key_invalid'],
    [http(400, { keyRejected: true, providerCode: 'API_KEY_INVALID' }), 'key_invalid'],
    [http(403, { keyRejected: true }), 'key_invalid'],
    [http(400), 'provider_error'],
    [http(404), 'provider_error'],
    [http(403), 'provider_permission_denied'],
    [http(429), 'provider_rate_limited'],
    [http(429, { quotaExhausted: true, providerCode: 'insufficient_quota' }), 'provider_quota_exhausted'],
    [http(402), 'provider_quota_exhausted'],
    [http(400, { keyRejected: false }), 'provider_error'],
    [http(401, { keyRejected: false }), 'provider_error'],
    [http(408), 'provider_unavailable'],
    [http(500), 'provider_unavailable'],
    [http(502), 'provider_unavailable'],
    [http(503), 'provider_unavailable'],
    [http(529), 'provider_unavailable'],
    [{ provider: 'p', kind: 'network' }, 'provider_network_error'],
    [{ provider: 'p', kind: 'timeout', timeoutMs: 5 }, 'provider_network_error'],
    [{ provider: 'p', kind: 'aborted' }, 'aborted'],
    [{ provider: 'p', kind: 'safety', providerCode: 'SAFETY' }, 'provider_safety_block'],
    [{ provider: 'p', kind: 'invalid-response' }, 'provider_error'],
  ] as Array<[ProviderFailure, string]>)('%o → %s', (failure, code) => {
    const error = providerError(failure);
    expect(isByokError(error)).toBe(true);
    expect(error.code).toBe(code);
    expect(error.details).toMatchObject({ provider: 'p' });
  });

  it('carries retryAfterMs, the status and the provider code in details', () => {
    const error = providerError(http(429, { retryAfterMs: 29_000, providerCode: 'RESOURCE_EXHAUSTED', message: 'slow down' }));
    expect(error.details).toEqual({ provider: 'p', providerStatus: 429, providerCode: 'RESOURCE_EXHAUSTED', retryAfterMs: 29_000 });
    expect(error.message).toContain('slow down');
    expect(error.status).toBe(429);
  });

  it('gives a spent quota no retry hint, even when the answer carried one', () => {
    const error = providerError(http(429, { retryAfterMs: 23_000, quotaExhausted: true, providerCode: 'RESOURCE_EXHAUSTED' }));
    expect(error.code).toBe('provider_quota_exhausted');
    expect(error.status).toBe(429);
    expect(error.details).toEqual({ provider: 'p', providerStatus: 429, providerCode: 'RESOURCE_EXHAUSTED' });
  });

  it('marks timeouts in details', () => {
    const error = providerError({ provider: 'p', kind: 'timeout', timeoutMs: 250 });
    expect(error.details).toMatchObject({ timeout: true });
    expect(error.message).toContain('250 ms');
  });

  it('scrubs the key from message and cause, including nested causes and URL-encoded forms', () => {
    const key = 'odd key/with+chars=1234';
    const inner = Object.assign(new Error(`connect failed for ${key}`), { code: 'ECONNRESET' });
    const outer = new Error(`fetch failed ?k=${encodeURIComponent(key)}`, { cause: inner });
    const error = providerError({ provider: 'p', kind: 'network', message: `bad ${key}`, cause: outer }, [key]);
    const everything = [error.message, error.stack, inspect(error, { depth: 10, showHidden: true }), JSON.stringify(error.toJSON())].join('\n');
    expect(everything).not.toContain(key);
    expect(everything).not.toContain(encodeURIComponent(key));
    const cause = error.cause as Error & { code?: string };
    expect(cause.message).toContain('connect failed for [redacted]');
    expect(cause.code).toBe('ECONNRESET');
  });

  it('scrubs secret-shaped strings it was not told about', () => {
    const error = providerError({ provider: 'p', kind: 'http', status: 400, message: 'key AIzaSyA1234567890abcdefghijklmnopqrstu rejected' });
    expect(error.message).not.toContain('AIzaSy');
  });

  it('truncates very long provider messages', () => {
    const error = providerError({ provider: 'p', kind: 'http', status: 500, message: 'x'.repeat(5_000) });
    expect(error.message.length).toBeLessThan(400);
  });
});

describe('keyValidationFromFailure (DESIGN §4)', () => {
  it.each([
    { status: 401 },
    { status: 400, keyRejected: true },
    { status: 403, keyRejected: true },
  ])('a rejected key (%o) is invalid', (extra) => {
    const result = keyValidationFromFailure({ provider: 'gemini', kind: 'http', message: `nope ${KEY}`, ...extra }, [KEY]);
    expect(result.status).toBe('invalid');
    expect(JSON.stringify(result)).not.toContain(KEY);
  });

  it.each([400, 403, 404, 405, 408, 429, 500, 502, 503, 504])('HTTP %i that does not reject the key is unverified', (status) => {
    expect(keyValidationFromFailure({ provider: 'gemini', kind: 'http', status }).status).toBe('unverified');
  });

  it.each([
    ['location', { status: 400, providerCode: 'FAILED_PRECONDITION', message: 'User location is not supported for the API use.' }, 'User location'],
    ['disabled API', { status: 403, providerCode: 'SERVICE_DISABLED', message: 'Generative Language API has not been used in project 1 before or it is disabled.' }, 'SERVICE_DISABLED'],
    ['billing', { status: 403, providerCode: 'BILLING_DISABLED', message: 'This API method requires billing to be enabled.' }, 'billing'],
    ['spent quota', { status: 429, quotaExhausted: true, retryAfterMs: 9_000, message: 'You exceeded your current quota' }, 'quota exhausted'],
  ] as const)('%s is unverified with its reason and no retry hint', (_name, extra, reasonPart) => {
    const result = keyValidationFromFailure({ provider: 'gemini', kind: 'http', keyRejected: false, ...extra });
    expect(result.status).toBe('unverified');
    expect(result.status === 'unverified' && result.reason).toContain(reasonPart);
    expect(result).not.toHaveProperty('retryAfterMs');
  });

  it('keeps the retry delay of a 429', () => {
    expect(keyValidationFromFailure({ provider: 'g', kind: 'http', status: 429, retryAfterMs: 1_000 })).toMatchObject({
      status: 'unverified',
      retryAfterMs: 1_000,
    });
  });

  it.each(['network', 'timeout', 'invalid-response', 'safety'] as const)('%s is unverified', (kind) => {
    expect(keyValidationFromFailure({ provider: 'g', kind, timeoutMs: 10 }).status).toBe('unverified');
  });

  it('names the network cause without the key', () => {
    const cause = new Error('fetch failed', { cause: Object.assign(new Error(`connect ECONNREFUSED for ${KEY}`), { code: 'ECONNREFUSED' }) });
    const result = keyValidationFromFailure({ provider: 'g', kind: 'network', cause }, [KEY]);
    expect(result.status === 'unverified' && result.reason).toContain('ECONNREFUSED');
    expect(JSON.stringify(result)).not.toContain(KEY);
  });

  it('throws aborted for the caller’s abort', () => {
    expect(() => keyValidationFromFailure({ provider: 'g', kind: 'aborted' })).toThrow(expect.objectContaining({ code: 'aborted' }));
  });
});

describe('failureFromThrown', () => {
  it('blames the caller, then the timeout, then the network', async () => {
    const controller = new AbortController();
    const callerDeadline = startCallDeadline({ signal: controller.signal, timeoutMs: 10_000 });
    controller.abort();
    expect(failureFromThrown('p', new Error('x'), callerDeadline).kind).toBe('aborted');
    callerDeadline.dispose();

    const timed = startCallDeadline({ timeoutMs: 5 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(failureFromThrown('p', new Error('x'), timed)).toMatchObject({ kind: 'timeout', timeoutMs: 5 });
    timed.dispose();

    expect(failureFromThrown('p', new TypeError('fetch failed')).kind).toBe('network');
  });
});

describe('scrubSecrets / scrubText', () => {
  it('replaces the secret deep inside objects without touching the input', () => {
    const input = { a: [`x ${KEY} y`], b: { c: KEY } };
    const out = scrubSecrets(input, [KEY]) as { a: string[]; b: { c: string } };
    expect(out.a[0]).toBe('x [redacted] y');
    expect(out.b.c).toBe('[redacted]');
    expect(input.b.c).toBe(KEY);
  });

  it('ignores secrets too short to scrub safely', () => {
    expect(scrubText('abc', ['ab'])).toBe('abc');
  });
});
