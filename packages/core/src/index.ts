// @byok/core — what a host uses: createByok, the errors, the driver factories and the
// plug-in interfaces with their types. Every export is listed by name. The adapter kit is
// `@byok/core/http`, the store contract `@byok/core/store`, the provider-author kit
// `@byok/core/llm`, the KMS-author kit `@byok/core/kms` and the audit-verifier kit
// `@byok/core/audit`; everything else is internal. `api/core.api.md` is the reviewed list
// (`node scripts/api-report.mjs --update` after a deliberate change).

// The composition root.
export { createByok } from './byok';
export type { Byok, ByokOptions, DatabaseOption, ByokRedisClient, RateLimitsOption } from './byok';

// Errors.
export { ByokError, isByokError, ERROR_CODES } from './errors';
export type { ByokErrorCode, ByokErrorOptions, TrpcCode } from './errors';

// Driver factories: KMS, sign-in issuers, audit checkpoint sinks and keys.
export { localKms } from './kms/local-kms';
export type { LocalKms, LocalKmsOptions } from './kms/local-kms';
export { generateLocalKeyFile } from './kms/local-key-file';
export type { GenerateLocalKeyFileOptions, LocalKeyFileResult } from './kms/local-key-file';
export { google, oidc, isLoopbackHost } from './auth/issuers';
export type { OidcIssuerConfig, GoogleIssuerOptions, GenericIssuerOptions } from './auth/issuers';
export { fileCheckpointSink } from './audit/file-checkpoint-sink';
export { loggerCheckpointSink } from './audit/logger-checkpoint-sink';
export type { AuditCheckpointLogger } from './audit/logger-checkpoint-sink';
export { generateAuditCheckpointKeys, readAuditCheckpointFile } from './audit/audit-checkpoint';
export type { AuditCheckpoint, SignedAuditCheckpoint, AuditCheckpointKey } from './audit/audit-checkpoint';
export { defineAuditActions, auditActions } from './audit/audit-actions';
export type { AuditMetadataSchema, AuditActionRegistry, BuiltInAuditAction } from './audit/audit-actions';
export { systemClock } from './util/clock';
export type { Clock } from './util/clock';
export type { Logger } from './util/logger';

// Plug-in interfaces and their types.
export type { KmsDriver, KmsKeyRef, KmsContext, GeneratedDataKey, KmsKeyInfo } from './kms/kms-driver';
export type {
  LlmProvider,
  CallOptions,
  ValidateKeyOptions,
  KeyValidation,
  LlmMessage,
  ToolDefinition,
  GenerateRequest,
  TokenUsage,
  FinishReason,
  ToolCall,
  GenerateResult,
  StreamEvent,
  ModelInfo,
} from './llm/llm-provider';
export type { TextPart, ToolCallPart, ToolResultPart, MessagePart, MessageRole } from './llm/message-parts';
export type { AuditCheckpointSink } from './audit/audit-checkpoint-sink';
export type { RedisEvalClient } from './http/rate-limit/redis-rate-limit-store';
export type { RedisSetClient } from './auth/redis-login-marker-store';
export type { RedisPubSubClient, RedisSubscriber } from './auth/session-revocation-bus';

// The options of createByok and the services on a Byok (types only: byok builds them).
export type { AuthService } from './auth/auth-service';
export type { AuthOptions, AuthJwtOptions } from './auth/auth-options';
export type { SessionTokens, SessionInfo } from './auth/session-manager';
export type { LoginCompletion, StartLoginOptions } from './auth/login-flow';
export type { SigningAlg, Jwks, PublicJwk } from './auth/signing-keys';
export type { LinkingOptions } from './auth/account-linking';
export type { TrustProxy, TrustProxyFunction } from './http/client-ip';
export type { Authenticate, AuthenticateIntent, HttpSurface } from './http/http-handler';
export type { AuthContext, RequestMeta } from './http/types';
export type { RateLimiter, RateLimitClass, RateLimitRule, StreamLimitRule, RateLimiterOptions, RateLimitSubject } from './http/rate-limit/rate-limiter';
export type { RateLimitResult, ConcurrencyLease } from './http/rate-limit/rate-limit-store';
export type { UsersService, UserProfile, IdentityClaims, UsersOptions, ProfilePatch } from './users/users-service';
export type { Preferences, PreferencesPatch } from './users/preferences-schema';
export type { KeyVault, KeyStatus, KeyTestResult, KeyVaultOptions } from './vault/key-vault';
export type { DekCacheOptions, DekCacheEntryInfo, DekCacheStats } from './vault/dek-cache';
export type { Sealer, SealerStats, SealedKeyInfo, OAuthTokenRef, SigningKeyRef } from './vault/sealer';
export type { SealContext, SealPurpose, OAuthTokenKind } from './vault/seal-context';
export type { AuditService, AuditRecordInput, AuditEntry, AuditListOptions, AuditCheckpointOptions } from './audit/audit-service';
export type { AuditVerifyReason, AuditVerifyProblem, AuditVerifyReport, AuditVerifyOptions } from './audit/audit-verifier';
export type { ByokEventBus, ByokEvents, ByokEventName } from './util/events';
export type { ChatEvent, UiMessageChunk, ChatRunHub, JsonValue } from './chat/chat-events';
export type { MemoryOptions } from './chat/sealed-content';
export type { ChatUsageReport } from './chat/chat-run';
export type { Page, PageInput } from './util/cursor';
