import { ByokError } from '../errors';

/**
 * The binary layout of a sealed value, format version 1 (docs/security/envelope-format.md):
 *
 * ```
 * key section  (rewritten by rewrap)            payload section (never rewritten)
 * ┌────┬────┬────────┬────┬────────┬─────────┬────────┬─────────┬──────────┬────────────┬─────┐
 * │ 01 │ dl │ driver │ kl │ key id │ version │ wl(u16)│ wrapped │ nonce 12 │ ciphertext │ tag │
 * └────┴────┴────────┴────┴────────┴─────────┴────────┴─────────┴──────────┴────────────┴─────┘
 *  1    1    dl       1    kl       4 (u32)   2        wl        12         n            16
 * ```
 *
 * The "key header" is everything before `wl`: format version, driver id, key id, key
 * version. It is known before the KMS is called and is the header bound into the KMS
 * context; the wrapped key is authenticated by the KMS itself.
 */
export const ENVELOPE_FORMAT_V1 = 1;
export const DEK_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const MAX_DRIVER_ID_BYTES = 32;
export const MAX_KEY_ID_BYTES = 255;
export const MAX_WRAPPED_BYTES = 0xffff;

/** Where the sections of a sealed value start and end (offsets into the original buffer). */
export interface EnvelopeOffsets {
  /** End of the key header (start of the wrapped-key length). */
  readonly keyHeaderEnd: number;
  /** Start of the wrapped key. */
  readonly wrappedStart: number;
  /** End of the key section (start of the nonce). */
  readonly keySectionEnd: number;
}

/** A parsed sealed value: its key reference and offsets, no copies of the bytes. */
export interface ParsedEnvelope extends EnvelopeOffsets {
  readonly formatVersion: number;
  readonly driverId: string;
  readonly keyId: string;
  readonly keyVersion: number;
}

/**
 * Encodes the key header: `01 ‖ len ‖ driver id ‖ len ‖ key id ‖ uint32 BE version`.
 * Throws `config_invalid` for ids that do not fit (checked when drivers are configured).
 */
export function encodeKeyHeader(driverId: string, keyId: string, version: number): Buffer {
  const dl = Buffer.byteLength(driverId, 'latin1');
  const kl = Buffer.byteLength(keyId, 'utf8');
  if (dl < 1 || dl > MAX_DRIVER_ID_BYTES) throw new ByokError('config_invalid', 'KMS driver id must be 1–32 characters');
  if (kl < 1 || kl > MAX_KEY_ID_BYTES) throw new ByokError('config_invalid', 'KMS key id must be 1–255 bytes');
  if (!Number.isInteger(version) || version < 0 || version > 0xffffffff) {
    throw new ByokError('config_invalid', 'KMS key version must be an integer from 0 to 4294967295');
  }
  const out = Buffer.allocUnsafe(3 + dl + kl + 4);
  out[0] = ENVELOPE_FORMAT_V1;
  out[1] = dl;
  out.write(driverId, 2, 'latin1');
  out[2 + dl] = kl;
  out.write(keyId, 3 + dl, 'utf8');
  out.writeUInt32BE(version, 3 + dl + kl);
  return out;
}

/**
 * Finds the sections of a sealed value without decoding any field. Throws
 * `seal_unsupported` for an unknown format version and `seal_invalid` for anything
 * malformed or truncated.
 */
export function envelopeOffsets(sealed: Buffer): EnvelopeOffsets {
  const len = sealed.length;
  if (len < 1) throw invalid();
  const formatVersion = sealed[0]!;
  if (formatVersion !== ENVELOPE_FORMAT_V1) {
    throw new ByokError('seal_unsupported', 'Sealed value has an unsupported format version', { details: { formatVersion } });
  }
  if (len < 2) throw invalid();
  const dl = sealed[1]!;
  if (dl < 1 || dl > MAX_DRIVER_ID_BYTES || len < 3 + dl) throw invalid();
  const kl = sealed[2 + dl]!;
  const keyHeaderEnd = 3 + dl + kl + 4;
  if (kl < 1 || len < keyHeaderEnd + 2) throw invalid();
  const wl = (sealed[keyHeaderEnd]! << 8) | sealed[keyHeaderEnd + 1]!;
  const wrappedStart = keyHeaderEnd + 2;
  const keySectionEnd = wrappedStart + wl;
  if (wl < 1 || len < keySectionEnd + NONCE_BYTES + TAG_BYTES) throw invalid();
  return { keyHeaderEnd, wrappedStart, keySectionEnd };
}

/** Reads the header of a sealed value (key reference and offsets) without copying. Errors as {@link envelopeOffsets}. */
export function parseEnvelope(sealed: Buffer): ParsedEnvelope {
  const offsets = envelopeOffsets(sealed);
  const dl = sealed[1]!;
  const kl = sealed[2 + dl]!;
  return {
    formatVersion: sealed[0]!,
    driverId: sealed.toString('latin1', 2, 2 + dl),
    keyId: sealed.toString('utf8', 3 + dl, 3 + dl + kl),
    keyVersion: sealed.readUInt32BE(3 + dl + kl),
    keyHeaderEnd: offsets.keyHeaderEnd,
    wrappedStart: offsets.wrappedStart,
    keySectionEnd: offsets.keySectionEnd,
  };
}

/**
 * The data-key cache slot of a sealed value: 48 bits of its payload tag (random-looking
 * and authenticated). A slot only finds candidates; entries are verified byte for byte.
 */
export function cacheSlotOf(sealed: Buffer): number {
  return sealed.readUIntBE(sealed.length - 6, 6);
}

/** Writes a whole sealed value: key header, wrapped key, nonce, ciphertext, tag. */
export function assembleEnvelope(keyHeader: Buffer, wrapped: Uint8Array, payload: readonly Uint8Array[]): Buffer {
  if (wrapped.length < 1 || wrapped.length > MAX_WRAPPED_BYTES) {
    throw new ByokError('kms_error', 'KMS returned a wrapped key of unusable length');
  }
  let size = keyHeader.length + 2 + wrapped.length;
  for (const part of payload) size += part.length;
  const out = Buffer.allocUnsafe(size);
  let at = keyHeader.copy(out, 0);
  at = out.writeUInt16BE(wrapped.length, at);
  out.set(wrapped, at);
  at += wrapped.length;
  for (const part of payload) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * The KMS context bytes: `uint16 BE len(key header) ‖ key header ‖ context fields`,
 * where `contextFields` is the encoded seal context (see `encodeSealContext`).
 */
export function kmsAad(keyHeader: Uint8Array, contextFields: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(2 + keyHeader.length + contextFields.length);
  out.writeUInt16BE(keyHeader.length, 0);
  out.set(keyHeader, 2);
  out.set(contextFields, 2 + keyHeader.length);
  return out;
}

/**
 * Bytes reserved before the context fields in the payload AAD:
 * `uint16 BE 1 ‖ format version` (the payload header, which rewrap never changes).
 */
export const PAYLOAD_AAD_PREFIX = 3;

/** Fills the payload-AAD prefix of a buffer made by `encodeSealContext(ctx, PAYLOAD_AAD_PREFIX)`. */
export function writePayloadAadPrefix(buffer: Buffer): Buffer {
  buffer[0] = 0;
  buffer[1] = 1;
  buffer[2] = ENVELOPE_FORMAT_V1;
  return buffer;
}

function invalid(): ByokError {
  return new ByokError('seal_invalid', 'Sealed value is malformed or has been tampered with');
}
