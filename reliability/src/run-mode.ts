// Quick (CI, the root test command) or full (`pnpm test:reliability`, BYOK_RELIABILITY_FULL=1).
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FULL = process.env.BYOK_RELIABILITY_FULL === '1';

/** The database of the run: PostgreSQL for the full run, SQLite for the quick one (override: BYOK_RELIABILITY_DATABASE). */
export function runDatabase(): 'sqlite' | 'postgres' {
  const given = process.env.BYOK_RELIABILITY_DATABASE;
  if (given === 'sqlite' || given === 'postgres') return given;
  return FULL ? 'postgres' : 'sqlite';
}

/** Where the tests leave their figures for `run.ts` (one JSON file per part). */
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export function writeFigures(part: string, figures: unknown): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}${part}.json`, `${JSON.stringify({ part, full: FULL, at: new Date().toISOString(), figures }, null, 2)}\n`);
}
