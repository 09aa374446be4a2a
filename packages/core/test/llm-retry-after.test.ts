import { describe, expect, it } from 'vitest';
import { parseDurationMs, parseRetryAfter, rateLimitRetryAfterMs } from '../src/llm/retry-after';

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('30')).toBe(30_000);
    expect(parseRetryAfter(' 1.5 ')).toBe(1_500);
    expect(parseRetryAfter('0')).toBe(0);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    const now = Date.parse('Wed, 21 Oct 2026 07:27:00 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:00:00 GMT', now)).toBe(0);
  });

  it('returns undefined for missing or unreadable values', () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('')).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('-5')).toBeUndefined();
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['29s', 29_000],
    ['1.5s', 1_500],
    ['20ms', 20],
    ['6m0s', 360_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
  ])('%s → %i', (value, ms) => {
    expect(parseDurationMs(value)).toBe(ms);
  });

  it.each(['', 's', '10', 'abc', '5 s', undefined, null])('rejects %o', (value) => {
    expect(parseDurationMs(value)).toBeUndefined();
  });
});

describe('rateLimitRetryAfterMs', () => {
  const both = { 'x-ratelimit-reset-tokens': '6m0s', 'x-ratelimit-reset-requests': '1s' };

  it('prefers retry-after-ms, then retry-after', () => {
    expect(rateLimitRetryAfterMs({ headers: new Headers({ 'retry-after-ms': '1500', 'retry-after': '9', ...both }) })).toBe(1_500);
    expect(rateLimitRetryAfterMs({ headers: new Headers({ 'retry-after': '9', ...both }), limitType: 'tokens' })).toBe(9_000);
  });

  it('reads the reset header of the limit that was hit', () => {
    expect(rateLimitRetryAfterMs({ headers: new Headers(both), limitType: 'tokens' })).toBe(360_000);
    expect(rateLimitRetryAfterMs({ headers: new Headers(both), limitType: 'requests' })).toBe(1_000);
    expect(rateLimitRetryAfterMs({ headers: { 'X-RateLimit-Reset-Tokens': '20ms' }, limitType: 'tokens' })).toBe(20);
    expect(rateLimitRetryAfterMs({ headers: { 'x-ratelimit-reset-requests': '2s' }, limitType: 'tokens' })).toBeUndefined();
  });

  it('takes the longer reset when the limit type is unknown, and nothing without headers', () => {
    expect(rateLimitRetryAfterMs({ headers: new Headers(both) })).toBe(360_000);
    expect(rateLimitRetryAfterMs({ headers: new Headers() })).toBeUndefined();
    expect(rateLimitRetryAfterMs({ headers: undefined })).toBeUndefined();
  });
});
