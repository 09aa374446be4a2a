import { describe, expect, it } from 'vitest';
import { ByokError, ERROR_CODES, isByokError } from '@byok/core';
import { toByokError } from '@byok/core/http';
import { uuidv7, isUuid } from '@byok/core/store';
import { sanitize, sanitizeString } from '../src/util/sanitize';

const GOOGLE_KEY = 'AIzaSyD-canary_0123456789abcdefghijklmnopq';
const JWT = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXZhbHVl';
const REFRESH = 'byok_rt_019a0000-0000-7000-8000-000000000001.Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5';

describe('ByokError', () => {
  it('maps every code to one HTTP status and one tRPC code', () => {
    for (const [code, mapping] of Object.entries(ERROR_CODES)) {
      expect(mapping.status, code).toBeGreaterThanOrEqual(400);
      expect(mapping.trpc, code).toMatch(/^[A-Z_]+$/);
    }
    expect(new ByokError('not_found', 'x').status).toBe(404);
    expect(new ByokError('rate_limited', 'x').status).toBe(429);
  });

  it('is recognised across copies through a global symbol brand, not instanceof', () => {
    const foreign = Object.assign(new Error('from another copy'), { [Symbol.for('byok.error')]: true, code: 'conflict' });
    expect(isByokError(foreign)).toBe(true);
    expect(isByokError(new Error('plain'))).toBe(false);
    expect(isByokError({ code: 'not_found' })).toBe(false);
  });

  it('sanitises its message, details and cause', () => {
    const cause = Object.assign(new Error(`request failed: x-goog-api-key ${GOOGLE_KEY}`), { config: { headers: { authorization: `Bearer ${JWT}` } } });
    const error = new ByokError('provider_error', `upstream rejected ${GOOGLE_KEY}`, { cause, details: { apiKey: GOOGLE_KEY, retryAfterMs: 1000 } });
    const dump = JSON.stringify({ message: error.message, details: error.details, cause: String((error.cause as Error).message), stack: (error.cause as Error).stack });
    expect(dump).not.toContain(GOOGLE_KEY);
    expect(dump).not.toContain(JWT);
    expect(error.details).toEqual({ apiKey: '[redacted]', retryAfterMs: 1000 });
    expect(error.toJSON()).toEqual({ error: { code: 'provider_error', message: 'upstream rejected [redacted]', details: { apiKey: '[redacted]', retryAfterMs: 1000 } } });
  });

  it('hides unknown errors as internal', () => {
    const wrapped = toByokError(new Error('db password=hunter2 failed'));
    expect(wrapped.code).toBe('internal');
    expect(wrapped.message).toBe('Internal error');
  });
});

describe('sanitize', () => {
  it('removes values under secret names in any case or nesting', () => {
    const input = {
      Key: 'k',
      apiKey: 'a',
      API_KEY: 'b',
      headers: { Authorization: 'Basic abc', Cookie: 'sid=1', 'X-Goog-Api-Key': 'g', 'set-cookie': ['a=b'] },
      nested: [{ id_token: 't', code_verifier: 'v', client_secret: 's', password: 'p', refreshToken: 'r', secret: 'x', token: 'y' }],
      code: 'oauth-code-4/0AbCdEf123',
      safe: 'hello',
    };
    const out = sanitize(input) as any;
    expect(out.Key).toBe('[redacted]');
    expect(out.apiKey).toBe('[redacted]');
    expect(out.API_KEY).toBe('[redacted]');
    expect(out.headers).toEqual({ Authorization: '[redacted]', Cookie: '[redacted]', 'X-Goog-Api-Key': '[redacted]', 'set-cookie': '[redacted]' });
    expect(Object.values(out.nested[0])).toEqual(Array(7).fill('[redacted]'));
    expect(out.code).toBe('[redacted]');
    expect(out.safe).toBe('hello');
    expect(input.apiKey).toBe('a'); // never mutates
  });

  it('keeps byok error codes under `code`, but not code-shaped OAuth codes', () => {
    expect(sanitize({ code: 'not_found' })).toEqual({ code: 'not_found' });
    expect(sanitize({ code: 'abc123def456' })).toEqual({ code: '[redacted]' });
  });

  it('removes KMS, AWS and JWK secrets and Google OAuth tokens', () => {
    const out = sanitize({
      keys: '1:AAAA',
      BYOK_MASTER_KEYS: '1:AAAA',
      secretAccessKey: 'aws',
      accessKeyId: 'AKIDEXAMPLE',
      jwk: { kty: 'OKP', crv: 'Ed25519', x: 'public', d: 'private' },
      note: 'token ya29.a0AfH6SMBx3-abcdefghijklmnopqrstuv and 1//0gAbCdEfGhIjKlMnOpQrStUv and {"apiKey":"sk-live-secret-value"}',
    }) as any;
    expect(out.keys).toBe('[redacted]');
    expect(out.BYOK_MASTER_KEYS).toBe('[redacted]');
    expect(out.secretAccessKey).toBe('[redacted]');
    expect(out.accessKeyId).toBe('AKIDEXAMPLE');
    expect(out.jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: 'public', d: '[redacted]' });
    for (const secret of ['ya29.a0AfH6SMBx3', '1//0gAbCdEf', 'sk-live-secret-value']) expect(out.note).not.toContain(secret);
  });

  it('masks secrets by shape wherever they appear', () => {
    const text = `key=${GOOGLE_KEY} Bearer ${JWT} token ${REFRESH} sk-proj-abcdefghijklmnopqrstuvwx https://x.test/cb?code=abc123&state=s`;
    const out = sanitizeString(text);
    for (const secret of [GOOGLE_KEY, JWT, REFRESH, 'sk-proj-abcdefghijklmnopqrstuvwx', 'abc123']) expect(out).not.toContain(secret);
    expect(out).toContain('state=s');
  });

  it('handles cycles, errors, buffers and depth', () => {
    const a: any = { name: 'a' };
    a.self = a;
    const err = Object.assign(new Error(`boom ${GOOGLE_KEY}`), { token: 'x' });
    let deep: any = { v: GOOGLE_KEY };
    for (let i = 0; i < 30; i++) deep = { deep };
    const out = sanitize({ a, err, buf: Buffer.from('secret'), deep }) as any;
    expect(out.a.self).toBe('[circular]');
    expect(out.err.message).toBe('boom [redacted]');
    expect(out.err.token).toBe('[redacted]');
    expect(out.buf).toBe('[binary]');
    expect(JSON.stringify(out)).not.toContain(GOOGLE_KEY);
  });
});

describe('uuidv7', () => {
  it('makes valid, time-ordered, unique ids', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7());
    expect(ids.every(isUuid)).toBe(true);
    expect(ids.every((id) => id[14] === '7' && '89ab'.includes(id[19]!))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    const before = Date.now();
    const stamp = parseInt(uuidv7().replace(/-/g, '').slice(0, 12), 16);
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(Date.now());
  });
});
