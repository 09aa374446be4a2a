import { KeyManagementServiceClient } from '@google-cloud/kms';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isByokError, type SealContext } from '@byok/core';
import { createSealer } from '@byok/core/kms';
import { gcpKms, type GcpKmsClientLike } from '@byok/kms-gcp';
import { kmsConformance, startGcpKmsStandIn, type GcpKmsStandIn } from '@byok/testing';

const fastRetry = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20, attemptTimeoutMs: 400 };

type Transport = 'grpc' | 'rest';

/** A real @google-cloud/kms client pointed at the stand-in, over gRPC or the REST fallback (STACK gotchas 6 and 9). */
function clientFor(standIn: GcpKmsStandIn, transport: Transport): KeyManagementServiceClient {
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

const asClient = (client: KeyManagementServiceClient) => client as unknown as GcpKmsClientLike;

for (const transport of ['grpc', 'rest'] as const) {
  kmsConformance({
    name: `gcpKms → Cloud KMS stand-in over ${transport}`,
    makeDriver: async () => {
      const standIn = await startGcpKmsStandIn();
      const otherKey = standIn.createCryptoKey('other');
      const client = clientFor(standIn, transport);
      return {
        driver: gcpKms({ keyName: standIn.keyName, client: asClient(client), retry: fastRetry }),
        foreignDriver: gcpKms({ keyName: otherKey, client: asClient(client), retry: fastRetry }),
        injectFaults: (kind, times) => (times === 0 ? standIn.clearFaults() : standIn.injectFaults({ kind, times, delayMs: 2_000 })),
        attempts: fastRetry.attempts,
        versionsKnownLocally: false,
        calls: () => standIn.calls().total,
        close: async () => {
          await client.close();
          await standIn.close();
        },
      };
    },
  });

  describe(`gcpKms over ${transport}`, () => {
    let standIn: GcpKmsStandIn;
    let client: KeyManagementServiceClient;
    const ctx: SealContext = { purpose: 'oauth_token', userId: 'user-1', tokenKind: 'refresh', recordId: 'tok-1' };

    beforeAll(async () => {
      standIn = await startGcpKmsStandIn();
      client = clientFor(standIn, transport);
    });
    afterAll(async () => {
      await client.close();
      await standIn.close();
    });

    it('encrypts under the explicit primary version and binds the context as AAD', async () => {
      const kms = gcpKms({ keyName: standIn.keyName, client: asClient(client), retry: fastRetry });
      const sealer = createSealer({ kms, cache: false });
      const start = standIn.requests.length;
      const sealed = await sealer.seal('1//refresh-token', ctx);
      expect(sealer.keyVersionOf(sealed)).toEqual({ formatVersion: 1, driverId: 'gcp', keyId: standIn.keyName, keyVersion: 1 });
      expect((await sealer.open(sealed, ctx)).toString()).toBe('1//refresh-token');
      const seen = standIn.requests.slice(start);
      // The primary version comes from a probe Encrypt of the crypto key (no GetCryptoKey).
      expect(seen.map((r) => [r.transport, r.operation, r.name])).toEqual([
        [transport, 'Encrypt', standIn.keyName],
        [transport, 'Encrypt', `${standIn.keyName}/cryptoKeyVersions/1`],
        [transport, 'Decrypt', standIn.keyName],
      ]);
      expect(seen[1]!.name).toBe(`${standIn.keyName}/cryptoKeyVersions/1`);
      expect(seen[2]!.name).toBe(standIn.keyName);
      await expect(sealer.open(sealed, { ...ctx, tokenKind: 'access' })).rejects.toMatchObject({ code: 'seal_invalid' });
      // the key version in the header is bound too: claiming another version fails at the KMS
      const claimed = Buffer.from(sealed);
      claimed.writeUInt32BE(2, 3 + 3 + standIn.keyName.length);
      await expect(sealer.open(claimed, ctx)).rejects.toMatchObject({ code: 'seal_invalid' });
    });

    it('follows rotation, rewraps to the new primary, then retires old versions', async () => {
      const keyName = standIn.createCryptoKey(`rotating-${transport}`);
      const kms = gcpKms({ keyName, client: asClient(client), retry: fastRetry });
      const sealer = createSealer({ kms });
      const old = await sealer.seal('sealed-under-v1', ctx);
      expect(standIn.rotate(keyName)).toBe(2);
      expect(sealer.keyVersionOf(await sealer.seal('still-cached-primary', ctx)).keyVersion).toBe(1);
      kms.refreshPrimary();
      const fresh = await sealer.seal('sealed-under-v2', ctx);
      expect(sealer.keyVersionOf(fresh).keyVersion).toBe(2);
      expect((await sealer.open(old, ctx)).toString()).toBe('sealed-under-v1');
      const rewrapped = await sealer.rewrap(old, ctx);
      expect(sealer.keyVersionOf(rewrapped!).keyVersion).toBe(2);
      expect(await sealer.rewrap(rewrapped!, ctx)).toBeNull();
      kms.setMinimumVersion(2);
      expect(sealer.stats().cacheSize).toBeGreaterThan(0);
      await expect(sealer.open(old, ctx)).rejects.toMatchObject({ code: 'kms_key_unknown' });
      expect(sealer.stats().cacheSize).toBe(0);
      expect((await sealer.open(rewrapped!, ctx)).toString()).toBe('sealed-under-v1');
      expect(await kms.listKeys?.()).toEqual([{ keyId: keyName, version: 2, primary: true, state: 'active' }]);
    });

    it('maps a disabled version to kms_key_unknown', async () => {
      const keyName = standIn.createCryptoKey(`disabled-${transport}`);
      const sealer = createSealer({ kms: gcpKms({ keyName, client: asClient(client), retry: fastRetry }), cache: false });
      const sealed = await sealer.seal('x', ctx);
      standIn.setVersionState(keyName, 1, 'DISABLED');
      await expect(sealer.open(sealed, ctx)).rejects.toMatchObject({ code: 'kms_key_unknown' });
    });

    it('refuses keys outside the configuration before calling the KMS, and unwraps decryptKeyNames', async () => {
      const oldKey = standIn.createCryptoKey(`old-${transport}`);
      const sealed = await createSealer({ kms: gcpKms({ keyName: oldKey, client: asClient(client) }) }).seal('old', ctx);
      const start = standIn.requests.length;
      await expect(createSealer({ kms: gcpKms({ keyName: standIn.keyName, client: asClient(client) }) }).open(sealed, ctx)).rejects.toMatchObject({
        code: 'kms_key_unknown',
      });
      expect(standIn.requests.length).toBe(start);
      const migrating = createSealer({ kms: gcpKms({ keyName: standIn.keyName, decryptKeyNames: [oldKey], client: asClient(client) }) });
      expect((await migrating.open(sealed, ctx)).toString()).toBe('old');
    });

    it('retries within the bound, then fails with kms_unavailable and writes nothing', async () => {
      const kms = gcpKms({ keyName: standIn.keyName, client: asClient(client), retry: { ...fastRetry, attempts: 3 } });
      await kms.primaryKey();
      standIn.injectFaults({ kind: 'throttle', times: 2 });
      const sealer = createSealer({ kms });
      const sealed = await sealer.seal('after-two-throttles', ctx);
      expect((await sealer.open(sealed, ctx)).toString()).toBe('after-two-throttles');
      const start = standIn.requests.length;
      standIn.injectFaults({ kind: '5xx', times: 10 });
      const error = await sealer.seal('never', ctx).catch((e: unknown) => e);
      standIn.clearFaults();
      expect(isByokError(error) && error.code).toBe('kms_unavailable');
      expect((error as { details?: Record<string, unknown> }).details).toMatchObject({ driver: 'gcp', operation: 'Encrypt', attempts: 3 });
      expect(standIn.requests.length - start).toBe(3);
      expect(sealer.stats().seals).toBe(1);
    });
  });
}

describe('gcpKms configuration', () => {
  it('refuses malformed key names and minimum versions', () => {
    const client = {} as GcpKmsClientLike;
    for (const keyName of ['', 'projects/p/locations/l/keyRings/r', 'projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1']) {
      expect(() => gcpKms({ keyName, client })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    }
    expect(() => gcpKms({ keyName: 'projects/p/locations/l/keyRings/r/cryptoKeys/k', client, minimumVersion: 0 })).toThrow(
      expect.objectContaining({ code: 'config_invalid' }),
    );
  });
});

describe('Cloud KMS error mapping', () => {
  it('retries gRPC UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED and network errors; types the rest', async () => {
    const { classify } = await import('../src/gcp-kms');
    for (const grpcCode of [4, 8, 13, 14]) expect(classify('Encrypt', { code: grpcCode }, false)).toMatchObject({ retry: true });
    expect(classify('Encrypt', Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), false)).toMatchObject({ retry: true });
    const code = (failure: ReturnType<typeof classify>) => (failure.retry ? 'retry' : failure.error.code);
    expect(code(classify('Decrypt', { code: 3 }, false))).toBe('seal_invalid');
    expect(code(classify('Encrypt', { code: 3 }, false))).toBe('kms_error');
    expect(code(classify('Decrypt', { code: 5 }, false))).toBe('kms_key_unknown');
    expect(code(classify('Decrypt', { code: 9 }, false))).toBe('kms_key_unknown');
    expect(code(classify('Decrypt', { code: 7 }, false))).toBe('kms_error');
  });
});
