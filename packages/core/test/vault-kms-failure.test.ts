import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, type Byok } from '@byok/core';
import { awsKms } from '@byok/kms-aws';
import { gemini } from '@byok/gemini';
import { startAwsKmsStandIn, startGeminiStandIn, type AwsKmsStandIn, type LlmStandIn } from '@byok/testing';

// The vault on AWS KMS (real client, local stand-in): a KMS that keeps failing leaves nothing behind.
describe('vault over AWS KMS when the KMS fails', () => {
  let kms: AwsKmsStandIn;
  let llm: LlmStandIn;
  let byok: Byok;
  let userId: string;
  const KEY = 'AIzaSyKMSFAIL-0000000000000000000000001';

  beforeAll(async () => {
    kms = await startAwsKmsStandIn();
    llm = await startGeminiStandIn({ keys: [KEY] });
    byok = await createByok({
      database: { memory: true },
      kms: awsKms({
        keyId: kms.alias,
        region: kms.region,
        endpoint: kms.endpoint,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
      }),
      providers: [gemini({ baseUrl: llm.url })],
    });
    userId = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'kms-fail' })).user.id;
  });
  afterAll(async () => {
    await byok.close();
    await llm.close();
    await kms.close();
  });

  it('retries throttling within its bound, then refuses with kms_unavailable and stores nothing', async () => {
    const before = kms.requests.length;
    kms.injectFaults({ kind: 'throttle', times: 10 });
    try {
      await expect(byok.keyVault.setKey(userId, 'gemini', KEY)).rejects.toMatchObject({ code: 'kms_unavailable' });
    } finally {
      kms.clearFaults();
    }
    expect(kms.requests.slice(before).filter((r) => r.operation === 'GenerateDataKey')).toHaveLength(3);
    expect(await byok.keyVault.listStatuses(userId)).toEqual([]);
    expect((await byok.audit.list(userId)).items.filter((i) => i.action === 'key.set')).toEqual([]);
  });

  it('succeeds after a transient throttle and opens through Decrypt with the key id', async () => {
    kms.injectFaults({ kind: 'throttle', times: 1 });
    await byok.keyVault.setKey(userId, 'gemini', KEY);
    byok.sealer.evictUser(userId);
    expect(await byok.keyVault.withKey(userId, 'gemini', (k) => k)).toBe(KEY);
    const decrypt = kms.requests.filter((r) => r.operation === 'Decrypt');
    expect(decrypt.length).toBeGreaterThan(0);
    expect(decrypt.every((r) => r.keyId !== undefined && r.encryptionContext !== undefined)).toBe(true);
  });
});
