import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ByokError, fileCheckpointSink, generateAuditCheckpointKeys, type AuditCheckpointOptions } from '@byok/core';

/** Where offline mode keeps its generated checkpoint key pair and writes its checkpoints. */
export function offlineCheckpointFiles(dataDir: string): { keyFile: string; publicKeyFile: string; checkpointFile: string } {
  return {
    keyFile: join(dataDir, 'audit-checkpoint-key.pem'),
    publicKeyFile: join(dataDir, 'audit-checkpoint.pub'),
    checkpointFile: join(dataDir, 'audit-checkpoints.jsonl'),
  };
}

/**
 * Creates an Ed25519 key pair for signing audit checkpoints once (the private key mode
 * 0600, the public key beside it) and leaves existing files alone, like
 * `generateLocalKeyFile` does for the master key. Returns the private key PEM.
 *
 * @example
 * const pem = await generateCheckpointKeyFiles({ keyFile: 'data/audit-checkpoint-key.pem', publicKeyFile: 'data/audit-checkpoint.pub' });
 */
export async function generateCheckpointKeyFiles(files: { keyFile: string; publicKeyFile: string }): Promise<string> {
  await mkdir(dirname(files.keyFile), { recursive: true });
  try {
    return await readFile(files.keyFile, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ENOENT') throw new ByokError('config_invalid', `Cannot read ${files.keyFile}`, { cause: error });
  }
  const { privateKey, publicKey } = generateAuditCheckpointKeys();
  const handle = await open(files.keyFile, 'wx', 0o600);
  try {
    await handle.writeFile(privateKey, 'utf8');
  } finally {
    await handle.close();
  }
  const pub = await open(files.publicKeyFile, 'w', 0o644);
  try {
    await pub.writeFile(publicKey, 'utf8');
  } finally {
    await pub.close();
  }
  return privateKey;
}

/** How often the example checkpoints: every 100th row of a chain, and every chain that moved each 30 s (and at shutdown). */
export const EXAMPLE_CHECKPOINT_CADENCE = { every: 100, intervalMs: 30_000 } as const;

/**
 * The example's `audit.checkpoints`: a signing key and a file sink outside the database,
 * so `byok audit verify --checkpoints <file>` can detect a trail rewritten in the
 * database (an unkeyed chain alone cannot).
 *
 * @example
 * const byok = await createByok({ audit: { checkpoints: checkpointOptions({ signingKey: pem, checkpointFile: 'data/audit-checkpoints.jsonl' }) } });
 */
export function checkpointOptions(input: { signingKey: string; checkpointFile: string }): AuditCheckpointOptions {
  return { signingKey: input.signingKey, sinks: [fileCheckpointSink(input.checkpointFile)], ...EXAMPLE_CHECKPOINT_CADENCE };
}

/**
 * The checkpoint signing key of the Google mode: `BYOK_AUDIT_CHECKPOINT_KEY` (PEM) as
 * given, or the file `BYOK_AUDIT_CHECKPOINT_KEY_FILE` names.
 *
 * @throws ByokError `config_invalid` when the file cannot be read (its content is never shown)
 * @example
 * const pem = await readCheckpointKey({ file: '/run/secrets/audit-checkpoint-key.pem' });
 */
export async function readCheckpointKey(source: { pem: string } | { file: string }): Promise<string> {
  if ('pem' in source) return source.pem;
  try {
    return await readFile(source.file, 'utf8');
  } catch (cause) {
    throw new ByokError('config_invalid', `Cannot read BYOK_AUDIT_CHECKPOINT_KEY_FILE (${source.file})`, { cause });
  }
}
