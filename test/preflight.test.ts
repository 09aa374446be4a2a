import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseTestDatabases as parseInTesting } from '@byok/testing';
import {
  BROWSER_TEST,
  CHROMIUM_APT_COMMANDS,
  fileFilters,
  findChromium,
  parseTestDatabases,
  planChromium,
  planServices,
  runsBrowserTest,
  servicesNeeded,
} from '../scripts/preflight.mjs';
import { root } from './workspace';

describe('BYOK_TEST_DATABASES in scripts/run.mjs', () => {
  const cases = [undefined, '', 'sqlite', 'postgres,sqlite', ' MariaDB , sqlite ', 'all', 'mysql,mariadb', 'postgresql', 'sqlite,', 'memory', 'sqlite;mysql'];

  it('parses exactly as @byok/testing does, accepting and rejecting the same values with the same message', () => {
    for (const value of cases) {
      const here = attempt(() => parseTestDatabases(value));
      const there = attempt(() => parseInTesting(value));
      expect(here, String(value)).toEqual(there);
    }
    expect(parseTestDatabases('postgres,sqlite')).toEqual(['sqlite', 'postgres']);
    expect(() => parseTestDatabases('postgresql')).toThrow('unknown database "postgresql"');
  });
});

function attempt(fn: () => string[]): { ok: string[] } | { error: string } {
  try {
    return { ok: fn() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

describe('Chromium', () => {
  const base = { needed: true, platform: 'linux', isRoot: true, hasAptGet: true, alreadyTriedInstall: false };
  const missing = { path: null, fromEnv: false };

  it('uses the one that is there, and does not care when the run has no browser test', () => {
    expect(planChromium({ ...base, found: { path: '/usr/bin/chromium', fromEnv: false } })).toEqual({ action: 'ok', path: '/usr/bin/chromium' });
    expect(planChromium({ ...base, needed: false, found: missing })).toEqual({ action: 'ok', path: null });
  });

  it('installs Debian’s chromium with apt-get only as root on Linux with apt-get, and only once', () => {
    expect(planChromium({ ...base, found: missing })).toEqual({ action: 'install', commands: CHROMIUM_APT_COMMANDS });
    expect(CHROMIUM_APT_COMMANDS.at(-1)).toEqual(['apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium']]);
    const failed = planChromium({ ...base, found: missing, alreadyTriedInstall: true });
    expect(failed).toEqual({
      action: 'stop',
      message: "Chromium is missing (the browser test needs it): apt-get install chromium failed; install Debian's chromium by hand (apt-get install -y chromium), or set BYOK_CHROMIUM to a Chromium or Chrome executable",
    });
  });

  it('otherwise stops with one line saying what to install', () => {
    for (const [facts, how] of [
      [{ isRoot: false }, "install Debian's chromium (sudo apt-get install -y chromium)"],
      [{ hasAptGet: false }, 'install Chromium with your package manager'],
      [{ platform: 'darwin', isRoot: false, hasAptGet: false }, 'install Chromium or Google Chrome'],
      [{ platform: 'win32', hasAptGet: false }, 'install Chromium'],
    ] as const) {
      const plan = planChromium({ ...base, ...facts, found: missing });
      expect(plan).toEqual({ action: 'stop', message: `Chromium is missing (the browser test needs it): ${how}, or set BYOK_CHROMIUM to a Chromium or Chrome executable` });
      expect((plan as { message: string }).message).not.toContain('\n');
    }
    expect(planChromium({ ...base, found: { path: null, fromEnv: true }, env: { BYOK_CHROMIUM: '/opt/none' } })).toEqual({
      action: 'stop',
      message: 'BYOK_CHROMIUM=/opt/none does not exist: point it at a Chromium or Chrome executable, or unset it',
    });
  });

  it('finds BYOK_CHROMIUM first, then the usual places, then the PATH', () => {
    const existing = (paths: string[]) => (path: string) => paths.includes(path);
    expect(findChromium({ env: { BYOK_CHROMIUM: '/opt/chrome' }, exists: existing(['/opt/chrome', '/usr/bin/chromium']) })).toEqual({ path: '/opt/chrome', fromEnv: true });
    expect(findChromium({ env: { BYOK_CHROMIUM: '/opt/chrome' }, exists: existing(['/usr/bin/chromium']) })).toEqual({ path: null, fromEnv: true });
    expect(findChromium({ env: {}, exists: existing(['/usr/bin/chromium']) })).toEqual({ path: '/usr/bin/chromium', fromEnv: false });
    expect(findChromium({ env: { PATH: '/a:/snap/bin' }, exists: existing(['/snap/bin/chromium']) })).toEqual({ path: '/snap/bin/chromium', fromEnv: false });
    expect(findChromium({ env: { PATH: '/a' }, exists: existing([]) })).toEqual({ path: null, fromEnv: false });
  });

  it('is needed when the run includes the browser test', () => {
    const at = (args: string[]) => runsBrowserTest({ args, root, cwd: root });
    expect(at([])).toBe(true);
    expect(at(['-t', 'packages'])).toBe(true); // a name filter: every file still runs
    expect(at(['examples'])).toBe(true);
    expect(at([BROWSER_TEST])).toBe(true);
    expect(at([`./${BROWSER_TEST}`])).toBe(true);
    expect(at(['.'])).toBe(true);
    expect(at(['packages/core', '--bail', '1'])).toBe(false);
    expect(runsBrowserTest({ args: ['test/example-browser'], root, cwd: `${root}examples/express-server` })).toBe(true);
    expect(fileFilters(['--reporter', 'dot', 'audit', '--bail', '1', '-t', 'x', '--run', 'cli'])).toEqual(['audit', 'cli']);
  });
});

describe('services', () => {
  const needed = servicesNeeded({ databases: ['sqlite', 'postgres', 'mysql'] });
  const base = { needed, databases: ['sqlite', 'postgres', 'mysql'], canStart: true, alreadyTriedStart: false, filtered: false };

  it('are the selected databases’ servers and Redis, at their configured addresses', () => {
    expect(needed.map((s) => `${s.id}@${s.host}:${s.port}`)).toEqual(['postgres@127.0.0.1:5432', 'mysql@127.0.0.1:3306', 'redis@127.0.0.1:6379']);
    expect(servicesNeeded({ databases: ['sqlite'] }).map((s) => s.id)).toEqual(['redis']);
    const moved = servicesNeeded({ databases: ['postgres'], env: { BYOK_TEST_PG_URL: 'postgres://u:secret@db.internal:6543/postgres' } });
    expect(moved[0]).toMatchObject({ id: 'postgres', host: 'db.internal', port: 6543 });
  });

  it('start what is silent once with scripts/services.sh, then stop with one line saying what to install or leave out', () => {
    expect(planServices({ ...base, answering: ['postgres', 'mysql', 'redis'] })).toEqual({ action: 'ok' });
    expect(planServices({ ...base, answering: ['redis'] })).toEqual({ action: 'start', services: ['postgres', 'mysql'] });
    expect(planServices({ ...base, answering: ['postgres', 'redis'], alreadyTriedStart: true })).toEqual({
      action: 'stop',
      message: 'MariaDB (127.0.0.1:3306) does not answer: install and start it (Debian: apt-get install mariadb-server; then bash scripts/services.sh), or leave it out with BYOK_TEST_DATABASES=sqlite,postgres',
    });
    expect(planServices({ ...base, answering: ['redis'], canStart: false })).toEqual({
      action: 'stop',
      message:
        'PostgreSQL (127.0.0.1:5432), MariaDB (127.0.0.1:3306) do not answer: install and start them (Debian: apt-get install postgresql mariadb-server; then bash scripts/services.sh), or leave it out with BYOK_TEST_DATABASES=sqlite',
    });
    // Redis cannot be left out: no BYOK_TEST_DATABASES advice.
    expect(planServices({ ...base, answering: ['postgres', 'mysql'], alreadyTriedStart: true })).toEqual({
      action: 'stop',
      message: 'Redis (127.0.0.1:6379) does not answer: install and start it (Debian: apt-get install redis-server; then bash scripts/services.sh)',
    });
    // Only some files asked for: they may not need it, so warn and go on.
    expect(planServices({ ...base, answering: ['postgres', 'mysql'], alreadyTriedStart: true, filtered: true })).toMatchObject({ action: 'warn' });
  });
});

describe('node scripts/run.mjs test stops at once, before installing anything', () => {
  const runTest = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['scripts/run.mjs', 'test'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('on a bad BYOK_TEST_DATABASES', () => {
    const run = runTest({ BYOK_TEST_DATABASES: 'sqlite,postgresql' });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(
      'byok tests cannot run: BYOK_TEST_DATABASES="sqlite,postgresql" names an unknown database "postgresql": use a comma-separated list of sqlite, postgres, mysql (or mariadb), e.g. BYOK_TEST_DATABASES=sqlite,postgres',
    );
    expect(run.stdout.trim()).toBe('0 passed, 1 failed');
  });

  it('when BYOK_CHROMIUM points nowhere', () => {
    const run = runTest({ BYOK_CHROMIUM: '/nonexistent/chromium' });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe('byok tests cannot run: BYOK_CHROMIUM=/nonexistent/chromium does not exist: point it at a Chromium or Chrome executable, or unset it');
  });

  it('when a selected database server does not answer, after trying scripts/services.sh', () => {
    const full = runTest({ BYOK_TEST_DATABASES: 'postgres', BYOK_TEST_PG_URL: 'postgres://postgres@127.0.0.1:9/postgres', BYOK_CHROMIUM: process.execPath });
    expect(full.status).toBe(1);
    expect(full.stderr.trim().split('\n').at(-1)).toBe(
      'byok tests cannot run: PostgreSQL (127.0.0.1:9) does not answer: install and start it (Debian: apt-get install postgresql; then bash scripts/services.sh)',
    );
  }, 120_000);
});
