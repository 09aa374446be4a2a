import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Figure } from './harness';

/** Bench groups by name; each returns its figures. */
const groups: Record<string, () => Promise<Figure[]>> = {
  audit: async () => (await import('./groups/audit-bench')).run(),
  vault: async () => (await import('./groups/vault-bench')).run(),
  auth: async () => (await import('./groups/auth-bench')).run(),
  memory: async () => (await import('./groups/memory-bench')).run(),
  http: async () => (await import('./groups/http-bench')).run(),
};

const requested = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = requested.filter((g) => !(g in groups));
if (unknown.length) {
  console.error(`unknown bench group(s): ${unknown.join(', ')}; known: ${Object.keys(groups).join(', ')}`);
  process.exit(2);
}
const names = requested.length ? requested : Object.keys(groups);
const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
const latestPath = `${resultsDir}latest.json`;

const figures: Figure[] = [];
for (const name of names) {
  console.log(`# bench group ${name}`);
  figures.push(...(await groups[name]!()));
}

const rows = figures.map((f) => ({
  metric: f.metric,
  median: f.value.toFixed(3),
  range: f.min !== undefined && f.max !== undefined ? `${f.min.toFixed(3)}–${f.max.toFixed(3)}` : '',
  target: f.target ?? '',
  note: f.note ?? '',
}));
console.table(rows);

mkdirSync(resultsDir, { recursive: true });
const latest: Record<string, number> = existsSync(latestPath) ? JSON.parse(readFileSync(latestPath, 'utf8')) : {};
for (const f of figures) {
  latest[f.metric] = Number(f.value.toFixed(4));
  if (f.min !== undefined) latest[`${f.metric}.min`] = Number(f.min.toFixed(4));
  if (f.max !== undefined) latest[`${f.metric}.max`] = Number(f.max.toFixed(4));
}
writeFileSync(latestPath, JSON.stringify(latest, null, 2) + '\n');
console.log(`wrote ${latestPath}`);
