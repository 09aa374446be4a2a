import { join } from 'node:path';
import type { ByokOptions } from '@byok/core';
import type { Env } from './example-mode.js';

/**
 * An example's database: `DATABASE_URL` (`postgres://…` or `mysql://…`) or SQLite at
 * `<dataDir>/byok.db`. The server and its `byok.config.ts` use the same one.
 *
 * @example
 * exampleDatabase({}, 'data'); // → { sqlite: 'data/byok.db' }
 */
export function exampleDatabase(env: Env, dataDir: string): NonNullable<ByokOptions['database']> {
  const url = env.DATABASE_URL?.trim();
  if (url?.startsWith('postgres')) return { postgres: url };
  if (url?.startsWith('mysql')) return { mysql: url };
  return { sqlite: join(dataDir, 'byok.db') };
}
