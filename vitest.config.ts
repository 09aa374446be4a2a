import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// Tests run against the packages' sources, not their builds (STACK gotcha 5).
const alias = readdirSync(`${root}packages`)
  .filter((dir) => existsSync(`${root}packages/${dir}/src/index.ts`))
  .flatMap((dir) => [
    { find: new RegExp(`^@byok/${dir}$`), replacement: `${root}packages/${dir}/src/index.ts` },
    // Subpath exports (`@byok/core/http`, `@byok/testing/store`, …) are `src/<subpath>/index.ts`.
    { find: new RegExp(`^@byok/${dir}/([a-z-]+)$`), replacement: `${root}packages/${dir}/src/$1/index.ts` },
  ]);

export default defineConfig({
  resolve: { alias },
  test: {
    // The reliability suite's quick parts (short fuzz, isolation, leak scans) run here too;
    // its scenarios and the real-registry audit run in `pnpm test:reliability`.
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/**/*.test.ts', 'reliability/test/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // BYOK_TEST_DATABASES can leave a file that tests one engine only with no tests at all.
    passWithNoTests: Boolean(process.env.BYOK_TEST_DATABASES?.trim()),
    maxWorkers: 2,
    reporters: ['default'],
  },
});
