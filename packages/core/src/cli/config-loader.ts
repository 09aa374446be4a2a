import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ByokError } from '../errors';

const CANDIDATES = ['byok.config.ts', 'byok.config.mts', 'byok.config.js', 'byok.config.mjs', 'byok.config.cjs'];

/**
 * Loads the host's `byok.config.*` (TypeScript through jiti), whose default export is
 * the `createByok` options object or a function returning it.
 */
export async function loadConfig(explicit: string | undefined, cwd: string = process.cwd()): Promise<{ path: string; options: Record<string, unknown> }> {
  const path = explicit ? resolve(cwd, explicit) : CANDIDATES.map((c) => resolve(cwd, c)).find((p) => existsSync(p));
  if (!path || !existsSync(path)) {
    throw new ByokError('config_invalid', explicit ? `Config file not found: ${explicit}` : `No byok.config.ts in ${cwd} (or pass --config FILE)`);
  }
  const { createJiti } = await import('jiti');
  const jiti = createJiti(pathToFileURL(cwd + '/').href, { interopDefault: true });
  const loaded = (await jiti.import(path, { default: true })) as unknown;
  const options = typeof loaded === 'function' ? await (loaded as () => unknown)() : loaded;
  if (!options || typeof options !== 'object') throw new ByokError('config_invalid', `${path} must export the createByok options (default export)`);
  return { path, options: options as Record<string, unknown> };
}
