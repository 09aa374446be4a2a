import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';
import { ByokError, type GeneratedDataKey, type KmsContext, type KmsDriver, type KmsKeyInfo, type KmsKeyRef } from '@byok/core';
import { callKmsWithRetry, resolveKmsRetry, type KmsFailure, type KmsRetryOptions } from '@byok/core/kms';

/** The slice of `KMSClient` the driver uses (a host may pass its own client). */
export interface AwsKmsClientLike {
  send(command: GenerateDataKeyCommand | EncryptCommand | DecryptCommand, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  destroy?(): void;
}

/** Options of {@link awsKms}. */
export interface AwsKmsOptions {
  /** The KMS key new seals use: key id, key ARN, alias name (`alias/…`) or alias ARN. Written into sealed values. */
  keyId: string;
  /** Other keys that may still unwrap (after moving to a new `keyId`). Values naming any other key are refused. */
  decryptKeyIds?: string[];
  /** A configured `KMSClient` (its own retry settings then add to the driver's). */
  client?: AwsKmsClientLike;
  /** For a client the driver creates. */
  region?: string;
  endpoint?: string;
  credentials?: KMSClientConfig['credentials'];
  /** Bounded retries with backoff and jitter on throttling, timeouts and 5xx. */
  retry?: KmsRetryOptions;
}

/** The AWS KMS driver. AWS rotates key material inside KMS, so the key version is always 0. */
export interface AwsKms extends KmsDriver {
  readonly id: 'aws';
  readonly keyId: string;
}

const RETRYABLE_NAMES = new Set([
  'ThrottlingException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'ServiceUnavailableException',
  'InternalFailure',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'AbortError',
]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'UND_ERR_SOCKET']);
const KEY_PROBLEMS = new Set(['NotFoundException', 'DisabledException', 'KMSInvalidStateException', 'InvalidKeyUsageException']);

/**
 * A `KmsDriver` on AWS KMS (@aws-sdk/client-kms). Seals call `GenerateDataKey` (AES_256)
 * with the EncryptionContext; opens call `Decrypt`, always passing `KeyId` (the key
 * named in the sealed value, checked against the configured keys) and the
 * EncryptionContext; rewraps call `Encrypt`. Throttling, timeouts and 5xx are retried
 * within a bound, then fail with `kms_unavailable`.
 *
 * @example
 * import { createByok } from '@byok/core';
 * import { awsKms } from '@byok/kms-aws';
 * const kms = awsKms({ keyId: 'alias/byok', region: 'eu-west-1' });
 * const byok = await createByok({ kms, database: { postgres: process.env.DATABASE_URL! } });
 */
