import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsKms } from '@byok/kms-aws';
import { startAwsKmsStandIn, type AwsKmsStandIn } from '@byok/testing';
import type { KmsDriver } from '../src/kms/kms-driver';
import { localKms } from '../src/kms/local-kms';
import { envelopeOffsets } from '../src/vault/envelope-format';
import type { SealContext } from '../src/vault/seal-context';
import { createSealer } from '../src/vault/sealer';

const SEALS = 64;
const NONCE_BYTES = 12;
const ctx: SealContext = { purpose: 'provider_key', userId: 'user-nonce', provider: 'gemini', recordId: 'rec-nonce' };

/** The GCM nonce of a sealed value: the 12 bytes right after the key section. */
function nonceOf(sealed: Buffer): string {
  const { keySectionEnd } = envelopeOffsets(sealed);
  return sealed.subarray(keySectionEnd, keySectionEnd + NONCE_BYTES).toString('hex');
}

/** Seals one plaintext N times under one context: every seal must use its own nonce and data key. */
async function expectFreshNonces(kms: KmsDriver): Promise<void> {
  const sealer = createSealer({ kms, cache: false });
  const sealed: Buffer[] = [];
  for (let i = 0; i < SEALS; i++) sealed.push(await sealer.seal('the same secret every time', ctx));
  expect(new Set(sealed.map(nonceOf)).size).toBe(SEALS);
  // and every one still opens
  for (const value of sealed.slice(0, 4)) expect((await sealer.open(value, ctx)).toString()).toBe('the same secret every time');
}

describe('a sealer never reuses a nonce', () => {
  let standIn: AwsKmsStandIn;

  beforeAll(async () => {
    standIn = await startAwsKmsStandIn();
  });
  afterAll(async () => {
    await standIn?.close();
  });

  it(`gives ${SEALS} seals ${SEALS} distinct nonces on the local KMS (the sealer makes the data key)`, async () => {
    const kms = localKms({ keys: `1:${randomBytes(32).toString('base64')}` });
    expect(kms.generateDataKey).toBeUndefined();
    await expectFreshNonces(kms);
  });

  it(`gives ${SEALS} seals ${SEALS} distinct nonces on a KMS that generates data keys (AWS KMS stand-in, real client)`, async () => {
    const kms = awsKms({
      keyId: standIn.alias,
      region: standIn.region,
      endpoint: standIn.endpoint,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'stand-in-secret' },
    });
    try {
      const before = standIn.calls().byOperation.GenerateDataKey ?? 0;
      await expectFreshNonces(kms);
      expect((standIn.calls().byOperation.GenerateDataKey ?? 0) - before).toBe(SEALS);
    } finally {
      await kms.close?.();
    }
  });
});
