import { packageConfig } from '../../tsup.base';

// ESM only: the suites import vitest, which refuses to be require()d. A CommonJS test file
// still loads them with import(), or with require() on Node's require(esm).
export default packageConfig(
  {
    index: 'src/index.ts',
    store: 'src/store/index.ts',
    kms: 'src/kms/index.ts',
    oidc: 'src/oidc/index.ts',
    llm: 'src/llm/index.ts',
    http: 'src/http/index.ts',
  },
  { format: ['esm'] },
);
