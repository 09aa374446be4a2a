import { defineConfig, type Options } from 'tsup';

/**
 * One build shape for every package: ESM + CJS + declarations, Node 20.19 target. With
 * several entry points (subpaths), code they share is split into chunks that each entry
 * imports, so a package never holds two copies of one module (two `ByokError` classes,
 * two registries) and a CLI entry stays small.
 */
export function packageConfig(entries: Record<string, string> | string[], extra: Partial<Options> = {}) {
  const entry = Array.isArray(entries) ? Object.fromEntries(entries.map((file) => [file.replace(/^src\//, '').replace(/(\/index)?\.ts$/, ''), file])) : entries;
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    splitting: Object.keys(entry).length > 1,
    shims: true,
    ...extra,
  });
}
