// @byok/core/kms — the KMS-author kit: the KmsDriver interface with its types, bounded
// retries for a driver's calls, and the envelope sealer a driver is tested under. Listed
// by name; `api/core.api.md` is the reviewed list.

export type { KmsDriver, KmsKeyRef, KmsContext, GeneratedDataKey, KmsKeyInfo } from './kms-driver';
export { KMS_DRIVER_ID_PATTERN, listKmsKeys } from './kms-driver';
export { callKmsWithRetry, resolveKmsRetry } from './kms-retry';
export type { KmsRetryOptions, ResolvedKmsRetry, KmsFailure } from './kms-retry';

// Envelope encryption over a driver: what `byok.sealer` is, built directly.
export { createSealer } from '../vault/sealer';
export type { Sealer, SealerOptions, SealerStats, SealedKeyInfo, OAuthTokenRef, SigningKeyRef } from '../vault/sealer';
export type { SealContext, SealPurpose, OAuthTokenKind } from '../vault/seal-context';
export type { DekCacheOptions, DekCacheEntryInfo, DekCacheStats } from '../vault/dek-cache';
