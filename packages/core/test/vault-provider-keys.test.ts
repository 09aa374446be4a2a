import { readFileSync, existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, isByokError, localKms, type Byok } from '@byok/core';
import { gemini } from '@byok/gemini';
import { createTestDatabase, selectTestBackends, startGeminiStandIn, type LlmStandIn, type TestDatabase } from '@byok/testing';

const MASTER = `1:${Buffer.alloc(32, 7).toString('base64')}`;
const GOOD = 'AIzaSyGOOD-key-0000000000000000000000001';
const OTHER = 'AIzaSyOTHER-key-000000000000000000000002';

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (e) {
    return isByokError(e) ? e.code : 'not-byok';
  }
}

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('provider keys on %s', (kind) => {
  let standIn: LlmStandIn;
  let db: TestDatabase | undefined;
  let byok: Byok;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    standIn = await startGeminiStandIn({ keys: [GOOD, OTHER] });
    db = kind === 'memory' ? undefined : await createTestDatabase(kind);
    byok = await createByok({
      database: db ? db.config : { memory: true },
      kms: localKms({ keys: MASTER }),
      providers: [gemini({ baseUrl: standIn.url })],
    });
    alice = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'alice' })).user.id;
    bob = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'bob' })).user.id;
  });
  afterAll(async () => {
    await byok.close();
    await standIn.close();
    await db?.drop();
  });

  it('validates, seals and shows only last 4 and a fingerprint', async () => {
    const status = await byok.keyVault.setKey(alice, 'gemini', GOOD);
    expect(status).toMatchObject({ provider: 'gemini', last4: GOOD.slice(-4), status: 'valid', statusReason: null });
    expect(status.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(status)).not.toContain(GOOD);
    expect(await byok.keyVault.withKey(alice, 'gemini', (key) => key)).toBe(GOOD);
    expect(await byok.keyVault.listStatuses(alice)).toHaveLength(1);
  });

  it('refuses a key the provider calls invalid and stores nothing', async () => {
    expect(await codeOf(byok.keyVault.setKey(bob, 'gemini', 'AIzaSyWRONG-key-00000000000000000000003'))).toBe('key_invalid');
    expect(await byok.keyVault.listStatuses(bob)).toEqual([]);
  });

  it('stores an unverified key with its reason when the provider is unavailable', async () => {
    standIn.injectFault({ kind: 'server-error', status: 503 });
    const status = await byok.keyVault.setKey(bob, 'gemini', OTHER);
    standIn.clearFaults();
    expect(status.status).toBe('unverified');
    expect(status.statusReason).toEqual(expect.any(String));
    const tested = await byok.keyVault.testKey(bob, 'gemini');
    expect(tested).toMatchObject({ status: 'valid', stored: true });
    expect((await byok.keyVault.getStatus(bob, 'gemini')).status).toBe('valid');
  });

  it('refuses a provider that is not configured', async () => {
    expect(await codeOf(byok.keyVault.setKey(bob, 'openai', OTHER))).toBe('validation_failed');
    expect(await codeOf(byok.keyVault.withKey(bob, 'openai', (k) => k))).toBe('key_missing');
  });

  it('keeps users apart: with a key of alice’s stored, bob’s calls for that provider find nothing and change nothing', async () => {
    await byok.keyVault.removeKey(bob, 'gemini');
    const aliceRow = await byok.store.providerKeys.get(alice, 'gemini');
    expect(aliceRow).toMatchObject({ userId: alice, provider: 'gemini', status: 'valid' });
    expect(await codeOf(byok.keyVault.withKey(bob, 'gemini', (k) => k))).toBe('key_missing');
    expect(await codeOf(byok.keyVault.getStatus(bob, 'gemini'))).toBe('key_missing');
    expect(await codeOf(byok.keyVault.testKey(bob, 'gemini'))).toBe('key_missing');
    expect(await codeOf(byok.keyVault.removeKey(bob, 'gemini'))).toBe('key_missing');
    expect(await byok.keyVault.listStatuses(bob)).toEqual([]);
    expect(await byok.store.providerKeys.get(alice, 'gemini')).toEqual(aliceRow);
    expect(await byok.keyVault.withKey(alice, 'gemini', (key) => key)).toBe(GOOD);
  });

  it('audits set, test and remove and refused use, never the key', async () => {
    const trail = await byok.audit.list(bob, { limit: 100 });
    const actions = trail.items.map((i) => `${i.action}:${i.outcome}`);
    expect(actions).toEqual(expect.arrayContaining(['key.set:failure', 'key.set:success', 'key.tested:success', 'key.removed:success', 'key.use_refused:denied']));
    expect(JSON.stringify(trail)).not.toContain(OTHER);
    expect((await byok.audit.verify()).ok).toBe(true);
  });

  it('replaces a key and deletes keys with the user', async () => {
    await byok.keyVault.setKey(alice, 'gemini', OTHER);
    expect(await byok.keyVault.withKey(alice, 'gemini', (key) => key)).toBe(OTHER);
    await byok.users.delete(alice);
    expect(await byok.keyVault.listStatuses(alice)).toEqual([]);
  });
});

