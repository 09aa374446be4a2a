// The reliability run's own vitest config: the root config (sources aliased, forks, two
// workers) with this folder's tests. `src/run.ts` runs it with BYOK_RELIABILITY_FULL=1 for
// the full figures; the root test command picks the same files up for the quick run.
import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import root from '../vitest.config';

const config = mergeConfig(
  root,
  defineConfig({
    root: fileURLToPath(new URL('..', import.meta.url)),
    test: {
      testTimeout: 120_000,
      hookTimeout: 180_000,
    },
  }),
  false,
);
// mergeConfig concatenates arrays: set the include list itself, or this would run every test.
config.test = { ...config.test, include: ['reliability/test/**/*.test.ts'] };

export default config;
