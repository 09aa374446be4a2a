import { describe, expect, it } from 'vitest';
import { ByokError, isByokError, localKms, type KmsDriver } from '@byok/core';
import { callKmsWithRetry, createSealer, listKmsKeys, resolveKmsRetry } from '@byok/core/kms';
import { createDekCache } from '../src/vault/dek-cache';
import { randomBytes } from 'node:crypto';

describe('callKmsWithRetry', () => {
  const retryable = () => ({ retry: true as const, reason: 'ThrottlingException' });

  it('retries with capped exponential backoff and full jitter, then fails with kms_unavailable', async () => {
    const sleeps: number[] = [];
    const retry = resolveKmsRetry({ attempts: 5, baseDelayMs: 100, maxDelayMs: 300, random: () => 0.999, sleep: async (ms) => void sleeps.push(ms) });
    let calls = 0;
    const error = await callKmsWithRetry('test', 'Op', retry, async () => {
      calls++;
      throw new Error('throttled');
    }, retryable).catch((e: unknown) => e);
    expect(calls).toBe(5);
    expect(sleeps).toEqual([99, 199, 299, 299]);
    expect(isByokError(error) && error.code).toBe('kms_unavailable');
    expect((error as ByokError).details).toMatchObject({ attempts: 5, reason: 'ThrottlingException', driver: 'test', operation: 'Op' });
  });

  it('returns the first success and does not retry typed failures', async () => {
    const retry = resolveKmsRetry({ sleep: async () => undefined });
    let calls = 0;
    expect(await callKmsWithRetry('t', 'Op', retry, async () => (++calls < 3 ? Promise.reject(new Error('x')) : 'ok'), retryable)).toBe('ok');
    expect(calls).toBe(3);
    calls = 0;
    const refused = await callKmsWithRetry('t', 'Op', retry, async () => {
      calls++;
      throw new Error('bad ciphertext');
    }, () => ({ retry: false, error: new ByokError('seal_invalid', 'no') })).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect((refused as ByokError).code).toBe('seal_invalid');
  });

  it('aborts a hanging attempt after attemptTimeoutMs and reports the timeout', async () => {
    const retry = resolveKmsRetry({ attempts: 2, attemptTimeoutMs: 30, sleep: async () => undefined });
    const seen: boolean[] = [];
    const error = await callKmsWithRetry(
      't',
      'Op',
      retry,
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))),
      (_e, timedOut) => {
        seen.push(timedOut);
        return { retry: true, reason: timedOut ? 'timeout' : 'other' };
      },
    ).catch((e: unknown) => e);
    expect(seen).toEqual([true, true]);
    expect((error as ByokError).details).toMatchObject({ reason: 'timeout', attempts: 2 });
  });

  it('refuses nonsense bounds', () => {
    expect(() => resolveKmsRetry({ attempts: 0 })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    expect(() => resolveKmsRetry({ baseDelayMs: -1 })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });
});

describe('driver defaults and shared caches', () => {
  it('lists the primary key for drivers without listKeys', async () => {
    const kms = localKms({ keys: `4:${randomBytes(32).toString('base64')}` });
    const bare: KmsDriver = { id: kms.id, primaryKey: kms.primaryKey, selectKey: kms.selectKey, wrap: kms.wrap, unwrap: kms.unwrap };
    expect(await listKmsKeys(bare)).toEqual([{ keyId: 'master', version: 4, primary: true, state: 'active' }]);
    expect((await listKmsKeys(kms)).length).toBe(1);
  });

  it('a cache shared with a sealer holding more keys never opens values under keys this sealer lacks', async () => {
    const v1 = `1:${randomBytes(32).toString('base64')}`;
    const v2 = `2:${randomBytes(32).toString('base64')}`;
    const cache = createDekCache();
    const wide = createSealer({ kms: localKms({ keys: `${v2},${v1}` }), cache });
    const narrow = createSealer({ kms: localKms({ keys: v2 }), cache });
    const sealed = await createSealer({ kms: localKms({ keys: v1 }), cache: false }).seal('v1 secret', { purpose: 'p', userId: 'u', recordId: 'r' });
    expect((await wide.open(sealed, { purpose: 'p', userId: 'u', recordId: 'r' })).toString()).toBe('v1 secret');
    await expect(narrow.open(sealed, { purpose: 'p', userId: 'u', recordId: 'r' })).rejects.toMatchObject({ code: 'kms_key_unknown' });
  });
});