describe('canary: a key never reaches the database, logs, audit, errors or responses', () => {
  const CANARY = 'AIzaSyCANARY-canary-canary-canary-000042';
  const BAD_CANARY = 'AIzaSyBADCANARY-canary-canary-canary-0043';
  let standIn: LlmStandIn;
  let byok: Byok;
  let db: TestDatabase;
  const logs: string[] = [];

  beforeAll(async () => {
    standIn = await startGeminiStandIn({ keys: [CANARY], echoKeyInErrors: true });
    db = await createTestDatabase('sqlite');
    const sink = (obj: object, msg?: string) => void logs.push(JSON.stringify({ obj, msg }));
    byok = await createByok({
      database: db.config,
      kms: localKms({ keys: MASTER }),
      providers: [gemini({ baseUrl: standIn.url })],
      logger: { info: sink, warn: sink, error: sink },
      http: { authenticate: async (req) => (req.headers['x-user'] ? { userId: req.headers['x-user'], via: 'host' } : null) },
    });
  });
  afterAll(async () => {
    await byok.close();
    await standIn.close();
    await db.drop();
  });

  it('leaves no trace of the canary anywhere', async () => {
    const { user } = await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'canary' });
    const headers = { 'x-user': user.id };
    const responses: unknown[] = [];
    const call = async (method: string, url: string, body?: unknown) => {
      const res = await byok.http.handle({ method, url, headers, body, remoteAddress: '127.0.0.1' });
      responses.push(res);
      return res;
    };
    expect((await call('PUT', '/keys/gemini', { apiKey: CANARY })).status).toBe(200);
    expect((await call('PUT', '/keys/gemini', { apiKey: BAD_CANARY })).status).toBe(422);
    expect((await call('POST', '/keys/gemini/test', { apiKey: BAD_CANARY })).status).toBe(200);
    expect((await call('POST', '/keys/gemini/test', {})).status).toBe(200);
    expect((await call('PUT', '/keys/gemini', { apiKey: `${CANARY} with spaces` })).status).toBe(400);
    expect((await call('PUT', '/keys/gemini', { apiKey: CANARY, extra: CANARY })).status).toBe(400);
    expect((await call('PUT', '/keys/unknown-provider', { apiKey: CANARY })).status).toBe(400);
    expect((await call('GET', '/keys')).status).toBe(200);
    expect((await call('GET', '/keys/gemini')).status).toBe(200);
    standIn.injectFault({ kind: 'server-error', status: 500 });
    await call('POST', '/keys/gemini/test', {});
    standIn.clearFaults();
    const errors: unknown[] = [];
    try {
      await byok.keyVault.setKey(user.id, 'gemini', BAD_CANARY);
    } catch (e) {
      errors.push({ message: (e as Error).message, cause: String((e as Error).cause), stack: (e as Error).stack, json: JSON.stringify(e) });
    }
    expect(errors).toHaveLength(1);
    const audit = await byok.audit.list(user.id, { limit: 100 });
    await byok.close();

    const file = (db.config as { sqlite: string }).sqlite;
    const raw = [file, `${file}-wal`, `${file}-shm`].filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('');
    for (const secret of [CANARY, BAD_CANARY]) {
      expect(raw).not.toContain(secret);
      expect(JSON.stringify(responses)).not.toContain(secret);
      expect(logs.join('\n')).not.toContain(secret);
      expect(JSON.stringify(audit)).not.toContain(secret);
      expect(JSON.stringify(errors)).not.toContain(secret);
    }
    expect(standIn.requests.some((r) => JSON.stringify(r).includes(CANARY))).toBe(true); // it was really used
  });
});
