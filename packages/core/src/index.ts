// @byok/core public surface. Every export is listed by name (no `export *` of internals).
export { ByokError, isByokError, toByokError, ERROR_CODES } from './errors';
export type { ByokErrorCode, ByokErrorOptions, TrpcCode } from './errors';
export { sanitize, sanitizeString, isSecretName, REDACTED } from './util/sanitize';
export { uuidv7, isUuid } from './util/ids';
export { systemClock } from './util/clock';
export type { Clock } from './util/clock';
export { pageInput, pageOutput, encodeCursor, decodeCursor } from './util/cursor';
export type { Page, PageInput } from './util/cursor';
export type {
  Store,
  StoreDialect,
  MigrationReport,
  MigrationStatus,
  UserRow,
  IdentityRow,
  UserPatch,
  UsersRepository,
  PreferencesRow,
  PreferencesRepository,
  AuditOutcome,
  AuditRow,
  AuditPersonalRow,
  AuditHead,
  AuditAppendInput,
  AuditListQuery,
  AuditRepository,
} from './store/store';
export {
  textPartSchema,
  toolCallPartSchema,
  toolResultPartSchema,
  messagePartSchema,
  messagePartsSchema,
  messageRoleSchema,
  partsText,
} from './llm/message-parts';
export type { TextPart, ToolCallPart, ToolResultPart, MessagePart, MessageRole } from './llm/message-parts';
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
export { providerError, keyValidationFromFailure, failureFromThrown, scrubSecrets, scrubText } from './llm/provider-errors';
export type { ProviderFailure } from './llm/provider-errors';
export { startCallDeadline } from './llm/call-deadline';
export type { CallDeadline, CallDeadlineOptions } from './llm/call-deadline';
export { parseRetryAfter, parseDurationMs } from './llm/retry-after';
export type { KmsDriver, KmsKeyRef, KmsContext, GeneratedDataKey, KmsKeyInfo } from './kms/kms-driver';
export { KMS_DRIVER_ID_PATTERN, listKmsKeys } from './kms/kms-driver';
export { callKmsWithRetry, resolveKmsRetry } from './kms/kms-retry';
export type { KmsRetryOptions, ResolvedKmsRetry, KmsFailure } from './kms/kms-retry';
export { localKms } from './kms/local-kms';
export type { LocalKms, LocalKmsOptions } from './kms/local-kms';
export { parseMasterKeys } from './kms/local-master-keys';
export type { LocalMasterKey } from './kms/local-master-keys';
export { generateLocalKeyFile } from './kms/local-key-file';
export type { GenerateLocalKeyFileOptions, LocalKeyFileResult } from './kms/local-key-file';
export { createSealer } from './vault/sealer';
export type { Sealer, SealerOptions, SealerStats, SealedKeyInfo, OAuthTokenRef, SigningKeyRef } from './vault/sealer';
export { createDekCache } from './vault/dek-cache';
export type { DekCache, DekCacheOptions, DekCacheEntryInfo, DekCacheStats, DekCacheHit } from './vault/dek-cache';
export type { SealContext, SealPurpose, OAuthTokenKind } from './vault/seal-context';
export { createStore } from './store/create-store';
export type { CreateStoreOptions } from './store/create-store';
export { connectDatabase, detectDialect } from './store/kysely/connect';
export type { DatabaseConfig, SqlDialect, ConnectOptions, OpenedDatabase } from './store/kysely/connect';
export { KyselyStore } from './store/kysely/kysely-store';
export { MemoryStore } from './store/memory/memory-store';
export { MEMORY_STATE } from './store/memory/memory-state';
export type { MemoryStoreState } from './store/memory/memory-state';
export { migrations } from './store/migrations';
export type { Migration, MigrationContext, PortableTypes } from './store/migrations/migration';
export { canonicalJson } from './audit/canonical-json';
export type { CanonicalJsonValue } from './audit/canonical-json';
export {
  SYSTEM_CHAIN,
  AUDIT_CHAIN_VERSION,
  auditChainName,
  auditChainOwner,
  auditGenesisHash,
  auditRowHash,
  auditHashedFields,
  auditPersonalHmac,
} from './audit/audit-chain';
export type { AuditHashedFields } from './audit/audit-chain';
export { auditActions, defineAuditActions, allowListAuditMetadata } from './audit/audit-actions';
export type { AuditMetadataSchema, AuditActionRegistry, BuiltInAuditAction } from './audit/audit-actions';
export {
  generateAuditCheckpointKeys,
  signAuditCheckpoint,
  verifyAuditCheckpoint,
  auditCheckpointKeyId,
  auditCheckpointSigningInput,
  serializeAuditCheckpoint,
  parseAuditCheckpoints,
  readAuditCheckpointFile,
} from './audit/audit-checkpoint';
export type { AuditCheckpoint, SignedAuditCheckpoint, AuditCheckpointKey } from './audit/audit-checkpoint';
export type { AuditCheckpointSink } from './audit/audit-checkpoint-sink';
export { fileCheckpointSink } from './audit/file-checkpoint-sink';
export { loggerCheckpointSink } from './audit/logger-checkpoint-sink';
export type { AuditCheckpointLogger } from './audit/logger-checkpoint-sink';
export { verifyAuditTrail } from './audit/audit-verifier';
export type { AuditVerifyReason, AuditVerifyProblem, AuditVerifyReport, AuditVerifyOptions } from './audit/audit-verifier';
export { AuditService } from './audit/audit-service';
export type {
  AuditRecordInput,
  AuditEntry,
  AuditListOptions,
  AuditCheckpointOptions,
  AuditServiceLogger,
  AuditServiceOptions,
} from './audit/audit-service';
export { runAuditVerify } from './cli/audit-command';
export type { AuditCommandContext, CommandOutput } from './cli/audit-command';
export { createByok } from './byok';
export type { Byok, ByokOptions, DatabaseOption } from './byok';
export { safeLogger, silentLogger } from './util/logger';
export type { Logger } from './util/logger';
export { ByokEventBus } from './util/events';
export type { ByokEvents, ByokEventName } from './util/events';
export { UsersService, userProfileSchema } from './users/users-service';
export type { UserProfile, IdentityClaims, UsersOptions, ProfilePatch, UsersAuditRecorder } from './users/users-service';
export { preferencesSchema, preferencesPatch, languageTag, timeZone, DEFAULT_PREFERENCES } from './users/preferences-schema';
export type { Preferences, PreferencesPatch } from './users/preferences-schema';
export { usersOperations } from './users/users-operations';
export { auditOperations } from './audit/audit-operations';
export { defineOperation } from './http/operation';
export type {
  Operation,
  JsonOperation,
  EmptyOperation,
  RawOperation,
  OperationContext,
  AuthRequirement,
  HttpMethod,
} from './http/operation';
export { createHttpSurface, errorResponse, validationError, INVALID_JSON } from './http/http-handler';
export type { HttpSurface, HttpHandlerOptions, Authenticate, AuthenticateIntent, RateLimitCheck } from './http/http-handler';
export { readNodeRequest, writeNodeResponse, formatSse, nodeListener } from './http/node-http';
export type { ReadNodeRequestOptions } from './http/node-http';
export { parseCookieHeader, serializeCookie } from './http/cookies';
export { openApiDocument } from './http/openapi';
export type { ByokRequest, ByokResponse, SetCookie, SseEvent, AuthContext, RequestMeta } from './http/types';
export { safeReturnTo, normalizeOrigin } from './auth/redirects';
export type { SafeReturnToOptions } from './auth/redirects';
export { clientIp, rateLimitBucket, normalizeIp, assertTrustProxy, UNKNOWN_IP } from './http/client-ip';
export type { TrustProxy, ClientIpInput } from './http/client-ip';
export { checkCsrf } from './http/csrf';
export type { CsrfInput, HeaderBag } from './http/csrf';
export type { RateLimitStore, RateLimitResult, ConcurrencyStore, ConcurrencyLease } from './http/rate-limit/rate-limit-store';
export { MemoryRateLimitStore } from './http/rate-limit/memory-rate-limit-store';
export type { MemoryRateLimitStoreOptions } from './http/rate-limit/memory-rate-limit-store';
export { RedisRateLimitStore } from './http/rate-limit/redis-rate-limit-store';
export type { RedisEvalClient, RedisRateLimitStoreOptions } from './http/rate-limit/redis-rate-limit-store';
export { RateLimiter, RATE_LIMIT_CLASSES, DEFAULT_RATE_LIMITS, DEFAULT_STREAM_LIMIT } from './http/rate-limit/rate-limiter';
export type { RateLimitClass, RateLimitRule, StreamLimitRule, RateLimiterOptions, RateLimitSubject } from './http/rate-limit/rate-limiter';
export { KeyRing, generateSigningKey, exportPrivate, importPrivate, SIGNING_ALGS } from './auth/signing-keys';
export type { SigningAlg, SigningKey, SigningKeyMeta, KeyRingOptions, PublicJwk, Jwks } from './auth/signing-keys';
export {
  issueAccessToken,
  verifyAccessToken,
  authenticateAccessToken,
  ACCESS_TOKEN_TYP,
  DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
  DEFAULT_CLOCK_TOLERANCE_SECONDS,
} from './auth/tokens';
export type {
  AccessTokenClaims,
  AccessTokenContext,
  IssueAccessTokenInput,
  IssuedAccessToken,
  AccessTokenVerification,
} from './auth/tokens';
export {
  newRefreshToken,
  parseRefreshToken,
  hashRefreshSecret,
  refreshSecretMatches,
  REFRESH_TOKEN_PREFIX,
} from './auth/refresh-token';
export type { RefreshTokenParts } from './auth/refresh-token';
export { google, oidc, isLoopbackHost } from './auth/issuers';
export type { OidcIssuerConfig, GoogleIssuerOptions, GenericIssuerOptions } from './auth/issuers';
export { OidcClient } from './auth/oidc-client';
export type { OidcClientOptions, OidcLoginChecks, OidcLoginStart, OidcLoginResult, OidcFailureReason } from './auth/oidc-client';
export { ProviderKeysService, keyStatusSchema, keyTestResultSchema, kekLabel } from './vault/provider-keys-service';
export type { KeyStatus, KeyTestResult, ProviderKeysOptions } from './vault/provider-keys-service';
export { keyFingerprint, keyLast4 } from './vault/key-fingerprint';
export { vaultOperations } from './vault/vault-operations';
export { rewrapAll, sealedKekCounts } from './vault/rewrap';
export type { RewrapOptions, RewrapProgress, RewrapReport } from './vault/rewrap';
export type {
  ProviderKeyRow,
  ProviderKeysRepository,
  SealedRecord,
  SealedRecordsRepository,
  SealedTable,
} from './store/provider-keys-repository';
export { AuthService, describeDevice } from './auth/auth-service';
export type { AuthOptions, AuthJwtOptions, AuthServiceDeps, SessionTokens, SessionInfo, LoginCompletion } from './auth/auth-service';
export { createAuthCapability } from './auth/auth-capability';
export type { ByokAuthOptions, AuthCapability } from './auth/auth-capability';
export { authOperations } from './auth/auth-operations';
export { authCookieNames, authCookie } from './auth/auth-cookies';
export type { AuthCookieNames } from './auth/auth-cookies';
export { LoginStateSealer, stateHandle } from './auth/login-state';
export type { LoginState } from './auth/login-state';
export { isAuthoritativeForEmail, sameEmail } from './auth/account-linking';
export type { LinkingOptions, AssertedEmail } from './auth/account-linking';
export { SigningKeyManager } from './auth/signing-key-manager';
export type { SigningKeyManagerOptions } from './auth/signing-key-manager';
export type {
  AuthSessionRow,
  AuthSessionRotation,
  AuthSessionsRepository,
  SigningKeyRow,
  SigningKeysRepository,
  OAuthTokenRow,
  OAuthTokensRepository,
  AuthRepositories,
} from './store/auth-repositories';
export { runKeysCommand } from './cli/keys-command';
export type { KeysCommandContext } from './cli/keys-command';
export { redisSessionRevocationBus, isRedisPubSubClient } from './auth/session-revocation-bus';
export type { SessionRevocationBus, RedisPubSubClient, RedisSubscriber } from './auth/session-revocation-bus';
export { crc32c } from './util/crc32c';
