// What `node scripts/run.mjs test` checks before it installs anything or runs a test:
// which databases the run uses, that their servers (and Redis) answer, and that a
// Chromium is there for the browser test. The decisions are plain functions of what was
// observed, so test/preflight.test.ts checks them without touching this machine;
// run.mjs does the observing and acts on them.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, isAbsolute, join, relative, resolve } from 'node:path';

/** Every database engine, in the order test loops run them (packages/testing/src/test-databases.ts). */
export const TEST_DATABASE_KINDS = ['sqlite', 'postgres', 'mysql'];
export const TEST_DATABASES_VARIABLE = 'BYOK_TEST_DATABASES';

const ALIASES = { sqlite: ['sqlite'], postgres: ['postgres'], mysql: ['mysql'], mariadb: ['mysql'], all: TEST_DATABASE_KINDS };

/**
 * Parses `BYOK_TEST_DATABASES` exactly as `parseTestDatabases` in @byok/testing does
 * (test/preflight.test.ts holds both to the same cases): a comma-separated list of
 * sqlite, postgres, mysql, mariadb or all; unset or blank is every engine.
 *
 * @param {string | undefined} value
 * @returns {string[]} the engines, in TEST_DATABASE_KINDS order
 * @throws {Error} naming the bad entry and what is accepted
 */
export function parseTestDatabases(value) {
  if (value === undefined || value.trim() === '') return [...TEST_DATABASE_KINDS];
  const picked = new Set();
  for (const raw of value.split(',')) {
    const name = raw.trim().toLowerCase();
    const kinds = Object.hasOwn(ALIASES, name) ? ALIASES[name] : undefined;
    if (!kinds) {
      const problem =
        name === ''
          ? 'has an empty entry'
          : name === 'memory'
            ? 'names memory, which is not a database (the in-memory store always runs)'
            : `names an unknown database "${raw.trim()}"`;
      throw new Error(
        `${TEST_DATABASES_VARIABLE}="${value}" ${problem}: use a comma-separated list of sqlite, postgres, mysql (or mariadb), e.g. ${TEST_DATABASES_VARIABLE}=sqlite,postgres`,
      );
    }
    for (const kind of kinds) picked.add(kind);
  }
  return TEST_DATABASE_KINDS.filter((kind) => picked.has(kind));
}

/** The servers the tests talk to, where they are by default, and the Debian package that provides each. */
export const SERVICES = {
  postgres: { name: 'PostgreSQL', host: '127.0.0.1', port: 5432, urlVariable: 'BYOK_TEST_PG_URL', debianPackage: 'postgresql' },
  mysql: { name: 'MariaDB', host: '127.0.0.1', port: 3306, urlVariable: 'BYOK_TEST_MYSQL_URL', debianPackage: 'mariadb-server' },
  redis: { name: 'Redis', host: '127.0.0.1', port: 6379, urlVariable: null, debianPackage: 'redis-server' },
};

/**
 * The services a run needs: the server of each selected database that has one, and Redis
 * (rate limits and strict-mode revocations are tested on it), each with its address.
 *
 * @param {{ databases: string[], env?: Record<string, string | undefined> }} input
 * @returns {{ id: string, name: string, host: string, port: number, debianPackage: string }[]}
 */
export function servicesNeeded({ databases, env = {} }) {
  const ids = [...databases.filter((kind) => kind in SERVICES), 'redis'];
  return ids.map((id) => {
    const service = SERVICES[id];
    let { host, port } = service;
    const url = service.urlVariable ? env[service.urlVariable] : undefined;
    if (url) {
      const parsed = new URL(url);
      host = parsed.hostname;
      port = parsed.port ? Number(parsed.port) : service.port;
    }
    return { id, name: service.name, host, port, debianPackage: service.debianPackage };
  });
}

/**
 * What to do about the services that did not answer.
 * - `ok`: every needed service answers;
 * - `start`: run scripts/services.sh for the silent ones, then look again;
 * - `stop`: give up with one line naming what to install or start (and, for a database,
 *   how to leave it out); `warn` instead when only some test files were asked for, since
 *   those may not need the service.
 *
 * @param {{ needed: { id: string, name: string, host: string, port: number, debianPackage: string }[],
 *           answering: Set<string> | string[], canStart: boolean, alreadyTriedStart: boolean,
 *           databases: string[], filtered: boolean }} input
 * @returns {{ action: 'ok' } | { action: 'start', services: string[] } | { action: 'stop' | 'warn', message: string }}
 */
export function planServices({ needed, answering, canStart, alreadyTriedStart, databases, filtered }) {
  const up = new Set(answering);
  const silent = needed.filter((service) => !up.has(service.id));
  if (silent.length === 0) return { action: 'ok' };
  if (canStart && !alreadyTriedStart) return { action: 'start', services: silent.map((service) => service.id) };
  const what = silent.map((service) => `${service.name} (${service.host}:${service.port})`).join(', ');
  const packages = silent.map((service) => service.debianPackage).join(' ');
  const databasesLeft = databases.filter((kind) => !silent.some((service) => service.id === kind));
  const leaveOut = silent.some((service) => service.id !== 'redis') && databasesLeft.length > 0 ? `, or leave it out with ${TEST_DATABASES_VARIABLE}=${databasesLeft.join(',')}` : '';
  const verb = silent.length === 1 ? 'does' : 'do';
  const message = `${what} ${verb} not answer: install and start ${silent.length === 1 ? 'it' : 'them'} (Debian: apt-get install ${packages}; then bash scripts/services.sh)${leaveOut}`;
  return { action: filtered ? 'warn' : 'stop', message };
}

