import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, type Byok } from '@byok/core';
import { runAuditVerify } from '../src/cli/audit-command';
import { parseCliArgs } from '../src/cli/cli-args';
import { runKeysCommand } from '../src/cli/keys-command';
import { runKmsCommand } from '../src/cli/kms-command';
import { runCli } from '../src/cli/main';

function capture(cwd?: string) {
  const out = { stdout: '', stderr: '' };
  const stdout = { write: (t: string) => (out.stdout += t) };
  const stderr = { write: (t: string) => (out.stderr += t) };
  return { out, stdout, stderr, io: { ...(cwd ? { cwd } : {}), stdout, stderr } };
}

describe('parseCliArgs (node:util parseArgs, strict)', () => {
  const options = { batch: { type: 'string' }, json: { type: 'boolean' }, chain: { type: 'string', multiple: true } } as const;

  it('parses flags, inline values, repeats and positionals, and says where each stood', () => {
    const parsed = parseCliArgs(['rewrap', '--batch', '10', '--json', '--chain=a', '--chain', 'b', 'x'], options);
    expect(parsed).toMatchObject({ values: { batch: '10', json: true, chain: ['a', 'b'] }, positionals: ['rewrap', 'x'], positionalIndexes: [0, 7] });
    expect('error' in parsed ? undefined : parsed.optionIndexes).toEqual({ batch: [1, 2], json: [3], chain: [4, 5, 6] });
  });

  it.each([
    [['--bacth', '10'], 'Unknown argument: --bacth'],
    [['-b'], 'Unknown argument: -b'],
    [['--batch'], "Option '--batch <value>' argument missing"],
    [['--json=yes'], "Option '--json' does not take an argument"],
  ])('%j is a usage error', (args, message) => {
    const parsed = parseCliArgs(args, options);
    expect(parsed).toEqual({ error: expect.stringContaining(message) });
  });

  it('takes everything after -- as positionals', () => {
    expect(parseCliArgs(['--', '--bacth'], options)).toMatchObject({ positionals: ['--bacth'] });
  });
});

describe('byok CLI flags are checked before anything runs', () => {
  let dir: string;
  let dbFile: string;
  const savedKeys = process.env.BYOK_MASTER_KEYS;

  beforeAll(async () => {
    // the config file has no KMS of its own: the local KMS reads its key from here
    process.env.BYOK_MASTER_KEYS = `1:${Buffer.alloc(32, 7).toString('base64')}`;
    dir = mkdtempSync(join(tmpdir(), 'byok-cli-args-'));
    dbFile = join(dir, 'byok.db');
    writeFileSync(join(dir, 'byok.config.ts'), `export default { database: { sqlite: ${JSON.stringify(dbFile)} } };\n`);
    const run = capture(dir);
    expect(await runCli(['migrate'], run.io)).toBe(0);
  });
  afterAll(() => {
    if (savedKeys === undefined) delete process.env.BYOK_MASTER_KEYS;
    else process.env.BYOK_MASTER_KEYS = savedKeys;
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    [['kms', 'rewrap', '--bacth', '10'], 'Unknown argument: --bacth'],
    [['kms', 'rewrap', '--batch'], "Option '--batch <value>' argument missing"],
    [['migrate', '--stauts'], 'Unknown argument: --stauts'],
    [['migrate', '--status=yes'], "Option '--status' does not take an argument"],
    [['migrate', '--batch', '5'], 'Unknown argument: --batch'],
    [['migrate', 'now'], 'Unknown argument: now'],
    [['kms', 'status', '--batch', '5'], '--batch applies to rewrap only'],
    [['kms', 'status', 'extra'], 'Unknown argument: extra'],
    [['keys', 'rotate', '--publish-dealy', '5'], 'Unknown argument: --publish-dealy'],
    [['audit', 'verify', '--chian', 'system'], 'Unknown argument: --chian'],
    [['audit', 'verify', '--publish-delay', '5'], 'Unknown argument: --publish-delay'],
  ])('byok %j exits 2 naming the problem', async (argv, message) => {
    const run = capture(dir);
    expect(await runCli(argv, run.io)).toBe(2);
    expect(run.out.stderr).toContain(message);
    expect(run.out.stdout).toBe('');
  });

  it('an unknown flag fails even where no config could be loaded', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'byok-cli-args-empty-'));
    const run = capture(empty);
    expect(await runCli(['kms', 'rewrap', '--bacth', '10'], run.io)).toBe(2);
    expect(run.out.stderr).toContain('Unknown argument: --bacth');
    expect(run.out.stderr).not.toContain('No byok.config');
    rmSync(empty, { recursive: true, force: true });
  });

  it('still takes --config anywhere and the commands’ own flags', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'byok-cli-args-cwd-'));
    let run = capture(elsewhere);
    expect(await runCli(['--config', join(dir, 'byok.config.ts'), 'migrate', '--status'], run.io)).toBe(0);
    expect(run.out.stdout).toMatch(/^applied\s+0001/m);
    run = capture(elsewhere);
    expect(await runCli(['kms', `--config=${join(dir, 'byok.config.ts')}`, 'rewrap', '--batch', '10'], run.io)).toBe(0);
    expect(run.out.stdout).toContain('rewrap to');
    run = capture(elsewhere);
    expect(await runCli(['audit', '--json', 'verify', '--config', join(dir, 'byok.config.ts')], run.io)).toBe(0);
    expect(JSON.parse(run.out.stdout)).toMatchObject({ ok: true });
    rmSync(elsewhere, { recursive: true, force: true });
  });
});

describe('the command runners are strict when called directly', () => {
  let byok: Byok;
  beforeAll(async () => {
    byok = await createByok({ database: { memory: true } });
  });
  afterAll(() => byok.close());

  it('runKmsCommand refuses --bacth and rewraps nothing', async () => {
    const run = capture();
    expect(await runKmsCommand(['rewrap', '--bacth', '10'], { byok, stdout: run.stdout, stderr: run.stderr })).toBe(2);
    expect(run.out.stderr).toContain('Unknown argument: --bacth');
    expect(run.out.stdout).toBe('');
  });

  it('runKeysCommand and runAuditVerify refuse unknown flags', async () => {
    let run = capture();
    expect(await runKeysCommand(['list', '--jsno'], { byok, stdout: run.stdout, stderr: run.stderr })).toBe(2);
    expect(run.out.stderr).toContain('Unknown argument: --jsno');
    run = capture();
    expect(await runAuditVerify(['--checkpoints='], { store: byok.store, audit: byok.audit, stdout: run.stdout, stderr: run.stderr })).toBe(2);
    expect(run.out.stderr).toContain('--checkpoints needs a value');
    run = capture();
    expect(await runAuditVerify(['--json', 'extra'], { store: byok.store, audit: byok.audit, stdout: run.stdout, stderr: run.stderr })).toBe(2);
    expect(run.out.stderr).toContain('Unknown argument: extra');
  });
});
