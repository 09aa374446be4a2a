import { packageConfig } from '../../tsup.base';

export default packageConfig({
  index: 'src/index.ts',
  http: 'src/http/index.ts',
  store: 'src/store/index.ts',
  llm: 'src/llm/index.ts',
  kms: 'src/kms/index.ts',
  audit: 'src/audit/index.ts',
  cli: 'src/cli.ts',
});
