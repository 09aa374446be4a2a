import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { ByokError } from '../errors';
import { KMS_DRIVER_ID_PATTERN, type KmsContext, type KmsDriver, type KmsKeyRef } from '../kms/kms-driver';
import { createDekCache, type DekCache, type DekCacheEntryInfo, type DekCacheHit, type DekCacheOptions } from './dek-cache';
import {
  DEK_BYTES,
  NONCE_BYTES,
  PAYLOAD_AAD_PREFIX,
  TAG_BYTES,
  assembleEnvelope,
  cacheSlotOf,
  encodeKeyHeader,
  envelopeOffsets,
  kmsAad,
  parseEnvelope,
  writePayloadAadPrefix,
  type ParsedEnvelope,
} from './envelope-format';
import { encodeSealContext, sealContextFields, type OAuthTokenKind, type SealContext } from './seal-context';
import { withSpan } from '../util/telemetry';

/** Options of {@link createSealer}. */
export interface SealerOptions {
  /** The KMS driver(s). The first one seals; the others only open (migration between KMSs). */
  kms: KmsDriver | readonly KmsDriver[];
  /** The data-key cache: a cache, its bounds, or `false` for none (default: bounded cache with default bounds). */
  cache?: DekCache | DekCacheOptions | false;
  /** Cache the data key of a value just sealed, so opening it next needs no KMS call (default true). */
  cacheOnSeal?: boolean;
}

/** Which key a sealed value is under, read from its header (not authenticated until opened). */
export interface SealedKeyInfo {
  readonly formatVersion: number;
  readonly driverId: string;
  readonly keyId: string;
  readonly keyVersion: number;
}

/** Counters, for tests, benches and `byok kms status`. */
export interface SealerStats {
  seals: number;
  opens: number;
  rewraps: number;
  kmsWraps: number;
  kmsGenerates: number;
  kmsUnwraps: number;
  cacheHits: number;
  cacheMisses: number;
  cacheEvictions: number;
  cacheSize: number;
}

/** Where an OAuth token is stored. */
export interface OAuthTokenRef {
  readonly userId: string;
  readonly tokenKind: OAuthTokenKind;
  /** The `oauth_tokens` row id, generated before sealing. */
  readonly recordId: string;
}

/** Where a signing key is stored: its `kid` is the row id. */
export interface SigningKeyRef {
  readonly kid: string;
}

/** Envelope encryption of secrets: see docs/security/envelope-format.md. */
export interface Sealer {
  /** Seals `plaintext` under a fresh data key, bound to `ctx`. Nothing is returned when the KMS fails. */
  seal(plaintext: Uint8Array | string, ctx: SealContext): Promise<Buffer>;
  /** Opens a sealed value for exactly the context it was sealed for; the caller zeroes the result. */
  open(sealed: Uint8Array, ctx: SealContext): Promise<Buffer>;
  /** Re-wraps the data key under the primary key, payload untouched; `null` when already primary. */
  rewrap(sealed: Uint8Array, ctx: SealContext): Promise<Buffer | null>;
  /** Reads which driver, key and version a sealed value names (header only). */
  keyVersionOf(sealed: Uint8Array): SealedKeyInfo;
  /** True when the value is sealed under the current primary driver, key and version. */
  isPrimary(sealed: Uint8Array): Promise<boolean>;
  /** The driver, key and version new seals use. */
  primaryKey(): Promise<{ driverId: string; keyId: string; version: number }>;
  /** Drops cached data keys the predicate selects; returns how many. */
  evict(predicate: (info: DekCacheEntryInfo) => boolean): number;
  /** Drops the cached data keys of one user (user deletion). */
  evictUser(userId: string): number;
  /** Drops the cached data keys of one record (key removal). */
  evictRecord(recordId: string): number;
  stats(): SealerStats;
  sealOAuthToken(token: string, ref: OAuthTokenRef): Promise<Buffer>;
  openOAuthToken(sealed: Uint8Array, ref: OAuthTokenRef): Promise<string>;
  sealSigningKey(privateKey: string | Uint8Array, ref: SigningKeyRef): Promise<Buffer>;
  openSigningKey(sealed: Uint8Array, ref: SigningKeyRef): Promise<string>;
  /** The configured drivers, primary first. */
  readonly drivers: readonly KmsDriver[];
  /** Closes the drivers that hold clients of their own. */
  close(): Promise<void>;
}

/** @internal Source of random bytes for data keys and nonces (test vectors pass a fixed one). */
export type RandomSource = (size: number) => Buffer;

