import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ByokError } from '../errors';
import { KMS_DRIVER_ID_PATTERN, type KmsContext, type KmsDriver, type KmsKeyInfo, type KmsKeyRef } from './kms-driver';
import { parseMasterKeys } from './local-master-keys';

/** Options of {@link localKms}. Give `keys` or `keyFile`; without either, the environment is read. */
export interface LocalKmsOptions {
  /** Master keys in the `BYOK_MASTER_KEYS` format: `2:<base64>,1:<base64>` (32-byte keys). */
  keys?: string;
  /** A file holding master keys in the same format (one entry per line, `#` comments). */
  keyFile?: string;
  /** Key id written into sealed values (default `master`). */
  keyId?: string;
  /** Oldest version that may still be unwrapped (default: all configured versions). */
  minimumVersion?: number;
  /** Where `BYOK_MASTER_KEYS` / `BYOK_MASTER_KEY_FILE` are read when neither option is given (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The local driver: {@link KmsDriver} plus its version controls. */
export interface LocalKms extends KmsDriver {
  readonly id: 'local';
  readonly keyId: string;
  /** Configured versions, newest (primary) first. */
  readonly versions: readonly number[];
  readonly minimumVersion: number;
  /** Retires versions below `version` (must be at most the primary version). */
  setMinimumVersion(version: number): void;
  /** The primary key, known locally (no asynchronous hop). */
  primaryKey(): KmsKeyRef;
  listKeys(): Promise<KmsKeyInfo[]>;
}

/** @internal Source of wrap nonces; tests pass a fixed one (import by path, not from the package index). */
export type NonceSource = (size: number) => Buffer;

const WRAP_NONCE_BYTES = 12;
const WRAP_TAG_BYTES = 16;

/**
 * The embedded KMS: versioned 256-bit master keys held in the process, from
 * `BYOK_MASTER_KEYS` (`2:<base64>,1:<base64>`) or a key file. The highest version is
 * primary; older ones still unwrap until `minimumVersion` retires them. A wrapped data
 * key is `nonce(12) ‖ AES-256-GCM(master, dek, aad) ‖ tag(16)`. Missing, short or
 * malformed keys fail at start-up with `config_invalid` (the message never shows key
 * material).
 *
 * @example
 * const kms = localKms({ keys: process.env.BYOK_MASTER_KEYS });
 * const kmsFromFile = localKms({ keyFile: 'data/master-keys' });
 */
export function localKms(options: LocalKmsOptions = {}): LocalKms {
  return createLocalKms(options, randomBytes);
}

/** @internal `localKms` with an explicit nonce source (test vectors). Not exported from the index. */
export function createLocalKms(options: LocalKmsOptions, nonceSource: NonceSource): LocalKms {
  const keyId = options.keyId ?? 'master';
  if (typeof keyId !== 'string' || keyId.length === 0 || Buffer.byteLength(keyId) > 255) {
    throw new ByokError('config_invalid', 'localKms: keyId must be 1–255 bytes');
  }
  const parsed = loadMasterKeys(options);
  const keys = new Map<number, KeyObject>();
  for (const { version, material } of parsed) {
    keys.set(version, createSecretKey(material));
    material.fill(0);
  }
  const versions = parsed.map((k) => k.version);
  const primaryVersion = versions[0]!;
  const primary: KmsKeyRef = Object.freeze({ keyId, version: primaryVersion });
  const refs = new Map<number, KmsKeyRef>(versions.map((v) => [v, v === primaryVersion ? primary : Object.freeze({ keyId, version: v })]));
  let minimumVersion = validateMinimum(options.minimumVersion ?? versions[versions.length - 1]!, primaryVersion);

  function keyFor(ref: KmsKeyRef): KeyObject {
    const selected = select(ref.keyId, ref.version);
    return keys.get(selected.version)!;
  }

  function select(wantedKeyId: string, version: number): KmsKeyRef {
    if (wantedKeyId !== keyId) throw new ByokError('kms_key_unknown', 'Sealed value names a local key id that is not configured');
    const ref = refs.get(version);
    if (ref === undefined) {
      throw new ByokError('kms_key_unknown', `Local master key version ${version} is not configured`, { details: { version } });
    }
    if (version < minimumVersion) {
      throw new ByokError('kms_key_unknown', `Local master key version ${version} is below the minimum version ${minimumVersion}`, {
        details: { version, minimumVersion },
      });
    }
    return ref;
  }

  const driver: LocalKms = {
    id: 'local',
    keyId,
    versions,
    get minimumVersion() {
      return minimumVersion;
    },
    setMinimumVersion(version: number) {
      minimumVersion = validateMinimum(version, primaryVersion);
    },
    primaryKey: () => primary,
    selectKey: select,
    async wrap(dek: Uint8Array, ref: KmsKeyRef, context: KmsContext): Promise<Uint8Array> {
      return wrapSync(keyFor(ref), dek, context.aad, nonceSource);
    },
    async unwrap(wrapped: Uint8Array, ref: KmsKeyRef, context: KmsContext): Promise<Buffer> {
      return unwrapSync(keyFor(ref), wrapped, context.aad);
    },
    async listKeys(): Promise<KmsKeyInfo[]> {
      return versions.map((version) => ({
        keyId,
        version,
        primary: version === primaryVersion,
        state: version < minimumVersion ? 'retired' : 'active',
      }));
    },
  };
  if (!KMS_DRIVER_ID_PATTERN.test(driver.id)) throw new ByokError('internal', 'localKms: bad driver id');
  return driver;
}

function wrapSync(master: KeyObject, dek: Uint8Array, aad: Buffer, nonceSource: NonceSource): Buffer {
  const out = Buffer.allocUnsafe(WRAP_NONCE_BYTES + dek.length + WRAP_TAG_BYTES);
  const nonce = nonceSource(WRAP_NONCE_BYTES);
  if (nonce.length !== WRAP_NONCE_BYTES) throw new ByokError('internal', 'localKms: nonce source returned the wrong size');
  nonce.copy(out, 0);
  const cipher = createCipheriv('aes-256-gcm', master, nonce, { authTagLength: WRAP_TAG_BYTES });
  cipher.setAAD(aad);
  const body = cipher.update(dek);
  body.copy(out, WRAP_NONCE_BYTES);
  cipher.final();
  cipher.getAuthTag().copy(out, WRAP_NONCE_BYTES + body.length);
  body.fill(0);
  return out;
}

function unwrapSync(master: KeyObject, wrapped: Uint8Array, aad: Buffer): Buffer {
  if (wrapped.length <= WRAP_NONCE_BYTES + WRAP_TAG_BYTES) {
    throw new ByokError('seal_invalid', 'Wrapped data key is malformed or has been tampered with');
  }
  const view = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
  const decipher = createDecipheriv('aes-256-gcm', master, view.subarray(0, WRAP_NONCE_BYTES), { authTagLength: WRAP_TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(view.subarray(view.length - WRAP_TAG_BYTES));
  const dek = decipher.update(view.subarray(WRAP_NONCE_BYTES, view.length - WRAP_TAG_BYTES));
  try {
    decipher.final();
  } catch {
    dek.fill(0);
    throw new ByokError('seal_invalid', 'Wrapped data key does not verify under this key and context');
  }
  return dek;
}

function loadMasterKeys(options: LocalKmsOptions) {
  if (options.keys !== undefined && options.keyFile !== undefined) {
    throw new ByokError('config_invalid', 'localKms: give either keys or keyFile, not both');
  }
  if (options.keys !== undefined) return parseMasterKeys(options.keys, 'localKms keys');
  const env = options.env ?? process.env;
  const keyFile = options.keyFile ?? (env.BYOK_MASTER_KEYS === undefined ? env.BYOK_MASTER_KEY_FILE : undefined);
  if (keyFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(keyFile, 'utf8');
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new ByokError('config_invalid', `localKms: cannot read the key file ${keyFile} (${typeof code === 'string' ? code : 'error'})`);
    }
    return parseMasterKeys(text, `key file ${keyFile}`);
  }
  if (env.BYOK_MASTER_KEYS !== undefined) return parseMasterKeys(env.BYOK_MASTER_KEYS, 'BYOK_MASTER_KEYS');
  throw new ByokError(
    'config_invalid',
    'localKms has no master keys: set BYOK_MASTER_KEYS (e.g. "1:<base64 of 32 random bytes>"), BYOK_MASTER_KEY_FILE, or pass { keys } / { keyFile } (generateLocalKeyFile(path) creates one)',
  );
}

function validateMinimum(version: number, primaryVersion: number): number {
  if (!Number.isInteger(version) || version < 0 || version > primaryVersion) {
    throw new ByokError('config_invalid', `localKms: minimumVersion must be an integer no greater than the primary version ${primaryVersion}`);
  }
  return version;
}
