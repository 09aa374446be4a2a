import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateLocalKeyFile, isByokError, localKms } from '@byok/core';
import { createSealer } from '@byok/core/kms';
import { parseMasterKeys } from '../src/kms/local-master-keys';

const b64 = (n = 32) => randomBytes(n).toString('base64');

function configError(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isByokError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a config error');
}

describe('localKms configuration', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'byok-kms-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads BYOK_MASTER_KEYS and makes the highest version primary', async () => {
    const kms = localKms({ env: { BYOK_MASTER_KEYS: `1:${b64()}, 3:${b64()} ,2:${b64()}` } });
    expect(kms.primaryKey()).toEqual({ keyId: 'master', version: 3 });
    expect(kms.versions).toEqual([3, 2, 1]);
    expect(await kms.listKeys()).toEqual([
      { keyId: 'master', version: 3, primary: true, state: 'active' },
      { keyId: 'master', version: 2, primary: false, state: 'active' },
      { keyId: 'master', version: 1, primary: false, state: 'active' },
    ]);
    kms.setMinimumVersion(2);
    expect((await kms.listKeys())[2]).toMatchObject({ version: 1, state: 'retired' });
    expect(() => kms.setMinimumVersion(4)).toThrow(/minimumVersion/);
  });

  it('accepts base64url keys', () => {
    expect(localKms({ keys: `1:${randomBytes(32).toString('base64url')}` }).primaryKey().version).toBe(1);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['missing', '', /no master key/],
    ['no version', b64(), /expected "<version>:<base64 key>"/],
    ['short key', `1:${b64(16)}`, /16 bytes; a master key must be exactly 32 bytes/],
    ['long key', `1:${b64(48)}`, /48 bytes/],
    ['not base64', '1:this is not base64!!', /not valid base64/],
    ['empty key', '1:', /not valid base64/],
    ['version zero', `0:${b64()}`, /from 1 to/],
    ['negative version', `-1:${b64()}`, /positive integer/],
    ['duplicate version', `1:${b64()},1:${b64()}`, /appears more than once/],
    ['huge version', `99999999999:${b64()}`, /positive integer/],
  ];
  for (const [name, keys, pattern] of bad) {
    it(`refuses ${name} with config_invalid and no key material in the message`, () => {
      const error = configError(() => localKms({ keys }));
      expect(error.code).toBe('config_invalid');
      expect(error.message).toMatch(pattern);
      const material = keys.split(':')[1];
      if (material) expect(error.message).not.toContain(material.trim());
    });
  }

  it('says how to configure when nothing is set', () => {
    const error = configError(() => localKms({ env: {} }));
    expect(error.code).toBe('config_invalid');
    expect(error.message).toMatch(/BYOK_MASTER_KEYS/);
    expect(error.message).toMatch(/generateLocalKeyFile/);
  });

  it('refuses keys and keyFile together, and an unreadable key file', () => {
    expect(configError(() => localKms({ keys: `1:${b64()}`, keyFile: '/x' })).message).toMatch(/not both/);
    const error = configError(() => localKms({ keyFile: join(dir, 'absent') }));
    expect(error.code).toBe('config_invalid');
    expect(error.message).toMatch(/ENOENT/);
  });

  it('parses key files with comments and newlines', async () => {
    const file = join(dir, 'keys-with-comments');
    await writeFile(file, `# comment\n\n2:${b64()}\n# old\n1:${b64()}\n`);
    expect(localKms({ keyFile: file }).versions).toEqual([2, 1]);
    expect(localKms({ env: { BYOK_MASTER_KEY_FILE: file } }).versions).toEqual([2, 1]);
    expect(parseMasterKeys(`5:${b64()}`, 'x')[0]!.material.length).toBe(32);
  });

  it('generateLocalKeyFile creates a 0600 file once, keeps it, and rotates on request', async () => {
    const file = join(dir, 'nested', 'master-keys');
    const created = await generateLocalKeyFile(file);
    expect(created).toMatchObject({ changed: true, primaryVersion: 1, versions: [1] });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const first = await readFile(file, 'utf8');
    const sealer = createSealer({ kms: localKms({ keyFile: file }) });
    const ctx = { purpose: 'p', userId: 'u', recordId: 'r' };
    const sealed = await sealer.seal('kept', ctx);

    expect(await generateLocalKeyFile(file)).toMatchObject({ changed: false, primaryVersion: 1 });
    expect(await readFile(file, 'utf8')).toBe(first);

    const rotated = await generateLocalKeyFile(file, { rotate: true });
    expect(rotated).toMatchObject({ changed: true, primaryVersion: 2, versions: [2, 1] });
    const kms = localKms({ keyFile: file });
    expect(kms.primaryKey().version).toBe(2);
    const after = createSealer({ kms });
    expect((await after.open(sealed, ctx)).toString()).toBe('kept');
    expect(after.keyVersionOf(await after.seal('new', ctx)).keyVersion).toBe(2);
    expect(await after.isPrimary(sealed)).toBe(false);
  });
});
