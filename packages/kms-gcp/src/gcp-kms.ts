import { KeyManagementServiceClient } from '@google-cloud/kms';
import { ByokError, systemClock, type Clock } from '@byok/core';
import {
  callKmsWithRetry,
  resolveKmsRetry,
  type KmsContext,
  type KmsDriver,
  type KmsFailure,
  type KmsKeyInfo,
  type KmsKeyRef,
  type KmsRetryOptions,
} from '@byok/core/kms';
import { crc32c } from './crc32c';

type Int64Like = { value?: unknown } | null | undefined;

/** The fields of an `EncryptResponse` the driver reads. */
interface EncryptAnswer {
  name?: string | null;
  ciphertext?: Uint8Array | string | null;
  ciphertextCrc32c?: Int64Like;
  verifiedPlaintextCrc32c?: boolean | null;
  verifiedAdditionalAuthenticatedDataCrc32c?: boolean | null;
}

/** Per-call options the driver passes (gax CallOptions: its own retries off, one deadline per attempt). */
export interface GcpCallOptions {
  timeout: number;
  retry: null;
}

/** The slice of `KeyManagementServiceClient` the driver uses (gRPC or REST fallback; a host may pass its own). */
export interface GcpKmsClientLike {
  encrypt(
    request: {
      name: string;
      plaintext: Uint8Array;
      additionalAuthenticatedData: Uint8Array;
      plaintextCrc32c: { value: number };
      additionalAuthenticatedDataCrc32c: { value: number };
    },
    options?: GcpCallOptions,
  ): Promise<unknown[]>;
  decrypt(
    request: {
      name: string;
      ciphertext: Uint8Array;
      additionalAuthenticatedData: Uint8Array;
      ciphertextCrc32c: { value: number };
      additionalAuthenticatedDataCrc32c: { value: number };
    },
    options?: GcpCallOptions,
  ): Promise<unknown[]>;
  close?(): Promise<void>;
}

/** Options of {@link gcpKms}. */
export interface GcpKmsOptions {
  /** The crypto key new seals use: `projects/…/locations/…/keyRings/…/cryptoKeys/…`. Written into sealed values. */
  keyName: string;
  /** Other crypto keys that may still unwrap (after moving to a new `keyName`). */
  decryptKeyNames?: string[];
  /** A configured `KeyManagementServiceClient` (gRPC, or REST with `fallback: true`). */
  client?: GcpKmsClientLike;
  /** Options for a client the driver creates (`new KeyManagementServiceClient(clientOptions)`). */
  clientOptions?: ConstructorParameters<typeof KeyManagementServiceClient>[0];
  /** Oldest key version that may still be unwrapped (default 1: all). */
  minimumVersion?: number;
  /** How long the primary version is remembered before asking Cloud KMS again (default 5 minutes). */
  primaryCacheMs?: number;
  /**
   * Bounded retries with backoff and jitter on throttling, timeouts and 5xx; an answer whose
   * CRC32C fields do not hold is discarded and asked for again within the same bound.
   */
  retry?: KmsRetryOptions;
  clock?: Clock;
}

/** The Cloud KMS driver, with its minimum decryption version. */
export interface GcpKms extends KmsDriver {
  readonly id: 'gcp';
  readonly keyName: string;
  readonly minimumVersion: number;
  /** Retires versions below `version` (values sealed under them no longer open). */
  setMinimumVersion(version: number): void;
  /** Forgets the remembered primary version (after a rotation in Cloud KMS). */
  refreshPrimary(): void;
}

