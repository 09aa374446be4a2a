// @byok/core/audit — the audit kit: the chain format (documented so that a verifier can
// be written in another language), signed checkpoints, the verifier `byok audit verify`
// runs, and the service that writes a trail into any Store (`byok.audit` is one). Listed
// by name; `api/core.api.md` is the reviewed list.

export {
  SYSTEM_CHAIN,
  AUDIT_CHAIN_VERSION,
  auditChainName,
  auditChainOwner,
  auditGenesisHash,
  auditRowHash,
  auditHashedFields,
  auditPersonalHmac,
} from './audit-chain';
export type { AuditHashedFields } from './audit-chain';
export { canonicalJson } from './canonical-json';
export type { CanonicalJsonValue } from './canonical-json';
export {
  generateAuditCheckpointKeys,
  signAuditCheckpoint,
  verifyAuditCheckpoint,
  auditCheckpointKeyId,
  auditCheckpointSigningInput,
  serializeAuditCheckpoint,
  parseAuditCheckpoints,
  readAuditCheckpointFile,
} from './audit-checkpoint';
export type { AuditCheckpoint, SignedAuditCheckpoint, AuditCheckpointKey } from './audit-checkpoint';
export type { AuditCheckpointSink } from './audit-checkpoint-sink';
export { verifyAuditTrail } from './audit-verifier';
export type { AuditVerifyReason, AuditVerifyProblem, AuditVerifyReport, AuditVerifyOptions } from './audit-verifier';
export { AuditService } from './audit-service';
export type { AuditServiceOptions, AuditServiceLogger, AuditRecordInput, AuditEntry, AuditListOptions, AuditCheckpointOptions } from './audit-service';
export { auditActions, defineAuditActions, allowListAuditMetadata } from './audit-actions';
export type { AuditMetadataSchema, AuditActionRegistry, BuiltInAuditAction } from './audit-actions';
