import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, localKms, type Byok } from '@byok/core';
import { createSealer } from '@byok/core/kms';
import { rewrapAll, sealedKekCounts } from '../src/vault/rewrap';
import { gemini } from '@byok/gemini';
import { createTestDatabase, selectTestBackends, startGeminiStandIn, type LlmStandIn, type TestDatabase } from '@byok/testing';
import { runCli } from '../src/cli/main';

const K1 = `1:${Buffer.alloc(32, 1).toString('base64')}`;
const K2 = `2:${Buffer.alloc(32, 2).toString('base64')}`;
const key = (i: number, gen = 0) => `AIzaSyREWRAP-${String(gen).padStart(2, '0')}-${String(i).padStart(24, '0')}`;
const USERS = 60;

describe.each(selectTestBackends(['sqlite', 'postgres'] as const))('kms rewrap on %s', (kind) => {
  let standIn: LlmStandIn;
  let db: TestDatabase;
  let before: Byok;
  let after: Byok;
  const users: string[] = [];
  const expected = new Map<string, string | null>();

  beforeAll(async () => {
    standIn = await startGeminiStandIn({ acceptKey: () => true });
    db = await createTestDatabase(kind);
    const providers = [gemini({ baseUrl: standIn.url })];
    before = await createByok({ database: db.config, kms: localKms({ keys: K1 }), providers });
    after = await createByok({ database: db.config, kms: localKms({ keys: `${K2},${K1}` }), providers });
    for (let i = 0; i < USERS; i++) {
      const { user } = await before.users.findOrCreate({ issuer: 'https://i.test', subject: `u${i}` });
      users.push(user.id);
      await before.keyVault.setKey(user.id, 'gemini', key(i));
      expected.set(user.id, key(i));
    }
  });
  afterAll(async () => {
    await before.close();
    await after.close();
    await standIn.close();
    await db.drop();
  });

  it('re-wraps every data key under the new primary while keys are set and removed, and a concurrent write wins', async () => {
    const counts = await after.store.sealedRecords.countByKek();
    expect(counts).toEqual([{ table: 'provider_keys', kek: 'local:master:1', count: USERS }]);

    // interrupt a first run after its first batch: a killed run resumes by running again
    const controller = new AbortController();
    const partial = await rewrapAll({ store: after.store, sealer: after.sealer, batchSize: 10, onProgress: () => controller.abort(), signal: controller.signal });
    expect(partial.rewrapped).toBe(10);

    const progress: number[] = [];
    const writes = (async () => {
      for (let i = 0; i < USERS; i += 3) {
        const user = users[i]!;
        if (i % 2) {
          await after.keyVault.removeKey(user, 'gemini');
          expected.set(user, null);
        } else {
          await before.keyVault.setKey(user, 'gemini', key(i, 1)); // an old-version writer racing the job
          expected.set(user, key(i, 1));
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    const report = await rewrapAll({ store: after.store, sealer: after.sealer, audit: after.audit, batchSize: 7, onProgress: (p) => progress.push(p.done) });
    await writes;
    expect(report.failed).toBe(0);
    expect(report.rewrapped + report.superseded).toBeGreaterThan(0);
    expect(progress.length).toBeGreaterThan(1);

    // a second pass picks up what the racing old-version writer left behind
    await rewrapAll({ store: after.store, sealer: after.sealer });
    const final = await after.store.sealedRecords.countByKek();
    expect(final.every((c) => c.kek === 'local:master:2')).toBe(true);

    // every key that should exist opens with only the new master key, unchanged
    const onlyNew = await createByok({ database: db.config, kms: localKms({ keys: K2 }), migrate: false });
    for (const user of users) {
      const want = expected.get(user)!;
      if (want === null) {
        await expect(onlyNew.keyVault.withKey(user, 'gemini', (k) => k)).rejects.toMatchObject({ code: 'key_missing' });
      } else {
        expect(await onlyNew.keyVault.withKey(user, 'gemini', (k) => k)).toBe(want);
      }
    }
    await onlyNew.close();
  });
});

describe('byok kms CLI', () => {
  let dir: string;
  let standIn: LlmStandIn;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'byok-kms-'));
    standIn = await startGeminiStandIn({ acceptKey: () => true });
  });
  afterAll(async () => {
    await standIn.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (argv: string[]) => {
    const out = { stdout: '', stderr: '' };
    const code = await runCli(argv, { cwd: dir, stdout: { write: (t: string) => (out.stdout += t) }, stderr: { write: (t: string) => (out.stderr += t) } });
    return { code, ...out };
  };

  it('shows status per KEK version, rewraps with a progress bar, and retires old versions only when unused', async () => {
    const file = join(dir, 'byok.db');
    const providers = [gemini({ baseUrl: standIn.url })];
    const v1 = await createByok({ database: { sqlite: file }, kms: localKms({ keys: K1 }), providers });
    for (let i = 0; i < 5; i++) {
      const { user } = await v1.users.findOrCreate({ issuer: 'https://i.test', subject: `cli${i}` });
      await v1.keyVault.setKey(user.id, 'gemini', key(i));
    }
    await v1.close();
    writeFileSync(join(dir, 'byok.config.mjs'), `export default { database: { sqlite: ${JSON.stringify(file)} }, kms: (await import(${JSON.stringify(new URL('../src/kms/local-kms.ts', import.meta.url).pathname)})).localKms({ keys: ${JSON.stringify(`${K2},${K1}`)} }) };\n`);

    let r = await run(['kms', 'status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('primary KEK: local:master:2');
    expect(r.stdout).toMatch(/provider_keys\s+local:master:1\s+5/);

    r = await run(['kms', 'min-version', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('5 record(s) still use a version below 2');

    r = await run(['kms', 'rewrap', '--batch', '2']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\[#+\.*\] 2\/5 provider_keys/);
    expect(r.stderr).toMatch(/\[#{30}\] 5\/5/);
    expect(r.stdout).toContain('5 rewrapped');

    r = await run(['kms', 'status']);
    expect(r.stdout).toContain('every record is under the primary KEK');
    r = await run(['kms', 'min-version', '2']);
    expect(r.code).toBe(0);
  });
});

describe.each(selectTestBackends(['memory', 'sqlite', 'mysql'] as const))('rewrap of signing keys and issuer tokens on %s', (kind) => {
  it('re-wraps them too, so retiring the old KEK version leaves every value openable', async () => {
    const db = kind === 'memory' ? undefined : await createTestDatabase(kind);
    const config = db ? db.config : ({ memory: true } as const);
    const v1 = await createByok({ database: config, kms: localKms({ keys: K1 }) });
    const { user } = await v1.users.findOrCreate({ issuer: 'https://i.test', subject: 'tokens' });
    const recordId = '019a0000-0000-7000-8000-00000000f00d';
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
    await v1.store.signingKeys.insert({
      id: 'kid-1',
      alg: 'EdDSA',
      publicJwk: '{}',
      privateSealed: b64(await v1.sealer.sealSigningKey('{"d":"private"}', { kid: 'kid-1' })),
      createdAt: 1,
      notBefore: 1,
      retiredAt: null,
    });
    await v1.store.oauthTokens.put({
      id: recordId,
      userId: user.id,
      issuer: 'https://i.test',
      accessTokenSealed: b64(await v1.sealer.sealOAuthToken('access-token', { userId: user.id, tokenKind: 'access', recordId })),
      refreshTokenSealed: b64(await v1.sealer.sealOAuthToken('refresh-token', { userId: user.id, tokenKind: 'refresh', recordId })),
      expiresAt: null,
      createdAt: 1,
      updatedAt: 1,
    });
    const store = v1.store;
    const v2 = createSealer({ kms: localKms({ keys: `${K2},${K1}` }) });
    const before = await sealedKekCounts(store, v2);
    expect(before.filter((c) => c.table !== 'provider_keys')).toEqual([
      { table: 'signing_keys', kek: 'local:master:1', count: 1 },
      { table: 'oauth_access_tokens', kek: 'local:master:1', count: 1 },
      { table: 'oauth_refresh_tokens', kek: 'local:master:1', count: 1 },
    ]);
    const report = await rewrapAll({ store, sealer: v2 });
    expect(report).toMatchObject({ rewrapped: 3, failed: 0 });
    expect((await sealedKekCounts(store, v2)).every((c) => c.kek === 'local:master:2')).toBe(true);

    const onlyV2 = createSealer({ kms: localKms({ keys: K2 }) });
    const [signing] = await store.signingKeys.list();
    expect(await onlyV2.openSigningKey(Buffer.from(signing!.privateSealed, 'base64url'), { kid: 'kid-1' })).toBe('{"d":"private"}');
    const tokens = (await store.oauthTokens.get(user.id, 'https://i.test'))!;
    expect(await onlyV2.openOAuthToken(Buffer.from(tokens.accessTokenSealed!, 'base64url'), { userId: user.id, tokenKind: 'access', recordId })).toBe('access-token');
    expect(await onlyV2.openOAuthToken(Buffer.from(tokens.refreshTokenSealed!, 'base64url'), { userId: user.id, tokenKind: 'refresh', recordId })).toBe('refresh-token');
    await v1.close();
    await db?.drop();
  });
});
