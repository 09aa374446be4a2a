import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startExample } from '../src/start-example';

const EXAMPLE_DIR = fileURLToPath(new URL('..', import.meta.url));
const CLI = fileURLToPath(new URL('../../../packages/core/dist/cli.cjs', import.meta.url));

// An unkeyed chain can be rewritten and re-hashed by whoever can write to the database;
// signed checkpoints written elsewhere are what catch that, so the example writes them by default.
describe('example server: signed audit checkpoints by default', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'byok-example-checkpoints-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('offline mode generates a checkpoint key once and writes checkpoints to a file outside the database', async () => {
    const first = await startExample({ port: 0, issuerPort: 0, dataDir, env: { NODE_ENV: 'test' } });
    const keyFile = join(dataDir, 'audit-checkpoint-key.pem');
    const checkpointFile = join(dataDir, 'audit-checkpoints.jsonl');
    try {
      expect(first.checkpointFile).toBe(checkpointFile);
      expect(first.offline?.checkpointKeyFile).toBe(keyFile);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dataDir, 'audit-checkpoint.pub'), 'utf8')).toContain('BEGIN PUBLIC KEY');
      for (const actor of [randomUUID(), randomUUID()]) await first.byok.audit.record({ actorUserId: actor, action: 'auth.refresh' });
    } finally {
      await first.close(); // flushes a checkpoint of every chain that moved
    }
    const lines = readFileSync(checkpointFile, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ v: 1, kid: expect.any(String), sig: expect.any(String) });

    // A restart keeps the key, so earlier checkpoints still verify.
    const key = readFileSync(keyFile, 'utf8');
    const second = await startExample({ port: 0, issuerPort: 0, dataDir, env: { NODE_ENV: 'test' } });
    try {
      await second.byok.audit.record({ actorUserId: randomUUID(), action: 'auth.refresh' });
    } finally {
      await second.close();
    }
    expect(readFileSync(keyFile, 'utf8')).toBe(key);
  }, 60_000);

  it('byok audit verify in the example folder (byok.config.ts) checks the trail against them, and says what it cannot prove without them', () => {
    expect(existsSync(CLI), `${CLI} is built by node scripts/run.mjs`).toBe(true);
    const verify = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, 'audit', 'verify', ...args], {
        cwd: EXAMPLE_DIR,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', DATA_DIR: dataDir },
        encoding: 'utf8',
        timeout: 30_000,
      });
    const pinned = verify('--checkpoints', join(dataDir, 'audit-checkpoints.jsonl'));
    expect(pinned.stderr).toBe('');
    expect(pinned.status).toBe(0);
    // Every chain is pinned up to its head (the server checkpoints at shutdown): one line, no NOT PROVEN.
    expect(pinned.stdout).toMatch(/^audit verify: OK — \d+ chains, \d+ rows, [1-9]\d* checkpoints matched\n$/);

    const bare = verify();
    expect(bare.status).toBe(0);
    expect(bare.stdout).toContain('no checkpoints given');
    expect(bare.stdout).toContain('NOT PROVEN without checkpoints');
  }, 60_000);

  it('with Google sign-in the checkpoint key and file are required like the master key', async () => {
    const google = {
      GOOGLE_CLIENT_ID: 'id.apps.googleusercontent.com',
      GOOGLE_CLIENT_SECRET: 'secret',
      BYOK_MASTER_KEYS: `1:${Buffer.alloc(32, 7).toString('base64')}`,
      PUBLIC_URL: 'https://byok.example',
    };
    await expect(startExample({ port: 0, dataDir, env: google })).rejects.toThrow(
      'Incomplete configuration: BYOK_AUDIT_CHECKPOINT_KEY, BYOK_AUDIT_CHECKPOINT_FILE are missing.',
    );
    await expect(
      startExample({ port: 0, dataDir, env: { ...google, BYOK_AUDIT_CHECKPOINT_KEY_FILE: join(dataDir, 'nope.pem'), BYOK_AUDIT_CHECKPOINT_FILE: join(dataDir, 'cp.jsonl') } }),
    ).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringContaining('Cannot read BYOK_AUDIT_CHECKPOINT_KEY_FILE') });
  });
});
