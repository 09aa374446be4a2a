import { createHash } from 'node:crypto';

/**
 * A short, stable fingerprint of an API key for display and duplicate detection:
 * the first 16 hex digits of SHA-256("byok-key-fp-v1" ‖ 0x00 ‖ key). Provider keys are
 * high-entropy, so this confirms a key someone already holds without revealing it.
 */
export function keyFingerprint(apiKey: string): string {
  return createHash('sha256').update('byok-key-fp-v1\0').update(apiKey, 'utf8').digest('hex').slice(0, 16);
}

/** The last four characters, the only part of a key byok ever shows. */
export function keyLast4(apiKey: string): string {
  return apiKey.slice(-4);
}
