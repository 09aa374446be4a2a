export {};
export { startGeminiStandIn } from './llm/gemini-stand-in';
export type { GeminiStandInOptions } from './llm/gemini-stand-in';
export { startOpenAiStandIn } from './llm/openai-stand-in';
export type { OpenAiStandInOptions } from './llm/openai-stand-in';
export type {
  LlmStandIn,
  LlmStandInOptions,
  StandInFault,
  FaultTarget,
  StandInRoute,
  StandInTurn,
  StandInRequest,
  ScriptedReply,
  ReplyScript,
} from './llm/llm-stand-in';
export { createTestDatabase } from './test-databases';
export type { TestDatabase, TestDatabaseKind, TestDatabaseConfig } from './test-databases';
export { kmsConformance } from './kms/kms-conformance';
export type { KmsConformanceOptions, KmsConformanceHarness, KmsFaultKind } from './kms/kms-conformance';
export { startAwsKmsStandIn } from './kms/aws-kms-stand-in';
export type { AwsKmsStandIn, AwsKmsStandInOptions, AwsKmsStandInRequest } from './kms/aws-kms-stand-in';
export type { KmsStandInFault, KmsStandInCalls } from './kms/kms-faults';
export { startGcpKmsStandIn } from './kms/gcp-kms-stand-in';
export type { GcpKmsStandIn, GcpKmsStandInOptions, GcpKmsStandInRequest, GcpKeyVersionState } from './kms/gcp-kms-stand-in';
export { startDevIssuer, DEFAULT_DEV_USERS, DEFAULT_DEV_CLIENTS } from './oidc/dev-issuer';
export type { DevIssuer, DevIssuerOptions, DevIssuerUser, DevIssuerClient, IdTokenTamper } from './oidc/dev-issuer';
export { driveLogin } from './oidc/drive-login';
export type { DriveLoginOptions } from './oidc/drive-login';
export { CookieJar } from './oidc/cookie-jar';
export { signTestJwt, testSigningKeyPair, decodeTestJwt } from './oidc/test-jws';
export type { TestJwsAlg, TestJwsKey, TestKeyPair } from './oidc/test-jws';
export { storeConformance } from './store-conformance';
export type { StoreConformanceOptions, StoreConformanceTarget } from './store-conformance';
export { kyselyTamper, memoryTamper } from './store-tamper';
export type { StoreTamper } from './store-tamper';
export { llmProviderConformance } from './llm/llm-provider-conformance';
export type { LlmProviderConformanceOptions } from './llm/llm-provider-conformance';
export { auditTamperCases } from './audit-tamper-cases';
export type { AuditTamperTarget } from './audit-tamper-cases';
export { authStoreCases } from './auth-store-cases';