const KEY_NAME = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;
// gRPC status codes
const CANCELLED = 1;
const UNKNOWN = 2;
const INVALID_ARGUMENT = 3;
const DEADLINE_EXCEEDED = 4;
const NOT_FOUND = 5;
const PERMISSION_DENIED = 7;
const RESOURCE_EXHAUSTED = 8;
const FAILED_PRECONDITION = 9;
const ABORTED = 10;
const INTERNAL = 13;
const UNAVAILABLE = 14;
const UNAUTHENTICATED = 16;
const RETRYABLE = new Set([CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** What the primary-version probe encrypts: nothing secret, and never stored. */
const PROBE_PLAINTEXT = Buffer.alloc(32);
const PROBE_AAD = Buffer.from('byok:gcp-kms:primary-version-probe', 'utf8');

/**
 * A `KmsDriver` on Google Cloud KMS (@google-cloud/kms), over gRPC or the REST fallback.
 * It needs only `roles/cloudkms.cryptoKeyEncrypterDecrypter` on the crypto key
 * (`cloudkms.cryptoKeyVersions.useToEncrypt` and `useToDecrypt`), never
 * `cloudkms.cryptoKeys.get`: the primary version is learned from the `name` an `Encrypt`
 * of the crypto key answers with (a probe of 32 zero bytes, repeated every
 * `primaryCacheMs`). Seals `Encrypt` the data key under that version, named explicitly so
 * the version written into the sealed value is the one used; opens `Decrypt` with the
 * crypto key named in the sealed value (checked against the configured keys). The KMS
 * context goes in `additionalAuthenticatedData`; CRC32C integrity fields are sent and
 * checked both ways, and an answer that fails them is discarded and asked for again
 * (bounded, then `kms_error`). Throttling, timeouts and 5xx are retried within a bound,
 * then fail with `kms_unavailable`. A missing permission or refused credentials fail at
 * once with `kms_error` whose `details.reason` is `permission_denied` (with the
 * `permission`) or `unauthenticated`.
 *
 * @example
 * import { gcpKms } from '@byok/kms-gcp';
 * const kms = gcpKms({ keyName: 'projects/p/locations/global/keyRings/byok/cryptoKeys/secrets' });
 */
export function gcpKms(options: GcpKmsOptions): GcpKms {
  const keyName = options.keyName;
  checkKeyName(keyName, 'keyName');
  const names = new Set<string>([keyName]);
  for (const other of options.decryptKeyNames ?? []) {
    checkKeyName(other, 'decryptKeyNames');
    names.add(other);
  }
  const retry = resolveKmsRetry(options.retry);
  const clock = options.clock ?? systemClock;
  const primaryCacheMs = options.primaryCacheMs ?? 300_000;
  const ownsClient = options.client === undefined;
  const client: GcpKmsClientLike = options.client ?? (new KeyManagementServiceClient(options.clientOptions) as unknown as GcpKmsClientLike);
  const callOptions: GcpCallOptions = { timeout: retry.attemptTimeoutMs, retry: null };
  let minimumVersion = checkMinimum(options.minimumVersion ?? 1);
  let primary: { ref: KmsKeyRef; at: number } | undefined;
  let primaryLookup: Promise<KmsKeyRef> | undefined;

  function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    return callKmsWithRetry('gcp', operation, retry, (signal) => untilAborted(run(), signal), (error, timedOut) => classify(operation, error, timedOut));
  }

  /**
   * A call whose answer must pass `verify` (its CRC32C fields): an answer that does not
   * (`undefined`) was damaged on the way and is asked for again, within `retry.attempts`.
   */
  async function callVerified<T, R>(operation: 'Encrypt' | 'Decrypt', run: () => Promise<T>, verify: (answer: T) => R | undefined): Promise<R> {
    for (let n = 1; ; n++) {
      const verified = verify(await call(operation, run));
      if (verified !== undefined) return verified;
      if (n >= retry.attempts) {
        throw new ByokError('kms_error', `Cloud KMS ${operation} answers failed their CRC32C integrity checks ${n} times in a row; none was used`, {
          details: { driver: 'gcp', operation, attempts: n, reason: 'crc32c_mismatch' },
        });
      }
      await retry.sleep(Math.floor(retry.random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (n - 1))));
    }
  }

  /** Encrypts under `name` (a crypto key or one of its versions); the answer's ciphertext and version name, once it verifies. */
  function encrypt(name: string, plaintext: Uint8Array, aad: Uint8Array): Promise<{ ciphertext: Buffer; versionName: string }> {
    const request = {
      name,
      plaintext,
      additionalAuthenticatedData: aad,
      plaintextCrc32c: { value: crc32c(plaintext) },
      additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
    };
    return callVerified(
      'Encrypt',
      () => client.encrypt(request, callOptions),
      (answer) => {
        const [out] = answer as [EncryptAnswer | undefined];
        const ciphertext = bytes(out?.ciphertext);
        if (ciphertext === undefined || ciphertext.length === 0) return undefined;
        if (out?.verifiedPlaintextCrc32c !== true || out.verifiedAdditionalAuthenticatedDataCrc32c !== true) return undefined;
        if (int64(out.ciphertextCrc32c) !== crc32c(ciphertext)) return undefined;
        return { ciphertext, versionName: typeof out.name === 'string' ? out.name : '' };
      },
    );
  }

  function select(wanted: string, version: number): KmsKeyRef {
    if (!names.has(wanted)) throw new ByokError('kms_key_unknown', 'Sealed value names a Cloud KMS key that is not configured');
    if (!Number.isInteger(version) || version < 1) throw new ByokError('kms_key_unknown', 'Sealed value names an invalid Cloud KMS key version');
    if (version < minimumVersion) {
      throw new ByokError('kms_key_unknown', `Cloud KMS key version ${version} is below the minimum version ${minimumVersion}`, {
        details: { version, minimumVersion },
      });
    }
    return { keyId: wanted, version };
  }

  async function lookupPrimary(): Promise<KmsKeyRef> {
    // Cloud KMS encrypts a crypto key's data under its primary version and names that
    // version in the answer: the encrypter role suffices, where GetCryptoKey would not.
    const { versionName } = await encrypt(keyName, PROBE_PLAINTEXT, PROBE_AAD);
    const match = /\/cryptoKeyVersions\/(\d+)$/.exec(versionName);
    if (!match || versionName !== `${keyName}/cryptoKeyVersions/${match[1]}`) {
      throw new ByokError('kms_error', 'Cloud KMS Encrypt did not name the crypto key version it used');
    }
    const ref = Object.freeze({ keyId: keyName, version: Number(match[1]) });
    primary = { ref, at: clock.now() };
    return ref;
  }

  return {
    id: 'gcp',
    keyName,
    get minimumVersion() {
      return minimumVersion;
    },
    setMinimumVersion(version: number) {
      minimumVersion = checkMinimum(version);
    },
    refreshPrimary() {
      primary = undefined;
    },
    primaryKey(): KmsKeyRef | Promise<KmsKeyRef> {
      if (primary !== undefined && clock.now() - primary.at < primaryCacheMs) return primary.ref;
      primaryLookup ??= lookupPrimary().finally(() => {
        primaryLookup = undefined;
      });
      return primaryLookup;
    },
    selectKey: select,
    async wrap(dek: Uint8Array, ref: KmsKeyRef, context: KmsContext): Promise<Uint8Array> {
      const key = select(ref.keyId, ref.version);
      const versionName = `${key.keyId}/cryptoKeyVersions/${key.version}`;
      const out = await encrypt(versionName, dek, context.aad);
      if (out.versionName !== versionName) throw new ByokError('kms_error', 'Cloud KMS Encrypt used another key version than requested');
      return out.ciphertext;
    },
    async unwrap(wrapped: Uint8Array, ref: KmsKeyRef, context: KmsContext): Promise<Buffer> {
      const key = select(ref.keyId, ref.version);
      const request = {
        name: key.keyId,
        ciphertext: wrapped,
        additionalAuthenticatedData: context.aad,
        ciphertextCrc32c: { value: crc32c(wrapped) },
        additionalAuthenticatedDataCrc32c: { value: crc32c(context.aad) },
      };
      return callVerified(
        'Decrypt',
        () => client.decrypt(request, callOptions),
        (answer) => {
          const [out] = answer as [{ plaintext?: Uint8Array | string | null; plaintextCrc32c?: Int64Like } | undefined];
          const plaintext = bytes(out?.plaintext);
          if (plaintext === undefined) return undefined;
          if (int64(out?.plaintextCrc32c) !== crc32c(plaintext)) {
            plaintext.fill(0);
            return undefined;
          }
          return plaintext;
        },
      );
    },
    async listKeys(): Promise<KmsKeyInfo[]> {
      const current = await this.primaryKey();
      return [...names].map((name) =>
        name === keyName
          ? { keyId: name, version: current.version, primary: true, state: 'active' as const }
          : { keyId: name, version: minimumVersion, primary: false, state: 'active' as const },
      );
    },
    async close() {
      if (ownsClient) await client.close?.();
    },
  };
}

