import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { isByokError } from '@byok/core';
import { loadConfig } from '../src/cli/config-loader';

// jiti is an optional peer of @byok/core: here it is "not installed".
vi.mock('jiti', () => {
  throw Object.assign(new Error("Cannot find package 'jiti'"), { code: 'ERR_MODULE_NOT_FOUND' });
});

describe('the CLI config loader without jiti', () => {
  const dir = mkdtempSync(join(tmpdir(), 'byok-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads byok.config.mjs and byok.config.cjs with Node alone', async () => {
    writeFileSync(join(dir, 'esm.mjs'), `export default { tablePrefix: 'esm_' };\n`);
    writeFileSync(join(dir, 'cjs.cjs'), `module.exports = async () => ({ tablePrefix: 'cjs_' });\n`);
    expect((await loadConfig('esm.mjs', dir)).options).toEqual({ tablePrefix: 'esm_' });
    expect((await loadConfig('cjs.cjs', dir)).options).toEqual({ tablePrefix: 'cjs_' });
  });

  it('refuses a TypeScript config with config_invalid naming jiti and the way out', async () => {
    writeFileSync(join(dir, 'byok.config.ts'), `export default { tablePrefix: 'ts_' as string };\n`);
    const error = await loadConfig(undefined, dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isByokError(error) && error.code).toBe('config_invalid');
    expect((error as Error).message).toContain('jiti');
    expect((error as Error).message).toContain('npm install --save-dev jiti');
    expect((error as Error).message).toContain('byok.config.mjs');
  });
});
