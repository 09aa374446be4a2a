import { existsSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ByokError } from '../errors';

const CANDIDATES = ['byok.config.ts', 'byok.config.mts', 'byok.config.js', 'byok.config.mjs', 'byok.config.cjs'];
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);

/**
 * Loads the host's `byok.config.*`, whose default export is the `createByok` options
 * object or a function returning it. JavaScript configs load with Node's own `import()`;
 * TypeScript ones through jiti, an optional peer dependency that only the CLI needs, so
 * a host that never runs the CLI (or writes `byok.config.mjs`) does not install it.
 */
export async function loadConfig(explicit: string | undefined, cwd: string = process.cwd()): Promise<{ path: string; options: Record<string, unknown> }> {
  const path = explicit ? resolve(cwd, explicit) : CANDIDATES.map((c) => resolve(cwd, c)).find((p) => existsSync(p));
  if (!path || !existsSync(path)) {
    throw new ByokError('config_invalid', explicit ? `Config file not found: ${explicit}` : `No byok.config.ts in ${cwd} (or pass --config FILE)`);
  }
  const loaded = TYPESCRIPT.has(extname(path)) ? await importTypeScript(path, cwd) : defaultExport(await import(pathToFileURL(path).href));
  const options = typeof loaded === 'function' ? await (loaded as () => unknown)() : loaded;
  if (!options || typeof options !== 'object') throw new ByokError('config_invalid', `${path} must export the createByok options (default export)`);
  return { path, options: options as Record<string, unknown> };
}

async function importTypeScript(path: string, cwd: string): Promise<unknown> {
  let jiti: typeof import('jiti');
  try {
    jiti = await import('jiti');
  } catch (cause) {
    throw new ByokError(
      'config_invalid',
      `${basename(path)} is TypeScript, which the byok CLI loads with jiti (an optional peer dependency of @byok/core): install it (npm install --save-dev jiti) or write the config as ${basename(path).replace(/\.[cm]?ts$/, '.mjs')}`,
      { cause },
    );
  }
  return jiti.createJiti(pathToFileURL(cwd + '/').href, { interopDefault: true }).import(path, { default: true });
}

function defaultExport(module: { default?: unknown }): unknown {
  return module.default;
}
