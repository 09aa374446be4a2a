import { packageConfig } from '../../tsup.base';

// Browsers and Node alike: no Node built-ins, no shims for them.
export default packageConfig({ index: 'src/index.ts', ai: 'src/ai/index.ts' }, { platform: 'neutral', shims: false, target: 'es2022' });
