import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localKms, type ByokOptions } from '@byok/core';
import { exampleDatabase, exampleKms, offlineCheckpointFiles, readCheckpointKey, resolveExampleMode } from '@byok/example-shared';
import { DEFAULT_DATA_DIR } from './start-example';

/**
 * The options `byok` commands need for the example's data (its `byok.config.ts`): the
 * same database and master keys as the server, and the checkpoint public key, so that
 * `byok audit verify --checkpoints <file>` checks the checkpoints the server signed.
 * Offline mode reads the files it generated under `dataDir`; with Google sign-in the
 * checkpoint key comes from the same variables as the server's.
 *
 * @example
 * // byok.config.ts
 * export default () => exampleCliOptions({ env: process.env });
 */
export async function exampleCliOptions(options: {
  env: Readonly<Record<string, string | undefined>>;
  dataDir?: string;
}): Promise<ByokOptions> {
  const { env } = options;
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const mode = resolveExampleMode(env, '127.0.0.1');
  const database = exampleDatabase(env, dataDir);
  if (mode.kind === 'offline') {
    const files = offlineCheckpointFiles(dataDir);
    return {
      database,
      kms: localKms({ keyFile: join(dataDir, 'master-keys') }),
      audit: { checkpoints: { publicKeys: [await readFile(files.publicKeyFile, 'utf8')] } },
    };
  }
  // A signing key without sinks writes nothing; its public half verifies.
  return { database, kms: await exampleKms(env), audit: { checkpoints: { signingKey: await readCheckpointKey(mode.checkpointKey) } } };
}
