#!/usr/bin/env node
// The README's two commands: `node scripts/run.mjs start` and `node scripts/run.mjs test`.
// Each installs whatever is missing (pnpm, dependencies, builds), then starts the main
// example server or runs every test and prints `N passed, N failed`. Before installing,
// `test` checks what the tests need from the machine (scripts/preflight.mjs): the
// database servers and Redis answer, and a Chromium is there (Debian's, installed with
// apt-get when running as root); otherwise it stops at once with one line saying what to do.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  TEST_DATABASE_KINDS,
  TEST_DATABASES_VARIABLE,
  answers,
  findChromium,
  fileFilters,
  onPath,
  parseTestDatabases,
  planChromium,
  planServices,
  runsBrowserTest,
  servicesNeeded,
} from './preflight.mjs';

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
  const env = await preflight();
  install();
  const results = `${root}.vitest-results.json`;
  rmSync(results, { force: true });
  const status = run(pnpm, [...pnpmPrefix, 'exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...rest], { env });
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
  const left = TEST_DATABASE_KINDS.filter((kind) => !parseTestDatabases(env[TEST_DATABASES_VARIABLE]).includes(kind));
  if (left.length > 0) console.log(`\nnot tested on ${left.join(', ')} (${TEST_DATABASES_VARIABLE}=${env[TEST_DATABASES_VARIABLE]})`);
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(status === 0 && failed === 0 ? 0 : 1);
} else {
  console.error('usage: node scripts/run.mjs start|test [args]');
  process.exit(2);
}

/** Stops the run with one line (no stack, no install first). */
function stop(message) {
  console.error(`\nbyok tests cannot run: ${message}`);
  console.log('\n0 passed, 1 failed');
  process.exit(1);
}

/**
 * Checks the machine before anything is installed and returns the environment the tests
 * run with (BYOK_CHROMIUM names the browser found).
 */
async function preflight() {
  const env = { ...process.env };
  let databases;
  try {
    databases = parseTestDatabases(env[TEST_DATABASES_VARIABLE]);
  } catch (error) {
    stop(error.message);
  }
  const filtered = fileFilters(rest).length > 0;

  // Chromium for the browser test.
  const lookForChromium = () => findChromium({ env, exists: existsSync });
  const chromiumFacts = {
    needed: runsBrowserTest({ args: rest, root, cwd: process.cwd() }),
    platform: process.platform,
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    hasAptGet: onPath('apt-get', env),
    env,
  };
  let chromium = planChromium({ ...chromiumFacts, found: lookForChromium(), alreadyTriedInstall: false });
  if (chromium.action === 'install') {
    console.log('installing Debian\'s chromium for the browser test (apt-get)');
    const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const [cmd, args] of chromium.commands) if (run(cmd, args, { env: aptEnv }) !== 0) break;
    chromium = planChromium({ ...chromiumFacts, found: lookForChromium(), alreadyTriedInstall: true });
  }
  if (chromium.action === 'stop') stop(chromium.message);
  if (chromium.path) env.BYOK_CHROMIUM = chromium.path;

  // The database servers of the selected databases, and Redis.
  const needed = servicesNeeded({ databases, env });
  const listen = async () => {
    const up = await Promise.all(needed.map(async (service) => ((await answers(service)) ? service.id : null)));
    return up.filter(Boolean);
  };
  const facts = { needed, databases, filtered, canStart: existsSync(`${root}scripts/services.sh`) && onPath('bash', env) };
  let services = planServices({ ...facts, answering: await listen(), alreadyTriedStart: false });
  if (services.action === 'start') {
    run('bash', [`${root}scripts/services.sh`, ...services.services]);
    services = planServices({ ...facts, answering: await listen(), alreadyTriedStart: true });
  }
  if (services.action === 'stop') stop(services.message);
  if (services.action === 'warn') console.warn(`warning: ${services.message}; tests that need it will fail`);
  return env;
}