/**
 * Creates the envelope sealer: each secret gets a fresh 256-bit data key and a random
 * 96-bit nonce (AES-256-GCM); the data key is wrapped by the KMS, bound to the key
 * header and the context. Unwrapped data keys are cached as `KeyObject`s within bounds.
 *
 * @example
 * const sealer = createSealer({ kms: localKms({ keys: process.env.BYOK_MASTER_KEYS }) });
 * const ctx = { purpose: 'provider_key', userId, provider: 'gemini', recordId: uuidv7() };
 * const sealed = await sealer.seal(apiKey, ctx);
 * const plain = await sealer.open(sealed, ctx); // Buffer; zero it after use
 */
export function createSealer(options: SealerOptions): Sealer {
  return createSealerWithRandom(options, randomBytes);
}

/** @internal `createSealer` with an explicit random source (test vectors). Not exported from the package index. */
export function createSealerWithRandom(options: SealerOptions, random: RandomSource): Sealer {
  const drivers: readonly KmsDriver[] = Array.isArray(options.kms) ? [...(options.kms as readonly KmsDriver[])] : [options.kms as KmsDriver];
  if (drivers.length === 0) throw new ByokError('config_invalid', 'createSealer: at least one KMS driver is required');
  const byId = new Map<string, KmsDriver>();
  for (const driver of drivers) {
    if (!driver || typeof driver.id !== 'string' || !KMS_DRIVER_ID_PATTERN.test(driver.id)) {
      throw new ByokError('config_invalid', 'createSealer: a KMS driver id must match [a-z0-9-]{1,32}');
    }
    if (byId.has(driver.id)) throw new ByokError('config_invalid', `createSealer: KMS driver "${driver.id}" is configured twice`);
    byId.set(driver.id, driver);
  }
  const primaryDriver = drivers[0]!;
  const cache: DekCache | undefined =
    options.cache === false ? undefined : isDekCache(options.cache) ? options.cache : createDekCache(options.cache ?? {});
  const cacheOnSeal = options.cacheOnSeal ?? true;
  const seenMinimum = new Map<KmsDriver, number | undefined>(drivers.map((d) => [d, d.minimumVersion]));
  const headers = new Map<string, Buffer>();
  const counters = { seals: 0, opens: 0, rewraps: 0, kmsWraps: 0, kmsGenerates: 0, kmsUnwraps: 0 };
  const payloadViews = new WeakMap<Buffer, PayloadViews>();

  let last: { driver: KmsDriver; keyId: string; version: number; header: Buffer } | undefined;

  function keyHeaderFor(driver: KmsDriver, ref: KmsKeyRef): Buffer {
    if (last !== undefined && last.driver === driver && last.keyId === ref.keyId && last.version === ref.version) return last.header;
    const header = buildKeyHeader(driver, ref);
    last = { driver, keyId: ref.keyId, version: ref.version, header };
    return header;
  }

  function buildKeyHeader(driver: KmsDriver, ref: KmsKeyRef): Buffer {
    const id = `${driver.id}\u0000${ref.keyId}\u0000${ref.version}`;
    let header = headers.get(id);
    if (header === undefined) {
      header = encodeKeyHeader(driver.id, ref.keyId, ref.version);
      if (headers.size > 256) headers.clear();
      headers.set(id, header);
    }
    return header;
  }

  function checkMinimum(driver: KmsDriver): void {
    const current = driver.minimumVersion;
    if (seenMinimum.get(driver) !== current) {
      seenMinimum.set(driver, current);
      cache?.flush(driver.id);
    }
  }

  function driverFor(driverId: string): KmsDriver {
    const driver = byId.get(driverId);
    if (driver === undefined) throw new ByokError('kms_key_unknown', 'Sealed value names a KMS driver that is not configured');
    return driver;
  }

  async function resolvePrimary(): Promise<KmsKeyRef> {
    return primaryDriver.primaryKey();
  }

  function cacheInfo(env: { driverId: string; keyId: string; keyVersion: number }, ctx: SealContext): Omit<DekCacheEntryInfo, 'createdAt'> {
    return {
      driverId: env.driverId,
      keyId: env.keyId,
      keyVersion: env.keyVersion,
      purpose: ctx.purpose,
      userId: ctx.userId,
      subject: ctx.provider ?? ctx.tokenKind ?? '',
      recordId: ctx.recordId,
    };
  }

  /**
   * The cached data key for a sealed value and context, if any. Only contexts that
   * would pass validation unchanged use the cache; the others take the slow path,
   * which validates and throws.
   */
  function lookupCache(buf: Buffer, keySectionEnd: number, ctx: SealContext): DekCacheHit | undefined {
    if (cache === undefined || ctx === null || typeof ctx !== 'object') return undefined;
    for (let i = 0; i < drivers.length; i++) checkMinimum(drivers[i]!);
    const { purpose, provider, tokenKind } = ctx;
    let subject: string;
    if (provider !== undefined) {
      if (tokenKind !== undefined || purpose === 'oauth_token') return undefined;
      subject = provider;
    } else if (tokenKind !== undefined) {
      if (purpose === 'provider_key') return undefined;
      subject = tokenKind;
    } else {
      if (purpose === 'provider_key' || purpose === 'oauth_token') return undefined;
      subject = '';
    }
    return cache.lookup(cacheSlotOf(buf), buf, keySectionEnd, purpose, ctx.userId, subject, ctx.recordId);
  }

  /** Unwraps a data key through the KMS (the key ref selects among configured keys) and caches it. */
  async function unwrapKey(buf: Buffer, env: ParsedEnvelope, ctx: SealContext, aad: Buffer): Promise<KeyObject> {
    const driver = driverFor(env.driverId);
    checkMinimum(driver);
    const ref = driver.selectKey(env.keyId, env.keyVersion);
    const context = new SealKmsContext(kmsAad(buf.subarray(0, env.keyHeaderEnd), aad.subarray(PAYLOAD_AAD_PREFIX)), ctx);
    counters.kmsUnwraps++;
    const dek = await kmsCall('unwrap', driver.id, () => driver.unwrap(buf.subarray(env.wrappedStart, env.keySectionEnd), ref, context));
    if (dek.length !== DEK_BYTES) {
      dek.fill(0);
      throw new ByokError('seal_invalid', 'Unwrapped data key has the wrong size');
    }
    const key = createSecretKey(dek);
    dek.fill(0);
    cache?.store(cacheSlotOf(buf), buf.subarray(0, env.keySectionEnd), aad, key, cacheInfo(env, ctx));
    return key;
  }

  /**
   * The nonce, ciphertext and tag of a sealed value, as views into it. A value opened
   * again as the same buffer (the key vault keeps the bytes of the keys it opens) reuses
   * its views: they read the buffer's current bytes, exactly as new ones would, and cost
   * nothing to make.
   */
  function payloadOf(buf: Buffer, keySectionEnd: number): PayloadViews {
    const known = payloadViews.get(buf);
    if (known !== undefined && known.keySectionEnd === keySectionEnd) return known;
    const tagStart = buf.length - TAG_BYTES;
    const views: PayloadViews = {
      keySectionEnd,
      nonce: buf.subarray(keySectionEnd, keySectionEnd + NONCE_BYTES),
      body: buf.subarray(keySectionEnd + NONCE_BYTES, tagStart),
      tag: buf.subarray(tagStart),
    };
    payloadViews.set(buf, views);
    return views;
  }

  /** Opens the payload with its data key. */
  function decrypt(buf: Buffer, keySectionEnd: number, aad: Buffer, key: KeyObject): Buffer {
    const { nonce, body, tag } = payloadOf(buf, keySectionEnd);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const plain = decipher.update(body);
    try {
      decipher.final();
    } catch {
      plain.fill(0);
      throw new ByokError('seal_invalid', 'Sealed value does not open for this context (moved or tampered with)');
    }
    counters.opens++;
    return plain;
  }

  async function openSlow(buf: Buffer, ctx: SealContext): Promise<Buffer> {
    const env = parseEnvelope(buf);
    const aad = writePayloadAadPrefix(encodeSealContext(ctx, PAYLOAD_AAD_PREFIX));
    const key = await unwrapKey(buf, env, ctx, aad);
    return decrypt(buf, env.keySectionEnd, aad, key);
  }

  async function seal(plaintext: Uint8Array | string, ctx: SealContext): Promise<Buffer> {
    const aad = writePayloadAadPrefix(encodeSealContext(ctx, PAYLOAD_AAD_PREFIX));
    const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    if (!(data instanceof Uint8Array)) throw new ByokError('bad_request', 'seal: plaintext must be a string or bytes');
    const driver = primaryDriver;
    checkMinimum(driver);
    const maybeRef = driver.primaryKey();
    const ref = typeof (maybeRef as Partial<PromiseLike<KmsKeyRef>>).then === 'function' ? await maybeRef : (maybeRef as KmsKeyRef);
    const keyHeader = keyHeaderFor(driver, ref);
    const context = new SealKmsContext(kmsAad(keyHeader, aad.subarray(PAYLOAD_AAD_PREFIX)), ctx);
    let dek: Buffer;
    let nonce: Buffer;
    let wrapped: Uint8Array;
    try {
      if (driver.generateDataKey !== undefined) {
        counters.kmsGenerates++;
        const generated = await kmsCall('generate_data_key', driver.id, () => driver.generateDataKey!(ref, context));
        dek = generated.plaintext;
        wrapped = generated.wrapped;
        nonce = random(NONCE_BYTES);
        if (dek.length !== DEK_BYTES) {
          dek.fill(0);
          throw new ByokError('kms_error', 'KMS returned a data key of the wrong size');
        }
      } else {
        const fresh = random(DEK_BYTES + NONCE_BYTES);
        dek = fresh.subarray(0, DEK_BYTES);
        nonce = fresh.subarray(DEK_BYTES);
        counters.kmsWraps++;
        try {
          wrapped = await kmsCall('wrap', driver.id, () => driver.wrap(dek, ref, context));
        } catch (error) {
          dek.fill(0);
          throw error;
        }
      }
    } catch (error) {
      if (typeof plaintext === 'string') (data as Buffer).fill(0);
      throw error;
    }
    const key = cache !== undefined && cacheOnSeal ? createSecretKey(dek) : undefined;
    const cipher = createCipheriv('aes-256-gcm', key ?? dek, nonce, { authTagLength: TAG_BYTES });
    dek.fill(0);
    cipher.setAAD(aad);
    const body = cipher.update(data);
    cipher.final();
    const sealed = assembleEnvelope(keyHeader, wrapped, [nonce, body, cipher.getAuthTag()]);
    if (typeof plaintext === 'string') (data as Buffer).fill(0);
    if (key !== undefined) {
      const keySectionEnd = keyHeader.length + 2 + wrapped.length;
      cache!.store(cacheSlotOf(sealed), sealed.subarray(0, keySectionEnd), aad, key, {
        driverId: driver.id,
        keyId: ref.keyId,
        keyVersion: ref.version,
        purpose: ctx.purpose,
        userId: ctx.userId,
        subject: ctx.provider ?? ctx.tokenKind ?? '',
        recordId: ctx.recordId,
      });
    }
    counters.seals++;
    return sealed;
  }

  // Not `async`: a warm-cache open resolves without an extra asynchronous hop, without
  // decoding the header or re-encoding the context (the entry is verified byte for byte).
  function open(sealed: Uint8Array, ctx: SealContext): Promise<Buffer> {
    try {
      const buf = asBuffer(sealed);
      const { keySectionEnd } = envelopeOffsets(buf);
      const hit = lookupCache(buf, keySectionEnd, ctx);
      if (hit !== undefined) {
        // A shared cache may hold keys of drivers or keys this sealer is not configured with.
        driverFor(hit.info.driverId).selectKey(hit.info.keyId, hit.info.keyVersion);
        return Promise.resolve(decrypt(buf, keySectionEnd, hit.aad, hit.key));
      }
      return openSlow(buf, ctx);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async function rewrap(sealed: Uint8Array, ctx: SealContext): Promise<Buffer | null> {
    const buf = asBuffer(sealed);
    const env = parseEnvelope(buf);
    const ref = await resolvePrimary();
    if (env.driverId === primaryDriver.id && env.keyId === ref.keyId && env.keyVersion === ref.version) return null;
    const aad = writePayloadAadPrefix(encodeSealContext(ctx, PAYLOAD_AAD_PREFIX));
    const key = lookupCache(buf, env.keySectionEnd, ctx)?.key ?? (await unwrapKey(buf, env, ctx, aad));
    const dek = key.export();
    const keyHeader = keyHeaderFor(primaryDriver, ref);
    const context = new SealKmsContext(kmsAad(keyHeader, aad.subarray(PAYLOAD_AAD_PREFIX)), ctx);
    let wrapped: Uint8Array;
    counters.kmsWraps++;
    try {
      wrapped = await kmsCall('wrap', primaryDriver.id, () => primaryDriver.wrap(dek, ref, context));
    } finally {
      dek.fill(0);
    }
    const out = assembleEnvelope(keyHeader, wrapped, [buf.subarray(env.keySectionEnd)]);
    if (cache !== undefined) {
      cache.evict((info) => info.recordId === ctx.recordId && info.driverId === env.driverId && info.keyId === env.keyId && info.keyVersion === env.keyVersion);
      if (cacheOnSeal) {
        const info = cacheInfo({ driverId: primaryDriver.id, keyId: ref.keyId, keyVersion: ref.version }, ctx);
        cache.store(cacheSlotOf(out), out.subarray(0, keyHeader.length + 2 + wrapped.length), aad, key, info);
      }
    }
    counters.rewraps++;
    return out;
  }

  function keyVersionOf(sealed: Uint8Array): SealedKeyInfo {
    const env = parseEnvelope(asBuffer(sealed));
    return { formatVersion: env.formatVersion, driverId: env.driverId, keyId: env.keyId, keyVersion: env.keyVersion };
  }

  const sealer: Sealer = {
    drivers,
    seal,
    open,
    rewrap,
    keyVersionOf,
    async isPrimary(sealed) {
      const info = keyVersionOf(sealed);
      const ref = await resolvePrimary();
      return info.driverId === primaryDriver.id && info.keyId === ref.keyId && info.keyVersion === ref.version;
    },
    async primaryKey() {
      const ref = await resolvePrimary();
      return { driverId: primaryDriver.id, keyId: ref.keyId, version: ref.version };
    },
    evict: (predicate) => cache?.evict(predicate) ?? 0,
    evictUser: (userId) => cache?.evict((info) => info.userId === userId) ?? 0,
    evictRecord: (recordId) => cache?.evict((info) => info.recordId === recordId) ?? 0,
    stats() {
      const c = cache?.stats() ?? { hits: 0, misses: 0, evictions: 0, size: 0 };
      return { ...counters, cacheHits: c.hits, cacheMisses: c.misses, cacheEvictions: c.evictions, cacheSize: c.size };
    },
    sealOAuthToken: (token, ref) => seal(token, oauthContext(ref)),
    async openOAuthToken(sealedToken, ref) {
      const plain = await open(sealedToken, oauthContext(ref));
      const text = plain.toString('utf8');
      plain.fill(0);
      return text;
    },
    sealSigningKey: (privateKey, ref) => seal(privateKey, signingKeyContext(ref)),
    async openSigningKey(sealedKey, ref) {
      const plain = await open(sealedKey, signingKeyContext(ref));
      const text = plain.toString('utf8');
      plain.fill(0);
      return text;
    },
    async close() {
      cache?.flush();
      for (const driver of drivers) await driver.close?.();
    },
  };
  return sealer;
}

/** Views into the payload section of one sealed value, for the key section ending at `keySectionEnd`. */
interface PayloadViews {
  readonly keySectionEnd: number;
  readonly nonce: Buffer;
  readonly body: Buffer;
  readonly tag: Buffer;
}

/** The KMS context of one seal: `aad` bytes, plus the string map built only if a driver asks. */
class SealKmsContext implements KmsContext {
  readonly aad: Buffer;
  private readonly ctx: SealContext;
  private map: Readonly<Record<string, string>> | undefined;

  constructor(aad: Buffer, ctx: SealContext) {
    this.aad = aad;
    this.ctx = ctx;
  }

  get encryptionContext(): Readonly<Record<string, string>> {
    if (this.map === undefined) this.map = Object.freeze({ ...sealContextFields(this.ctx), aad: this.aad.toString('base64') });
    return this.map;
  }
}

function oauthContext(ref: OAuthTokenRef): SealContext {
  return { purpose: 'oauth_token', userId: ref.userId, tokenKind: ref.tokenKind, recordId: ref.recordId };
}

function signingKeyContext(ref: SigningKeyRef): SealContext {
  return { purpose: 'signing_key', userId: '', recordId: ref.kid };
}

function asBuffer(value: Uint8Array): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (!(value instanceof Uint8Array)) throw new ByokError('bad_request', 'Sealed value must be bytes');
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function isDekCache(value: unknown): value is DekCache {
  return typeof value === 'object' && value !== null && typeof (value as DekCache).lookup === 'function' && typeof (value as DekCache).evict === 'function';
}

/** A KMS call as a client span (the driver and the operation; never the key material). */
function kmsCall<T>(operation: 'wrap' | 'unwrap' | 'generate_data_key', driver: string, call: () => Promise<T>): Promise<T> {
  return withSpan(`kms ${operation}`, { 'byok.kms.driver': driver, 'byok.kms.operation': operation }, call, 'client');
}
