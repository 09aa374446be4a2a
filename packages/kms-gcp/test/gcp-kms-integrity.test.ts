import { KeyManagementServiceClient } from '@google-cloud/kms';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SealContext } from '@byok/core';
import { createSealer } from '@byok/core/kms';
import { gcpKms, type GcpKmsClientLike } from '@byok/kms-gcp';
import { startGcpKmsStandIn, type GcpIntegrityFaultKind, type GcpKmsStandIn } from '@byok/testing';

const fastRetry = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20, attemptTimeoutMs: 2_000 };
const ctx: SealContext = { purpose: 'provider_key', userId: 'user-crc', provider: 'gemini', recordId: 'rec-crc' };
const SECRET = 'AIzaSy-integrity-canary-0000000000000001';

/** A real @google-cloud/kms client pointed at the stand-in, over gRPC or the REST fallback (STACK gotchas 6 and 9). */
function clientFor(standIn: GcpKmsStandIn, transport: 'grpc' | 'rest'): KeyManagementServiceClient {
  const authClient = { getRequestHeaders: async () => new Headers(), fetch: (url: string, init: RequestInit) => fetch(url, init) };
  if (transport === 'grpc') {
    return new KeyManagementServiceClient({
      apiEndpoint: standIn.host,
      port: standIn.grpcPort,
      sslCreds: grpc.credentials.createInsecure(),
      authClient: authClient as never,
    });
  }
  return new KeyManagementServiceClient({ fallback: true, protocol: 'http', apiEndpoint: standIn.host, port: standIn.restPort, authClient: authClient as never });
}

async function failure(promise: Promise<unknown>): Promise<{ code?: string; message?: string }> {
  return promise.then(
    () => ({ code: 'succeeded' }),
    (error: unknown) => error as { code?: string; message?: string },
  );
}

// Cloud KMS answers carry CRC32C fields so a client can tell a damaged answer from a good
// one; the driver never seals with or returns the bytes of a damaged answer: it asks again
// within its retry bound, then fails.
for (const transport of ['grpc', 'rest'] as const) {
  describe(`gcpKms refuses damaged Cloud KMS answers over ${transport}`, () => {
    let standIn: GcpKmsStandIn;
    let client: KeyManagementServiceClient;
    const driver = () => gcpKms({ keyName: standIn.keyName, client: client as unknown as GcpKmsClientLike, retry: fastRetry });

    beforeAll(async () => {
      standIn = await startGcpKmsStandIn();
      client = clientFor(standIn, transport);
    });
    afterEach(() => standIn.clearFaults());
    afterAll(async () => {
      await client?.close();
      await standIn?.close();
    });

    const encryptFaults: GcpIntegrityFaultKind[] = ['corrupt-ciphertext', 'corrupt-ciphertext-crc', 'unverified-plaintext-crc', 'unverified-aad-crc'];
    for (const kind of encryptFaults) {
      it(`Encrypt with ${kind}: a damaged answer is discarded and asked for again`, async () => {
        const sealer = createSealer({ kms: driver(), cache: false });
        await sealer.primaryKey();
        const start = standIn.requests.length;
        standIn.injectIntegrityFault({ kind });
        const sealed = await sealer.seal(SECRET, ctx);
        expect(standIn.requests.slice(start).map((r) => r.operation)).toEqual(['Encrypt', 'Encrypt']);
        expect((await sealer.open(sealed, ctx)).toString()).toBe(SECRET);
      });

      it(`Encrypt with ${kind} on every attempt: kms_error, nothing sealed`, async () => {
        const sealer = createSealer({ kms: driver(), cache: false });
        await sealer.primaryKey();
        const start = standIn.requests.length;
        standIn.injectIntegrityFault({ kind, times: fastRetry.attempts });
        const error = await failure(sealer.seal(SECRET, ctx));
        expect(error.code).toBe('kms_error');
        expect(error.message).toMatch(/CRC32C/);
        expect(sealer.stats().seals).toBe(0);
        expect(standIn.requests.slice(start).map((r) => r.operation)).toEqual(Array(fastRetry.attempts).fill('Encrypt'));
      });
    }

    for (const kind of ['corrupt-plaintext', 'corrupt-plaintext-crc'] as const) {
      it(`Decrypt with ${kind}: a damaged data key is discarded and asked for again`, async () => {
        const sealer = createSealer({ kms: driver(), cache: false });
        const sealed = await sealer.seal(SECRET, ctx);
        const start = standIn.requests.length;
        standIn.injectIntegrityFault({ kind });
        expect((await sealer.open(sealed, ctx)).toString()).toBe(SECRET);
        expect(standIn.requests.slice(start).map((r) => r.operation)).toEqual(['Decrypt', 'Decrypt']);
      });

      it(`Decrypt with ${kind} on every attempt: kms_error, the data key never used`, async () => {
        const sealer = createSealer({ kms: driver(), cache: false });
        const sealed = await sealer.seal(SECRET, ctx);
        const start = standIn.requests.length;
        standIn.injectIntegrityFault({ kind, times: fastRetry.attempts });
        const error = await failure(sealer.open(sealed, ctx));
        expect(error.code).toBe('kms_error');
        expect(error.message).toMatch(/CRC32C/);
        expect(JSON.stringify(error)).not.toContain(SECRET);
        expect(standIn.requests.slice(start).map((r) => r.operation)).toEqual(Array(fastRetry.attempts).fill('Decrypt'));
        expect((await sealer.open(sealed, ctx)).toString()).toBe(SECRET);
      });
    }

    it('clearFaults drops pending integrity faults', async () => {
      const sealer = createSealer({ kms: driver(), cache: false });
      standIn.injectIntegrityFault({ kind: 'corrupt-plaintext', times: 5 });
      standIn.injectIntegrityFault({ kind: 'unverified-aad-crc', times: 5 });
      standIn.clearFaults();
      const sealed = await sealer.seal(SECRET, ctx);
      expect((await sealer.open(sealed, ctx)).toString()).toBe(SECRET);
    });
  });
}
