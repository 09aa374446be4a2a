import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ByokOptions } from '@byok/core';

/** The example's gitignored `data/` folder. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../data', import.meta.url));

/**
 * The example's database: `DATABASE_URL` (postgres://… or mysql://…) or SQLite at
 * `<dataDir>/byok.db`. The server and `byok.config.ts` use the same one.
 *
 * @example
 * exampleDatabase({}, 'data'); // → { sqlite: 'data/byok.db' }
 */
export function exampleDatabase(env: Readonly<Record<string, string | undefined>>, dataDir: string): NonNullable<ByokOptions['database']> {
  const url = env.DATABASE_URL;
  if (url?.startsWith('postgres')) return { postgres: url };
  if (url?.startsWith('mysql')) return { mysql: url };
  return { sqlite: join(dataDir, 'byok.db') };
}