/** Where a Chromium or Chrome usually is, after BYOK_CHROMIUM and the PATH. */
export const CHROMIUM_LOCATIONS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];
const CHROMIUM_COMMANDS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/**
 * The Chromium the browser test drives: BYOK_CHROMIUM when set (even if missing, so a
 * wrong value is reported rather than silently replaced), else the first that exists.
 *
 * @param {{ env: Record<string, string | undefined>, exists: (path: string) => boolean }} input
 * @returns {{ path: string | null, fromEnv: boolean }}
 */
export function findChromium({ env, exists }) {
  if (env.BYOK_CHROMIUM) return { path: exists(env.BYOK_CHROMIUM) ? env.BYOK_CHROMIUM : null, fromEnv: true };
  for (const path of CHROMIUM_LOCATIONS) if (exists(path)) return { path, fromEnv: false };
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const command of CHROMIUM_COMMANDS) if (exists(join(dir, command))) return { path: join(dir, command), fromEnv: false };
  }
  return { path: null, fromEnv: false };
}

/** The Debian commands that install chromium, as run.mjs runs them (root only). */
export const CHROMIUM_APT_COMMANDS = [
  ['apt-get', ['update', '-qq']],
  ['apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium']],
];

/**
 * What to do about Chromium.
 * - `ok`: not needed by this run, or found at `path`;
 * - `install`: Linux, root, apt-get present and it has not been tried yet: run
 *   {@link CHROMIUM_APT_COMMANDS}, then look again;
 * - `stop`: one line saying what to install (or that BYOK_CHROMIUM points nowhere).
 *
 * @param {{ needed: boolean, found: { path: string | null, fromEnv: boolean }, platform: string,
 *           isRoot: boolean, hasAptGet: boolean, alreadyTriedInstall: boolean, env?: Record<string, string | undefined> }} input
 * @returns {{ action: 'ok', path: string | null } | { action: 'install', commands: typeof CHROMIUM_APT_COMMANDS } | { action: 'stop', message: string }}
 */
export function planChromium({ needed, found, platform, isRoot, hasAptGet, alreadyTriedInstall, env = {} }) {
  if (!needed) return { action: 'ok', path: found.path };
  if (found.path) return { action: 'ok', path: found.path };
  if (found.fromEnv) return { action: 'stop', message: `BYOK_CHROMIUM=${env.BYOK_CHROMIUM} does not exist: point it at a Chromium or Chrome executable, or unset it` };
  if (platform === 'linux' && isRoot && hasAptGet && !alreadyTriedInstall) return { action: 'install', commands: CHROMIUM_APT_COMMANDS };
  const how =
    platform === 'linux'
      ? hasAptGet
        ? alreadyTriedInstall
          ? 'apt-get install chromium failed; install Debian\'s chromium by hand (apt-get install -y chromium)'
          : 'install Debian\'s chromium (sudo apt-get install -y chromium)'
        : 'install Chromium with your package manager'
      : platform === 'darwin'
        ? 'install Chromium or Google Chrome'
        : 'install Chromium';
  return { action: 'stop', message: `Chromium is missing (the browser test needs it): ${how}, or set BYOK_CHROMIUM to a Chromium or Chrome executable` };
}

/** The browser test's file, relative to the repository root. */
export const BROWSER_TEST = 'examples/express-server/test/example-browser.test.ts';

/** vitest options that take a value (their value is not a file filter). */
const VALUE_FLAGS = new Set([
  '-t', '--testNamePattern', '--project', '--reporter', '--outputFile', '-c', '--config', '--dir', '-r', '--root', '--shard',
  '--maxWorkers', '--pool', '--environment', '--exclude', '--bail', '--retry', '--testTimeout', '--hookTimeout', '--mode',
]);

/**
 * The file filters among the arguments given to `node scripts/run.mjs test` (vitest's
 * positional arguments: a test file runs when its path contains one of them).
 *
 * @param {string[]} args
 * @returns {string[]}
 */
export function fileFilters(args) {
  const filters = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg.startsWith('-')) {
      if (VALUE_FLAGS.has(arg)) i++;
      continue;
    }
    filters.push(arg);
  }
  return filters;
}

/**
 * Whether a run with these arguments includes the browser test (so needs Chromium).
 *
 * @param {{ args: string[], root: string, cwd: string }} input
 */
export function runsBrowserTest({ args, root, cwd }) {
  const filters = fileFilters(args);
  if (filters.length === 0) return true;
  return filters.some((filter) => {
    const asPath = isAbsolute(filter) || filter.startsWith('.') ? relative(root, resolve(cwd, filter)) : filter;
    return BROWSER_TEST.includes(asPath.split('\\').join('/')) || asPath === '';
  });
}

/**
 * Whether something accepts TCP connections at host:port within `timeoutMs`.
 *
 * @param {{ host: string, port: number, timeoutMs?: number }} input
 * @returns {Promise<boolean>}
 */
export function answers({ host, port, timeoutMs = 1500 }) {
  return new Promise((resolvePromise) => {
    const socket = connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether an executable named `command` is on the PATH. */
export function onPath(command, env = process.env) {
  return (env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
}
