import { defineConfig } from 'tsup';

// The CommonJS build the NestJS example (CommonJS, run by plain Node) requires. ESM hosts
// (the Express and tRPC examples, the tests) load the TypeScript sources directly.
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['cjs'],
  dts: false,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  shims: true,
});
