// @byok/testing/store — for store authors: the store conformance suite, the audit
// tamper cases it runs, tamper helpers, throw-away test databases and a TCP proxy to cut them off. Imports neither
// gRPC, Cloud KMS nor oidc-provider, so a store author installs none of them.
export { storeConformance } from '../store-conformance';
export type { StoreConformanceOptions, StoreConformanceTarget } from '../store-conformance';
export { kyselyTamper, memoryTamper } from '../store-tamper';
export type { StoreTamper } from '../store-tamper';
export { auditTamperCases } from '../audit-tamper-cases';
export type { AuditTamperTarget } from '../audit-tamper-cases';
export { authStoreCases } from '../auth-store-cases';
export { rateLimitStoreConformance } from '../rate-limit-store-conformance';
export type { RateLimitStoreConformanceOptions, RateLimitStoreConformanceTarget } from '../rate-limit-store-conformance';
export {
  createTestDatabase,
  parseTestDatabases,
  selectedTestDatabases,
  selectTestBackends,
  testDatabaseSelected,
  TEST_DATABASE_KINDS,
  TEST_DATABASES_VARIABLE,
} from '../test-databases';
export type { TestDatabase, TestDatabaseKind, TestDatabaseConfig } from '../test-databases';
export { startTcpProxy } from '../tcp-proxy';
export type { TcpProxy } from '../tcp-proxy';
