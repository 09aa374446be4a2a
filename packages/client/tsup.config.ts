import { fileURLToPath } from 'node:url';
import { packageConfig } from '../../tsup.base';

const root = fileURLToPath(new URL('../..', import.meta.url));

// Browsers and Node alike: no Node built-ins, no shims for them. The declarations import
// core's types (`@byok/core/http`, kept external); they are checked against core's sources,
// so this build does not wait for core's.
export default packageConfig(
  { index: 'src/index.ts', ai: 'src/ai/index.ts' },
  {
    platform: 'neutral',
    shims: false,
    target: 'es2022',
    dts: { compilerOptions: { baseUrl: root, paths: { '@byok/core': ['packages/core/src/index.ts'], '@byok/core/*': ['packages/core/src/*/index.ts'] } } },
  },
);
