import { inspect } from 'node:util';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isByokError, type ByokError, type SealContext } from '@byok/core';
import { createSealer } from '@byok/core/kms';
import { startGcpKmsStandIn, type GcpKmsStandIn } from '@byok/testing';
import { gcpKms, type GcpKmsClientLike } from '../src/index';

const fastRetry = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 2_000 };
const ctx: SealContext = { purpose: 'provider_key', userId: 'user-iam', provider: 'gemini', recordId: 'rec-iam' };
const SECRET = 'AIzaSy-permission-canary-00000000000001';
const TOKEN = 'ya29.access-token-canary-do-not-leak';
/** What `roles/cloudkms.cryptoKeyEncrypterDecrypter` grants: use the key, not read it. */
const ENCRYPTER_DECRYPTER = { encrypt: true, decrypt: true, get: false };

/** One REST exchange the real client made (seen through its auth client's fetch). */
interface Exchange {
  url: string;
  status: number;
  headers: Headers;
  body: unknown;
}

/**
 * A real @google-cloud/kms client pointed at the stand-in (STACK gotchas 6 and 9). Over
 * REST the auth client's fetch adds a bearer token, as google-auth-library does, and
 * records each exchange as it went over the wire.
 */
function clientFor(standIn: GcpKmsStandIn, transport: 'grpc' | 'rest', exchanges: Exchange[] = []): KeyManagementServiceClient {
  const authClient = {
    getRequestHeaders: async () => new Headers({ authorization: `Bearer ${TOKEN}` }),
    fetch: async (url: string, init: RequestInit) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${TOKEN}`);
      const response = await fetch(url, { ...init, headers });
      const text = await response.text();
      exchanges.push({ url, status: response.status, headers: response.headers, body: JSON.parse(text) as unknown });
      return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
    },
  };
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

async function failureOf(promise: Promise<unknown>): Promise<ByokError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isByokError(error)) throw new Error(`expected a ByokError, got ${inspect(error)}`);
  return error;
}

function leakFree(error: ByokError): void {
  const all = [inspect(error, { depth: 10, showHidden: true }), JSON.stringify(error.toJSON()), String(error.stack)].join('\n');
  expect(all).not.toContain(SECRET);
  expect(all).not.toContain(TOKEN);
}

for (const transport of ['grpc', 'rest'] as const) {
  describe(`gcpKms IAM and integrity over ${transport}`, () => {
    let standIn: GcpKmsStandIn;
    let client: KeyManagementServiceClient;
    const exchanges: Exchange[] = [];
    const driver = () => gcpKms({ keyName: standIn.keyName, client: client as unknown as GcpKmsClientLike, retry: fastRetry });

    beforeAll(async () => {
      standIn = await startGcpKmsStandIn();
      client = clientFor(standIn, transport, exchanges);
    });
    afterAll(async () => {
      await client?.close();
      await standIn?.close();
    });
    afterEach(() => {
      standIn.setPermissions({});
      standIn.setCredentialsValid(true);
      standIn.clearFaults();
    });

    it('seals, opens, follows a rotation and lists keys with the encrypter/decrypter role alone (no cloudkms.cryptoKeys.get)', async () => {
      standIn.setPermissions(ENCRYPTER_DECRYPTER);
      const keyName = standIn.createCryptoKey(`encrypter-only-${transport}`);
      const kms = gcpKms({ keyName, client: client as unknown as GcpKmsClientLike, retry: fastRetry });
      const sealer = createSealer({ kms, cache: false });
      const start = standIn.requests.length;
      const sealed = await sealer.seal(SECRET, ctx);
      expect(sealer.keyVersionOf(sealed)).toMatchObject({ keyId: keyName, keyVersion: 1 });
      expect((await sealer.open(sealed, ctx)).toString()).toBe(SECRET);
      standIn.rotate(keyName);
      kms.refreshPrimary();
      const rewrapped = await sealer.rewrap(sealed, ctx);
      expect(sealer.keyVersionOf(rewrapped!).keyVersion).toBe(2);
      expect((await sealer.open(rewrapped!, ctx)).toString()).toBe(SECRET);
      expect(await kms.listKeys?.()).toEqual([{ keyId: keyName, version: 2, primary: true, state: 'active' }]);
      const seen = standIn.requests.slice(start);
      expect(seen.map((r) => r.operation)).not.toContain('GetCryptoKey');
      expect(seen.every((r) => r.code === 0)).toBe(true);
    });

    it('a missing cloudkms.cryptoKeyVersions.useToEncrypt is kms_error naming the permission, at once, with nothing sealed', async () => {
      const sealer = createSealer({ kms: driver(), cache: false });
      await sealer.primaryKey();
      standIn.setPermissions({ ...ENCRYPTER_DECRYPTER, encrypt: false });
      const start = standIn.requests.length;
      const error = await failureOf(sealer.seal(SECRET, ctx));
      expect(error.code).toBe('kms_error');
      expect(error.details).toEqual({ driver: 'gcp', operation: 'Encrypt', grpcCode: 7, reason: 'permission_denied', permission: 'cloudkms.cryptoKeyVersions.useToEncrypt' });
      expect(error.message).toMatch(/lack cloudkms\.cryptoKeyVersions\.useToEncrypt/);
      expect(standIn.requests.slice(start).map((r) => [r.operation, r.code])).toEqual([['Encrypt', 7]]);
      expect(sealer.stats().seals).toBe(0);
      leakFree(error);
    });

    it('a missing cloudkms.cryptoKeyVersions.useToDecrypt is kms_error naming the permission, at once', async () => {
      const sealer = createSealer({ kms: driver(), cache: false });
      const sealed = await sealer.seal(SECRET, ctx);
      standIn.setPermissions({ ...ENCRYPTER_DECRYPTER, decrypt: false });
      const start = standIn.requests.length;
      const error = await failureOf(sealer.open(sealed, ctx));
      expect(error).toMatchObject({ code: 'kms_error', details: { operation: 'Decrypt', reason: 'permission_denied', permission: 'cloudkms.cryptoKeyVersions.useToDecrypt' } });
      expect(standIn.requests.slice(start).map((r) => [r.operation, r.code])).toEqual([['Decrypt', 7]]);
      leakFree(error);
    });

    it('refused credentials (UNAUTHENTICATED) are kms_error with reason unauthenticated, not retried', async () => {
      const sealer = createSealer({ kms: driver(), cache: false });
      const sealed = await sealer.seal(SECRET, ctx);
      standIn.setCredentialsValid(false);
      const start = standIn.requests.length;
      const sealing = await failureOf(sealer.seal(SECRET, ctx));
      const opening = await failureOf(sealer.open(sealed, ctx));
      for (const [error, operation] of [[sealing, 'Encrypt'], [opening, 'Decrypt']] as const) {
        expect(error).toMatchObject({ code: 'kms_error', details: { driver: 'gcp', operation, grpcCode: 16, reason: 'unauthenticated' } });
        expect(error.message).toMatch(/credentials were not accepted/);
        leakFree(error);
      }
      expect(standIn.requests.slice(start).map((r) => [r.operation, r.code])).toEqual([
        ['Encrypt', 16],
        ['Decrypt', 16],
      ]);
    });

    it('a damaged Encrypt answer is discarded and asked for again; damaged every time, it is kms_error after the bound', async () => {
      const sealer = createSealer({ kms: driver(), cache: false });
      await sealer.primaryKey();
      let start = standIn.requests.length;
      standIn.injectIntegrityFault({ kind: 'corrupt-ciphertext' });
      const sealed = await sealer.seal(SECRET, ctx);
      expect((await sealer.open(sealed, ctx)).toString()).toBe(SECRET);
      expect(standIn.requests.slice(start).map((r) => r.operation)).toEqual(['Encrypt', 'Encrypt', 'Decrypt']);

      start = standIn.requests.length;
      standIn.injectIntegrityFault({ kind: 'unverified-plaintext-crc', times: fastRetry.attempts });
      const error = await failureOf(sealer.seal(SECRET, ctx));
      expect(error).toMatchObject({ code: 'kms_error', details: { driver: 'gcp', operation: 'Encrypt', attempts: fastRetry.attempts, reason: 'crc32c_mismatch' } });
      expect(error.message).toMatch(/CRC32C/);
      expect(standIn.requests.slice(start).map((r) => r.operation)).toEqual(Array(fastRetry.attempts).fill('Encrypt'));
      expect(sealer.stats().seals).toBe(1);
    });

    it('a damaged Decrypt answer is discarded (and zeroed) and asked for again, within the bound', async () => {
      const sealer = createSealer({ kms: driver(), cache: false });
      const sealed = await sealer.seal(SECRET, ctx);
      let start = standIn.requests.length;
      standIn.injectIntegrityFault({ kind: 'corrupt-plaintext', times: fastRetry.attempts - 1 });
      expect((await sealer.open(sealed, ctx)).toString()).toBe(SECRET);
      expect(standIn.requests.slice(start).map((r) => r.operation)).toEqual(Array(fastRetry.attempts).fill('Decrypt'));

      start = standIn.requests.length;
      standIn.injectIntegrityFault({ kind: 'corrupt-plaintext-crc', times: fastRetry.attempts });
      const error = await failureOf(sealer.open(sealed, ctx));
      expect(error).toMatchObject({ code: 'kms_error', details: { operation: 'Decrypt', attempts: fastRetry.attempts, reason: 'crc32c_mismatch' } });
      expect(standIn.requests.slice(start)).toHaveLength(fastRetry.attempts);
      leakFree(error);
    });

    it('the primary-version probe is checked like any Encrypt', async () => {
      const kms = driver();
      standIn.injectIntegrityFault({ kind: 'corrupt-ciphertext-crc' });
      expect(await kms.primaryKey()).toEqual({ keyId: standIn.keyName, version: 1 });
    });

    if (transport === 'rest') {
      it('answers as the real service does over REST: numeric enums when asked, Google error bodies for 403 and 401', async () => {
        exchanges.length = 0;
        const sealer = createSealer({ kms: driver(), cache: false });
        const sealed = await sealer.seal(SECRET, ctx);
        await sealer.open(sealed, ctx);
        const [key] = await client.getCryptoKey({ name: standIn.keyName });
        const got = exchanges.at(-1);
        // The client asks for numbers (`$alt=json;enum-encoding=int`) and reads them back as names.
        for (const exchange of exchanges) expect(exchange.url).toContain('$alt=json%3Benum-encoding=int');
        const encrypt = exchanges.find((x) => x.url.includes(':encrypt'));
        const decrypt = exchanges.find((x) => x.url.includes(':decrypt'));
        expect(encrypt?.body).toMatchObject({ protectionLevel: 1, verifiedPlaintextCrc32c: true });
        expect(decrypt?.body).toMatchObject({ protectionLevel: 1 });
        expect(got?.body).toMatchObject({ purpose: 1, primary: { state: 1, protectionLevel: 1, algorithm: 1 } });
        expect(key).toMatchObject({ purpose: 'ENCRYPT_DECRYPT', primary: { state: 'ENABLED', protectionLevel: 'SOFTWARE', algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION' } });

        standIn.setPermissions({ ...ENCRYPTER_DECRYPTER, encrypt: false });
        await failureOf(sealer.seal(SECRET, ctx));
        expect(exchanges.at(-1)).toMatchObject({
          status: 403,
          body: {
            error: {
              code: 403,
              message: `Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied on resource '${standIn.keyName}' (or it may not exist).`,
              status: 'PERMISSION_DENIED',
            },
          },
        });
        standIn.setPermissions({});
        standIn.setCredentialsValid(false);
        await failureOf(sealer.open(sealed, ctx));
        const refused = exchanges.at(-1)!;
        expect(refused).toMatchObject({ status: 401, body: { error: { code: 401, status: 'UNAUTHENTICATED', message: expect.stringMatching(/^Request had invalid authentication credentials/) } } });
        expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="https://accounts.google.com/"');
      });

      it('answers enum names to a REST caller that does not ask for numbers', async () => {
        const response = await fetch(`http://${standIn.host}:${standIn.restPort}/v1/${standIn.keyName}`);
        expect(await response.json()).toMatchObject({ purpose: 'ENCRYPT_DECRYPT', primary: { state: 'ENABLED', protectionLevel: 'SOFTWARE' } });
      });
    } else {
      it('fails a denied GetCryptoKey with gRPC PERMISSION_DENIED (7), as Cloud KMS does', async () => {
        standIn.setPermissions(ENCRYPTER_DECRYPTER);
        const error = await client.getCryptoKey({ name: standIn.keyName }).then(
          () => undefined,
          (e: unknown) => e as { code?: number; details?: string },
        );
        expect(error).toMatchObject({ code: 7, details: `Permission 'cloudkms.cryptoKeys.get' denied on resource '${standIn.keyName}' (or it may not exist).` });
        standIn.setCredentialsValid(false);
        const refused = await client.getCryptoKey({ name: standIn.keyName }).then(
          () => undefined,
          (e: unknown) => e as { code?: number },
        );
        expect(refused).toMatchObject({ code: 16 });
      });
    }
  });
}
