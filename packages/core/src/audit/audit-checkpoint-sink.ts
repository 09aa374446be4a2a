import type { SignedAuditCheckpoint } from './audit-checkpoint';

/**
 * Where signed checkpoints go: somewhere OUTSIDE the database, so that whoever can
 * rewrite the audit tables cannot also rewrite the checkpoints that pin them.
 * A sink should append durably and must never throw a secret in its error.
 */
export interface AuditCheckpointSink {
  write(checkpoint: SignedAuditCheckpoint): Promise<void> | void;
  /** Releases what the sink holds (optional). */
  close?(): Promise<void> | void;
}