/** Maps a Cloud KMS client error (gRPC status or REST fallback) to retry-or-fail (internal; not exported from the package index). */
export function classify(operation: string, error: unknown, timedOut: boolean): KmsFailure {
  const e = (error ?? {}) as { code?: unknown; name?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'number' ? e.code : undefined;
  const textCode = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : '';
  if (timedOut) return { retry: true, reason: 'timeout' };
  if (code !== undefined && RETRYABLE.has(code)) return { retry: true, reason: `gRPC status ${code}` };
  if (NETWORK_CODES.has(textCode) || e.name === 'AbortError' || (e.name === 'TypeError' && /fetch failed/.test(String((error as Error).message)))) {
    return { retry: true, reason: textCode || String(e.name) };
  }
  if (code === INVALID_ARGUMENT && operation === 'Decrypt') {
    return { retry: false, error: new ByokError('seal_invalid', 'Cloud KMS refused to decrypt: the wrapped key does not verify under this key and context') };
  }
  if (code === PERMISSION_DENIED) {
    const permission = permissionOf(error);
    return {
      retry: false,
      error: new ByokError(
        'kms_error',
        `Cloud KMS ${operation} was denied: the credentials lack ${permission ?? 'a permission'} on the crypto key (grant roles/cloudkms.cryptoKeyEncrypterDecrypter on it)`,
        { details: { driver: 'gcp', operation, grpcCode: code, reason: 'permission_denied', ...(permission ? { permission } : {}) } },
      ),
    };
  }
  if (code === UNAUTHENTICATED) {
    return {
      retry: false,
      error: new ByokError('kms_error', `Cloud KMS ${operation} was refused: the credentials were not accepted (expired, revoked or missing)`, {
        details: { driver: 'gcp', operation, grpcCode: code, reason: 'unauthenticated' },
      }),
    };
  }
  if (code === NOT_FOUND || code === FAILED_PRECONDITION) {
    return { retry: false, error: new ByokError('kms_key_unknown', `Cloud KMS ${operation} failed: the key or key version is missing or not enabled`, { details: { grpcCode: code } }) };
  }
  return { retry: false, error: new ByokError('kms_error', `Cloud KMS ${operation} failed`, { cause: error, details: { grpcCode: code } }) };
}

/**
 * Settles with `promise`, or rejects when the attempt's deadline fires first (the REST
 * fallback does not apply gax's per-call timeout; a cancellable gax promise is cancelled).
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      (promise as { cancel?: () => void }).cancel?.();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** The permission Cloud KMS names in a `PERMISSION_DENIED` (`Permission 'cloudkms.….…' denied on resource …`). */
function permissionOf(error: unknown): string | undefined {
  // gRPC carries the text in `details`, the REST fallback in `message`.
  const e = (error ?? {}) as { details?: unknown; message?: unknown };
  const text = [e.details, e.message].filter((v): v is string => typeof v === 'string').join('\n');
  return /Permission '(cloudkms\.[A-Za-z]+\.[A-Za-z]+)' denied/.exec(text)?.[1];
}

function checkKeyName(name: unknown, field: string): asserts name is string {
  if (typeof name !== 'string' || !KEY_NAME.test(name) || Buffer.byteLength(name) > 255) {
    throw new ByokError('config_invalid', `gcpKms: ${field} must be a crypto key name "projects/…/locations/…/keyRings/…/cryptoKeys/…" of at most 255 bytes`);
  }
}

function checkMinimum(version: number): number {
  if (!Number.isInteger(version) || version < 1 || version > 0xffffffff) {
    throw new ByokError('config_invalid', 'gcpKms: minimumVersion must be a positive integer');
  }
  return version;
}

function bytes(value: Uint8Array | string | null | undefined): Buffer | undefined {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'base64');
  return undefined;
}

function int64(value: Int64Like): number | undefined {
  const v = value?.value;
  if (v === undefined || v === null) return undefined;
  return Number(typeof v === 'object' ? String(v) : v);
}
