#!/usr/bin/env node
// The README's two commands: `node scripts/run.mjs start` and `node scripts/run.mjs test`.
// Each installs whatever is missing (pnpm, dependencies, builds), then starts the main
// example server or runs every test and prints `N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const PNPM_VERSION = JSON.parse(readFileSync(`${root}package.json`, 'utf8')).packageManager.split('@')[1];
const command = process.argv[2];
const rest = process.argv.slice(3);

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: options.env ?? process.env, shell: false });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function must(cmd, args, options) {
  const status = run(cmd, args, options);
  if (status !== 0) {
    console.error(`\n${cmd} ${args.join(' ')} failed with exit code ${status}`);
    process.exit(status);
  }
}

function pnpmCommand() {
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0 && probe.stdout.trim() === PNPM_VERSION) return ['pnpm', []];
  return ['npx', ['-y', `pnpm@${PNPM_VERSION}`]];
}

const [pnpm, pnpmPrefix] = pnpmCommand();
const pn = (...args) => must(pnpm, [...pnpmPrefix, ...args]);

function install() {
  const env = { ...process.env };
  // better-sqlite3 compiles from source where no prebuilt binary can be downloaded; Debian's
  // Node ships its headers in /usr/include/node, so point node-gyp there when they exist.
  if (!env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
  must(pnpm, [...pnpmPrefix, 'install', '--frozen-lockfile'], { env });
  pn('-r', '--filter', './packages/*', 'run', 'build');
}

if (command === 'start') {
  install();
  pn('--filter', '@byok/example-express-server', 'start', ...rest);
} else if (command === 'test') {
  install();
  const results = `${root}.vitest-results.json`;
  rmSync(results, { force: true });
  const status = run(pnpm, [...pnpmPrefix, 'exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...rest]);
  let passed = 0;
  let failed = 0;
  if (existsSync(results)) {
    const report = JSON.parse(readFileSync(results, 'utf8'));
    passed = report.numPassedTests;
    failed = report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0);
    if (status !== 0 && failed === 0) failed = 1; // a suite crashed outside any test
  } else {
    failed = 1;
  }
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(status === 0 && failed === 0 ? 0 : 1);
} else {
  console.error('usage: node scripts/run.mjs start|test [args]');
  process.exit(2);
}
