// What `byok` commands (migrate, audit verify, kms, keys) use for this example's data: the
// server's database, master keys and checkpoint key (DATA_DIR as for the server). In this folder:
//   pnpm exec byok audit verify --checkpoints data/audit-checkpoints.jsonl
import { exampleCliOptions } from './src/example-cli-options';

export default () => exampleCliOptions({ env: process.env, ...(process.env.DATA_DIR ? { dataDir: process.env.DATA_DIR } : {}) });
