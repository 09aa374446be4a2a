// Quick (CI, the root test command) or full (`pnpm test:reliability`, BYOK_RELIABILITY_FULL=1).
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FULL = process.env.BYOK_RELIABILITY_FULL === '1';

export type RunDatabase = 'sqlite' | 'postgres' | 'mysql';

const DATABASE_NAMES: Readonly<Record<string, RunDatabase>> = { sqlite: 'sqlite', postgres: 'postgres', mysql: 'mysql', mariadb: 'mysql' };

/**
 * The databases the fuzz and isolation parts run on: PostgreSQL and MariaDB for the full
 * run, SQLite for the quick one. BYOK_RELIABILITY_DATABASE overrides it with a comma list
 * (sqlite, postgres, mysql or mariadb); an unknown name stops the run rather than testing less.
 */
export function runDatabases(): RunDatabase[] {
  const given = process.env.BYOK_RELIABILITY_DATABASE?.trim();
  if (!given) return FULL ? ['postgres', 'mysql'] : ['sqlite'];
  const picked = given.split(',').map((name) => {
    const kind = DATABASE_NAMES[name.trim().toLowerCase()];
    if (!kind) throw new Error(`BYOK_RELIABILITY_DATABASE="${given}" names "${name.trim()}": use sqlite, postgres, mysql or mariadb, comma-separated`);
    return kind;
  });
  return [...new Set(picked)];
}

/** Where the tests leave their figures for `run.ts` (one JSON file per part). */
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export function writeFigures(part: string, figures: unknown): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}${part}.json`, `${JSON.stringify({ part, full: FULL, at: new Date().toISOString(), figures }, null, 2)}\n`);
}