export function awsKms(options: AwsKmsOptions): AwsKms {
  const keyId = options.keyId;
  if (typeof keyId !== 'string' || keyId.length === 0 || Buffer.byteLength(keyId) > 255) {
    throw new ByokError('config_invalid', 'awsKms: keyId must be a key id, key ARN or alias of 1–255 bytes');
  }
  const retry = resolveKmsRetry(options.retry);
  const ownsClient = options.client === undefined;
  const client: AwsKmsClientLike =
    options.client ??
    new KMSClient({
      ...(options.region !== undefined ? { region: options.region } : {}),
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      maxAttempts: 1,
    });
  const primary: KmsKeyRef = Object.freeze({ keyId, version: 0 });
  const refs = new Map<string, KmsKeyRef>([[keyId, primary]]);
  for (const other of options.decryptKeyIds ?? []) {
    if (typeof other !== 'string' || other.length === 0 || Buffer.byteLength(other) > 255) {
      throw new ByokError('config_invalid', 'awsKms: decryptKeyIds must be key ids, ARNs or aliases of 1–255 bytes');
    }
    if (!refs.has(other)) refs.set(other, Object.freeze({ keyId: other, version: 0 }));
  }

  function select(wanted: string, version: number): KmsKeyRef {
    const ref = refs.get(wanted);
    if (ref === undefined || version !== 0) {
      throw new ByokError('kms_key_unknown', 'Sealed value names an AWS KMS key that is not configured');
    }
    return ref;
  }

  function call<T>(operation: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return callKmsWithRetry('aws', operation, retry, run, (error, timedOut) => classify(operation, error, timedOut));
  }

  return {
    id: 'aws',
    keyId,
    primaryKey: () => primary,
    selectKey: select,
    async generateDataKey(ref: KmsKeyRef, context: KmsContext): Promise<GeneratedDataKey> {
      const { keyId: target } = select(ref.keyId, ref.version);
      const out = (await call('GenerateDataKey', (abortSignal) =>
        client.send(new GenerateDataKeyCommand({ KeyId: target, KeySpec: 'AES_256', EncryptionContext: { ...context.encryptionContext } }), {
          abortSignal,
        }),
      )) as { Plaintext?: Uint8Array; CiphertextBlob?: Uint8Array };
      if (!(out.Plaintext instanceof Uint8Array) || !(out.CiphertextBlob instanceof Uint8Array) || out.Plaintext.length !== 32) {
        if (out.Plaintext instanceof Uint8Array) out.Plaintext.fill(0);
        throw new ByokError('kms_error', 'AWS KMS GenerateDataKey returned an unexpected response');
      }
      const plaintext = Buffer.from(out.Plaintext);
      out.Plaintext.fill(0);
      return { plaintext, wrapped: out.CiphertextBlob };
    },
    async wrap(dek: Uint8Array, ref: KmsKeyRef, context: KmsContext): Promise<Uint8Array> {
      const { keyId: target } = select(ref.keyId, ref.version);
      const out = (await call('Encrypt', (abortSignal) =>
        client.send(new EncryptCommand({ KeyId: target, Plaintext: dek, EncryptionContext: { ...context.encryptionContext } }), { abortSignal }),
      )) as { CiphertextBlob?: Uint8Array };
      if (!(out.CiphertextBlob instanceof Uint8Array)) throw new ByokError('kms_error', 'AWS KMS Encrypt returned an unexpected response');
      return out.CiphertextBlob;
    },
    async unwrap(wrapped: Uint8Array, ref: KmsKeyRef, context: KmsContext): Promise<Buffer> {
      const { keyId: target } = select(ref.keyId, ref.version);
      const out = (await call('Decrypt', (abortSignal) =>
        client.send(new DecryptCommand({ KeyId: target, CiphertextBlob: wrapped, EncryptionContext: { ...context.encryptionContext } }), {
          abortSignal,
        }),
      )) as { Plaintext?: Uint8Array };
      if (!(out.Plaintext instanceof Uint8Array)) throw new ByokError('kms_error', 'AWS KMS Decrypt returned an unexpected response');
      const plaintext = Buffer.from(out.Plaintext);
      out.Plaintext.fill(0);
      return plaintext;
    },
    async listKeys(): Promise<KmsKeyInfo[]> {
      return [...refs.values()].map((ref) => ({ keyId: ref.keyId, version: 0, primary: ref === primary, state: 'active' as const }));
    },
    async close() {
      if (ownsClient) client.destroy?.();
    },
  };
}

/** Maps an AWS SDK error to retry-or-fail (internal; exported for the mapping tests, not from the package index). */
export function classify(operation: string, error: unknown, timedOut: boolean): KmsFailure {
  const e = (error ?? {}) as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number }; cause?: { code?: unknown } };
  const name = typeof e.name === 'string' ? e.name : '';
  const status = e.$metadata?.httpStatusCode;
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : '';
  if (timedOut) return { retry: true, reason: 'timeout' };
  if (RETRYABLE_NAMES.has(name)) return { retry: true, reason: name === 'AbortError' ? 'timeout' : name };
  if (typeof status === 'number' && status >= 500) return { retry: true, reason: `HTTP ${status}` };
  if (NETWORK_CODES.has(code)) return { retry: true, reason: code };
  if (name === 'InvalidCiphertextException' || name === 'IncorrectKeyException') {
    return { retry: false, error: new ByokError('seal_invalid', `AWS KMS refused to ${operation}: the wrapped key does not verify under this key and context`) };
  }
  if (KEY_PROBLEMS.has(name)) {
    return { retry: false, error: new ByokError('kms_key_unknown', `AWS KMS ${operation} failed: ${name}`, { details: { awsError: name } }) };
  }
  return {
    retry: false,
    error: new ByokError('kms_error', `AWS KMS ${operation} failed${name ? `: ${name}` : ''}`, { cause: error, details: { awsError: name || undefined, status } }),
  };
}
