import { defineConfig, type Options } from 'tsup';

/** One build shape for every package: ESM + CJS + declarations, Node 20.19 target. */
export function packageConfig(entry: string[], extra: Partial<Options> = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    shims: true,
    ...extra,
  });
}
