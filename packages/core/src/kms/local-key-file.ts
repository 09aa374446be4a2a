import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ByokError } from '../errors';
import { parseMasterKeys } from './local-master-keys';

/** Options of {@link generateLocalKeyFile}. */
export interface GenerateLocalKeyFileOptions {
  /** When the file exists, add a new version (highest = primary) instead of leaving it as is. */
  rotate?: boolean;
}

/** What {@link generateLocalKeyFile} did. */
export interface LocalKeyFileResult {
  readonly path: string;
  /** True when the file was created or a version was added. */
  readonly changed: boolean;
  readonly primaryVersion: number;
  readonly versions: readonly number[];
}

const HEADER = '# byok local master keys: <version>:<base64 of 32 bytes>, the highest version is primary.\n# Keep this file secret (mode 0600) and backed up: sealed values cannot be opened without it.\n';

/**
 * Creates a key file for `localKms({ keyFile })` with one fresh 256-bit master key
 * (version 1), mode 0600, for examples and development. An existing file is left
 * untouched unless `rotate` is set, which appends a new highest version (written to
 * a temporary file, then renamed).
 *
 * @example
 * await generateLocalKeyFile('data/master-keys');
 * const kms = localKms({ keyFile: 'data/master-keys' });
 */
export async function generateLocalKeyFile(path: string, options: GenerateLocalKeyFileOptions = {}): Promise<LocalKeyFileResult> {
  await mkdir(dirname(path), { recursive: true });
  let existing: string | undefined;
  try {
    existing = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ENOENT') {
      throw new ByokError('config_invalid', `Cannot read the key file ${path}`, { cause: error });
    }
  }
  if (existing === undefined) {
    const key = randomBytes(32);
    const handle = await open(path, 'wx', 0o600).catch((error: unknown) => {
      throw new ByokError('config_invalid', `Cannot create the key file ${path}`, { cause: error });
    });
    try {
      await handle.writeFile(`${HEADER}1:${key.toString('base64')}\n`, 'utf8');
    } finally {
      key.fill(0);
      await handle.close();
    }
    return { path, changed: true, primaryVersion: 1, versions: [1] };
  }
  const keys = parseMasterKeys(existing, `key file ${path}`);
  const versions = keys.map((k) => k.version);
  for (const k of keys) k.material.fill(0);
  if (!options.rotate) return { path, changed: false, primaryVersion: versions[0]!, versions };
  const next = versions[0]! + 1;
  const key = randomBytes(32);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, `${existing.endsWith('\n') ? existing : `${existing}\n`}${next}:${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } finally {
    key.fill(0);
  }
  await rename(tmp, path);
  return { path, changed: true, primaryVersion: next, versions: [next, ...versions] };
}
