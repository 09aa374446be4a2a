import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok } from '@byok/core';
import { runCli } from '../src/cli/main';

const coreDir = fileURLToPath(new URL('..', import.meta.url));

function io(cwd: string) {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: { cwd, stdout: { write: (t: string) => (out.stdout += t) }, stderr: { write: (t: string) => (out.stderr += t) } },
  };
}

describe('byok CLI', () => {
  let dir: string;
  let dbFile: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'byok-cli-'));
    dbFile = join(dir, 'byok.db');
    writeFileSync(
      join(dir, 'byok.config.ts'),
      `const options: { database: { sqlite: string }; tablePrefix: string } = { database: { sqlite: ${JSON.stringify(dbFile)} }, tablePrefix: 'app_byok_' };\nexport default options;\n`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads byok.config.ts, lists pending migrations, applies them once', async () => {
    let run = io(dir);
    expect(await runCli(['migrate', '--status'], run.io)).toBe(0);
    expect(run.out.stdout).toMatch(/^pending\s+0001/m);

    run = io(dir);
    expect(await runCli(['migrate'], run.io)).toBe(0);
    expect(run.out.stdout).toMatch(/applied .*0001/);

    run = io(dir);
    expect(await runCli(['migrate'], run.io)).toBe(0);
    expect(run.out.stdout).toContain('nothing to apply');

    run = io(dir);
    expect(await runCli(['migrate', '--status'], run.io)).toBe(0);
    expect(run.out.stdout).toMatch(/^applied\s+0001/m);

    const tables = new Database(dbFile, { readonly: true }).prepare("select name from sqlite_master where type = 'table' order by name").all() as Array<{ name: string }>;
    expect(tables.map((t) => t.name).every((n) => n.startsWith('app_byok_') || n.startsWith('sqlite_'))).toBe(true);
  });

  it('verifies the audit trail and names the first bad row after tampering', async () => {
    const byok = await createByok({ database: { sqlite: dbFile }, tablePrefix: 'app_byok_' });
    const { user } = await byok.users.findOrCreate({ issuer: 'https://issuer.test', subject: 'cli-user' });
    await byok.users.updatePreferences(user.id, { theme: 'dark' });
    await byok.users.updatePreferences(user.id, { theme: 'light' });
    await byok.close();

    let run = io(dir);
    expect(await runCli(['audit', 'verify'], run.io)).toBe(0);
    expect(run.out.stdout).toContain('OK');

    const raw = new Database(dbFile);
    const row = raw.prepare('select id, seq from app_byok_audit_log where chain = ? and seq = 2').get(`user:${user.id}`) as { id: string; seq: number };
    raw.prepare('update app_byok_audit_log set action = ? where id = ?').run('user.updated', row.id);
    raw.close();

    run = io(dir);
    expect(await runCli(['audit', 'verify'], run.io)).toBe(1);
    expect(run.out.stdout).toContain(row.id);
    expect(run.out.stdout).toContain(`user:${user.id}`);
  });

  it('fails clearly without a config and on unknown commands', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'byok-cli-empty-'));
    let run = io(empty);
    expect(await runCli(['migrate'], run.io)).toBe(1);
    expect(run.out.stderr).toContain('No byok.config.ts');
    run = io(dir);
    expect(await runCli(['frobnicate'], run.io)).toBe(2);
    rmSync(empty, { recursive: true, force: true });
  });

  it('ships a working `byok` binary in the built package', () => {
    const bin = join(coreDir, (JSON.parse(readFileSync(join(coreDir, 'package.json'), 'utf8')) as { bin: { byok: string } }).bin.byok);
    if (!existsSync(bin)) execFileSync('pnpm', ['run', 'build'], { cwd: coreDir, stdio: 'ignore' });
    const result = spawnSync(process.execPath, [bin, 'migrate', '--status'], { cwd: dir, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^applied\s+0001/m);
  }, 120_000);
});
