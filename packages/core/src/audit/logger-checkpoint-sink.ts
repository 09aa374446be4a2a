import type { SignedAuditCheckpoint } from './audit-checkpoint';
import type { AuditCheckpointSink } from './audit-checkpoint-sink';

/** The slice of a pino-shaped logger the logger sink uses. */
export interface AuditCheckpointLogger {
  info(obj: object, msg?: string): void;
}

/**
 * A checkpoint sink that writes each checkpoint to the host's log as
 * `{ auditCheckpoint: {…} }` with the message `audit checkpoint`. When the log is
 * shipped off the machine (and kept), it is a sink outside the database; the
 * resulting JSON-lines log file can be handed to `byok audit verify --checkpoints`.
 *
 * @example
 * const logger = { info: (obj: object, msg?: string) => console.log(JSON.stringify(obj), msg) }; // e.g. pino()
 * const byok = await createByok({ audit: { checkpoints: { signingKey: process.env.BYOK_AUDIT_CHECKPOINT_KEY!, sinks: [loggerCheckpointSink(logger)] } } });
 */
export function loggerCheckpointSink(logger: AuditCheckpointLogger): AuditCheckpointSink {
  return {
    write(checkpoint: SignedAuditCheckpoint): void {
      logger.info({ auditCheckpoint: { ...checkpoint } }, 'audit checkpoint');
    },
  };
}
