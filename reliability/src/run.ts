// `pnpm test:reliability`: runs every reliability test at full size (BYOK_RELIABILITY_FULL=1:
// 10,000 fuzz requests per adapter on PostgreSQL, the long isolation run, the leak scans,
// the supply-chain check, and whatever parts `reliability/test/` holds besides), then writes
// docs/reliability.md from the figures each part left in reliability/results/. Exits with
// vitest's status, so a failing part fails the command after the report is written.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { renderReport, type PartResult, type TestFileResult } from './report';

const root = fileURLToPath(new URL('../../', import.meta.url));
const results = fileURLToPath(new URL('../results/', import.meta.url));

rmSync(results, { recursive: true, force: true });
mkdirSync(results, { recursive: true });
const started = Date.now();
const env = { ...process.env, BYOK_RELIABILITY_FULL: '1' };
const vitest = spawnSync('npx', ['vitest', 'run', '--config', 'reliability/vitest.config.ts', '--reporter=default', '--reporter=json', `--outputFile.json=${results}vitest.json`, ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: 'inherit',
});
const durationMs = Date.now() - started;

const parts: PartResult[] = readdirSync(results)
  .filter((f) => f.endsWith('.json') && f !== 'vitest.json')
  .map((f) => JSON.parse(readFileSync(`${results}${f}`, 'utf8')) as PartResult);
const files: TestFileResult[] = [];
if (existsSync(`${results}vitest.json`)) {
  const report = JSON.parse(readFileSync(`${results}vitest.json`, 'utf8')) as { testResults: Array<{ name: string; status: string; assertionResults: Array<{ title: string; status: string; failureMessages: string[] }> }> };
  for (const file of report.testResults) {
    files.push({
      file: file.name.replace(root, ''),
      tests: file.assertionResults.map((t) => ({ title: t.title, status: t.status, failure: t.failureMessages[0]?.split('\n').slice(0, 6).join('\n') })),
    });
  }
}
const markdown = renderReport({
  date: new Date(started).toISOString(),
  durationMs,
  machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, ${process.platform}`,
  exitCode: vitest.status ?? 1,
  parts,
  files,
});
writeFileSync(`${root}docs/reliability.md`, markdown);
console.log(`\nwrote docs/reliability.md (${vitest.status === 0 ? 'all parts passed' : 'SOME PARTS FAILED'})`);
process.exit(vitest.status ?? 1);
