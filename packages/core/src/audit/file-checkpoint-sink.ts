import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { serializeAuditCheckpoint, type SignedAuditCheckpoint } from './audit-checkpoint';
import type { AuditCheckpointSink } from './audit-checkpoint-sink';

/**
 * A checkpoint sink that appends one JSON line per checkpoint to a file (opened with
 * O_APPEND, flushed with fdatasync before the write resolves). Writes from one process
 * are serialised; put the file on storage the database's operators cannot rewrite (a
 * WORM bucket mount, a log shipper's spool, another host). `byok audit verify
 * --checkpoints <path>` reads it back.
 *
 * @example
 * const byok = await createByok({ audit: { checkpoints: {
 *   signingKey: process.env.BYOK_AUDIT_CHECKPOINT_KEY!, sinks: [fileCheckpointSink('/var/lib/byok/audit-checkpoints.jsonl')],
 * } } });
 */
export function fileCheckpointSink(path: string): AuditCheckpointSink {
  let queue: Promise<void> = Promise.resolve();
  let dirReady: Promise<unknown> | undefined;
  const append = async (line: string): Promise<void> => {
    dirReady ??= mkdir(dirname(path), { recursive: true });
    await dirReady;
    const handle = await open(path, 'a', 0o640);
    try {
      await handle.appendFile(line, 'utf8');
      await handle.datasync();
    } finally {
      await handle.close();
    }
  };
  return {
    write(checkpoint: SignedAuditCheckpoint): Promise<void> {
      const line = `${serializeAuditCheckpoint(checkpoint)}\n`;
      const next = queue.then(() => append(line));
      queue = next.catch(() => undefined);
      return next;
    },
    async close(): Promise<void> {
      await queue;
    },
  };
}
