import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isByokError, type SealContext } from '@byok/core';
import { createSealer } from '@byok/core/kms';
import { awsKms } from '@byok/kms-aws';
import { kmsConformance, startAwsKmsStandIn, type AwsKmsStandIn } from '@byok/testing';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'stand-in-secret' };
const fastRetry = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20, attemptTimeoutMs: 300 };

kmsConformance({
  name: 'awsKms → AWS KMS stand-in',
  makeDriver: async () => {
    const standIn = await startAwsKmsStandIn();
    const other = standIn.createKey('alias/other');
    return {
      driver: awsKms({ keyId: standIn.alias, region: standIn.region, endpoint: standIn.endpoint, credentials, retry: fastRetry }),
      foreignDriver: awsKms({ keyId: other, region: standIn.region, endpoint: standIn.endpoint, credentials, retry: fastRetry }),
      injectFaults: (kind, times) => (times === 0 ? standIn.clearFaults() : standIn.injectFaults({ kind, times, delayMs: 2_000 })),
      attempts: fastRetry.attempts,
      calls: () => standIn.calls().total,
      close: () => standIn.close(),
    };
  },
});

describe('awsKms on the AWS KMS stand-in', () => {
  let standIn: AwsKmsStandIn;
  const ctx: SealContext = { purpose: 'provider_key', userId: 'user-1', provider: 'gemini', recordId: 'rec-1' };

  beforeAll(async () => {
    standIn = await startAwsKmsStandIn();
  });
  afterAll(async () => {
    await standIn.close();
  });

  it('always passes KeyId and the EncryptionContext, and uses GenerateDataKey to seal', async () => {
    const kms = awsKms({ keyId: standIn.keyArn, region: standIn.region, endpoint: standIn.endpoint, credentials, retry: fastRetry });
    const sealer = createSealer({ kms, cache: false });
    const start = standIn.requests.length;
    const sealed = await sealer.seal('sk-aws-secret', ctx);
    expect((await sealer.open(sealed, ctx)).toString()).toBe('sk-aws-secret');
    const seen = standIn.requests.slice(start);
    expect(seen.map((r) => r.operation)).toEqual(['GenerateDataKey', 'Decrypt']);
    for (const r of seen) {
      expect(r.keyId).toBe(standIn.keyArn);
      expect(r.encryptionContext).toMatchObject({ purpose: 'provider_key', userId: 'user-1', provider: 'gemini', recordId: 'rec-1' });
      expect(typeof r.encryptionContext?.aad).toBe('string');
    }
    expect(sealer.keyVersionOf(sealed)).toEqual({ formatVersion: 1, driverId: 'aws', keyId: standIn.keyArn, keyVersion: 0 });
    await kms.close?.();
  });

  it('works with a client the host passes, and keeps working across KMS-internal rotation', async () => {
    const client = new KMSClient({ region: standIn.region, endpoint: standIn.endpoint, credentials, maxAttempts: 1 });
    const kms = awsKms({ keyId: standIn.alias, client, retry: fastRetry });
    const sealer = createSealer({ kms, cache: false });
    const before = await sealer.seal('before-rotation', ctx);
    standIn.rotateKey(standIn.alias);
    const after = await sealer.seal('after-rotation', ctx);
    expect((await sealer.open(before, ctx)).toString()).toBe('before-rotation');
    expect((await sealer.open(after, ctx)).toString()).toBe('after-rotation');
    await kms.close?.();
    // the host's client is not destroyed by the driver
    expect((await createSealer({ kms: awsKms({ keyId: standIn.alias, client }) }).open(after, ctx)).toString()).toBe('after-rotation');
    client.destroy();
  });

  it('refuses values naming keys outside the configuration, and unwraps old keys listed in decryptKeyIds', async () => {
    const oldArn = standIn.createKey();
    const oldSealer = createSealer({ kms: awsKms({ keyId: oldArn, region: standIn.region, endpoint: standIn.endpoint, credentials }), cache: false });
    const sealed = await oldSealer.seal('old-key-secret', ctx);
    const current = awsKms({ keyId: standIn.alias, region: standIn.region, endpoint: standIn.endpoint, credentials });
    const requestsBefore = standIn.requests.length;
    await expect(createSealer({ kms: current }).open(sealed, ctx)).rejects.toMatchObject({ code: 'kms_key_unknown' });
    expect(standIn.requests.length).toBe(requestsBefore); // refused before any KMS call
    const migrating = createSealer({ kms: awsKms({ keyId: standIn.alias, decryptKeyIds: [oldArn], region: standIn.region, endpoint: standIn.endpoint, credentials }) });
    expect((await migrating.open(sealed, ctx)).toString()).toBe('old-key-secret');
    const rewrapped = await migrating.rewrap(sealed, ctx);
    expect(migrating.keyVersionOf(rewrapped!).keyId).toBe(standIn.alias);
    expect((await createSealer({ kms: current }).open(rewrapped!, ctx)).toString()).toBe('old-key-secret');
    expect(standIn.requests.at(-1)?.operation).toBe('Decrypt');
  });

  it('maps a disabled key to kms_key_unknown and a moved value to seal_invalid', async () => {
    const arn = standIn.createKey();
    const kms = awsKms({ keyId: arn, region: standIn.region, endpoint: standIn.endpoint, credentials, retry: fastRetry });
    const sealer = createSealer({ kms, cache: false });
    const sealed = await sealer.seal('x', ctx);
    await expect(sealer.open(sealed, { ...ctx, recordId: 'rec-2' })).rejects.toMatchObject({ code: 'seal_invalid' });
    standIn.setKeyEnabled(arn, false);
    const error = await sealer.open(sealed, ctx).catch((e: unknown) => e);
    expect(isByokError(error) && error.code).toBe('kms_key_unknown');
    await expect(sealer.seal('y', ctx)).rejects.toMatchObject({ code: 'kms_key_unknown' });
  });

  it('gives up after the retry bound with kms_unavailable, and counts its attempts', async () => {
    const kms = awsKms({ keyId: standIn.alias, region: standIn.region, endpoint: standIn.endpoint, credentials, retry: { ...fastRetry, attempts: 3 } });
    const start = standIn.requests.length;
    standIn.injectFaults({ kind: 'throttle', times: 10 });
    const error = await createSealer({ kms }).seal('z', ctx).catch((e: unknown) => e);
    standIn.clearFaults();
    expect(isByokError(error) && error.code).toBe('kms_unavailable');
    expect((error as { details?: Record<string, unknown> }).details).toMatchObject({ attempts: 3, reason: 'ThrottlingException' });
    expect(standIn.requests.length - start).toBe(3);
  });
});

describe('AWS error mapping', () => {
  it('retries throttling, timeouts, 5xx and connection errors; types the rest', async () => {
    const { classify } = await import('../src/aws-kms');
    expect(classify('Decrypt', { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }, false)).toMatchObject({ retry: true });
    expect(classify('Decrypt', { name: 'Whatever', $metadata: { httpStatusCode: 503 } }, false)).toMatchObject({ retry: true });
    expect(classify('Decrypt', Object.assign(new Error('socket'), { code: 'ECONNRESET' }), false)).toMatchObject({ retry: true });
    expect(classify('Decrypt', new Error('aborted'), true)).toMatchObject({ retry: true, reason: 'timeout' });
    const code = (failure: ReturnType<typeof classify>) => (failure.retry ? 'retry' : failure.error.code);
    expect(code(classify('Decrypt', { name: 'InvalidCiphertextException' }, false))).toBe('seal_invalid');
    expect(code(classify('Decrypt', { name: 'IncorrectKeyException' }, false))).toBe('seal_invalid');
    expect(code(classify('Decrypt', { name: 'NotFoundException' }, false))).toBe('kms_key_unknown');
    expect(code(classify('Decrypt', { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }, false))).toBe('kms_error');
  });
});
