import { createSecretKey, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, isByokError, localKms, type Byok } from '@byok/core';
import { createSealer } from '../src/vault/sealer';
import { createTestDatabase, selectTestBackends, type TestDatabase } from '@byok/testing';
import type { KyselyStore } from '../src/store/kysely/kysely-store';
import type { ProviderKeyRow } from '../src/store/provider-keys-repository';
import { createDekCache, type DekCacheEntryInfo } from '../src/vault/dek-cache';
import { SealedTextMemo } from '../src/vault/sealed-text-memo';

// The key lookup behind keyVault.withKey (it runs on every chat turn): five columns read
// through a precompiled statement, on SQLite as one raw row on the idle connection, with
// every check kept: scoped by user, bound to its row by the AAD, refused and audited when
// missing or invalid, never reading inside another task's open transaction.

const MASTER = `1:${Buffer.alloc(32, 5).toString('base64')}`;
const SECRET = 'AIzaSyLOOKUP-0123456789abcdefghijklmnopq';

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (e) {
    return isByokError(e) ? e.code : `not-byok: ${String(e)}`;
  }
}

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('key lookup on %s', (kind) => {
  let db: TestDatabase | undefined;
  let byok: Byok;
  let alice: string;
  let bob: string;
  let row: ProviderKeyRow;

  /** Stores `secret` for `userId` the way setKey does (sealed for that row), without a provider call. */
  async function storeKey(userId: string, secret: string, id: string, status: ProviderKeyRow['status'] = 'valid'): Promise<ProviderKeyRow> {
    const sealed = await byok.sealer.seal(secret, { purpose: 'provider_key', userId, provider: 'gemini', recordId: id });
    const stored: ProviderKeyRow = {
      id,
      userId,
      provider: 'gemini',
      sealed: sealed.toString('base64url'),
      kek: 'local:default:1',
      last4: secret.slice(-4),
      fingerprint: 'f'.repeat(16),
      status,
      statusReason: null,
      validatedAt: 1,
      createdAt: 1,
      updatedAt: 1,
    };
    await byok.store.providerKeys.replace(stored);
    return stored;
  }

  beforeAll(async () => {
    db = kind === 'memory' ? undefined : await createTestDatabase(kind);
    byok = await createByok({ database: db ? db.config : { memory: true }, kms: localKms({ keys: MASTER }) });
    alice = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'alice' })).user.id;
    bob = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'bob' })).user.id;
    row = await storeKey(alice, SECRET, '019a0000-0000-7000-8000-00000000a001');
  });
  afterAll(async () => {
    await byok.close();
    await db?.drop();
  });

  it('hands the key to the callback, and reads only the columns it needs, scoped by user', async () => {
    expect(await byok.keyVault.withKey(alice, 'gemini', (key) => key)).toBe(SECRET);
    const keys = byok.store.providerKeys;
    const lookup = keys.getForUse ? await keys.getForUse(alice, 'gemini') : await keys.get(alice, 'gemini');
    if (kind === 'memory') expect(keys.getForUse).toBeUndefined();
    else expect(lookup).toEqual({ id: row.id, userId: alice, provider: 'gemini', status: 'valid', sealed: row.sealed });
    expect(await keys.getForUse?.(bob, 'gemini')).toBeUndefined();
    expect(await keys.getForUse?.(alice, 'openai')).toBeUndefined();
  });

  it("another user's id finds nothing: key_missing, audited as a refusal", async () => {
    expect(await codeOf(byok.keyVault.withKey(bob, 'gemini', (key) => key))).toBe('key_missing');
    const trail = await byok.audit.list(bob);
    expect(trail.items[0]).toMatchObject({ action: 'key.use_refused', outcome: 'denied', metadata: { provider: 'gemini', reason: 'key_missing' } });
  });

  it('a sealed value copied to another user does not open (AAD binds user and row)', async () => {
    const copy: ProviderKeyRow = { ...row, id: '019a0000-0000-7000-8000-00000000b001', userId: bob };
    await byok.store.providerKeys.replace(copy);
    expect(await codeOf(byok.keyVault.withKey(bob, 'gemini', (key) => key))).toBe('seal_invalid');
    await byok.store.providerKeys.delete(bob, 'gemini');
  });

  it('a key known to be invalid is refused and audited, and never handed out', async () => {
    const carol = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: `carol-${kind}` })).user.id;
    await storeKey(carol, 'AIzaSyINVALID-000000000000000000000000000', '019a0000-0000-7000-8000-00000000c001', 'invalid');
    let called = false;
    expect(
      await codeOf(
        byok.keyVault.withKey(carol, 'gemini', () => {
          called = true;
        }),
      ),
    ).toBe('key_invalid');
    expect(called).toBe(false);
    expect((await byok.audit.list(carol)).items[0]).toMatchObject({ action: 'key.use_refused', metadata: { reason: 'key_invalid' } });
  });

  it('a changed stored value is opened anew, never from the decoded copy of the old one', async () => {
    const dave = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: `dave-${kind}` })).user.id;
    const id = '019a0000-0000-7000-8000-00000000d001';
    await storeKey(dave, 'AIzaSyFIRST-0000000000000000000000000000', id);
    expect(await byok.keyVault.withKey(dave, 'gemini', (key) => key)).toBe('AIzaSyFIRST-0000000000000000000000000000');
    // same row id, same user: only the sealed text differs
    await storeKey(dave, 'AIzaSySECOND-000000000000000000000000000', id);
    expect(await byok.keyVault.withKey(dave, 'gemini', (key) => key)).toBe('AIzaSySECOND-000000000000000000000000000');
  });

  it('never sees a change another task has not committed yet', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const pending = byok.store
      .transaction(async (tx) => {
        await tx.providerKeys.setStatus(alice, row.id, { status: 'invalid', statusReason: 'uncommitted', validatedAt: null, updatedAt: 2 });
        entered();
        await gate;
        throw new Error('roll back');
      })
      .catch(() => 'rolled back');
    await inside;
    const during = byok.keyVault.withKey(alice, 'gemini', (key) => key);
    release();
    expect(await pending).toBe('rolled back');
    expect(await during).toBe(SECRET);
  });
});

describe('readRowNow on byok-opened SQLite', () => {
  let db: TestDatabase;
  let byok: Byok;
  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    byok = await createByok({ database: db.config, kms: localKms({ keys: MASTER }) });
  });
  afterAll(async () => {
    await byok.close();
    await db.drop();
  });

  it('returns the first row as column values, null for none, and undefined inside a transaction', async () => {
    const store = byok.store as KyselyStore;
    const { user } = await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'dora' });
    const sql = `select id, name from ${store.tables.users} where id = ?`;
    expect(store.readRowNow(sql, [user.id])).toEqual([user.id, null]);
    expect(store.readRowNow(sql, ['019a0000-0000-7000-8000-00000000dead'])).toBeNull();
    expect(store.readNow(sql, [user.id])).toEqual([{ id: user.id, name: null }]);
    await store.transaction(async (tx) => {
      expect((tx as KyselyStore).readRowNow(sql, [user.id])).toBeUndefined();
      // the root store is busy too: the connection is this transaction's
      expect(store.readRowNow(sql, [user.id])).toBeUndefined();
    });
    expect(store.readRowNow(sql, [user.id])).toEqual([user.id, null]);
  });
});

describe('DEK cache recency (linked list) against a model LRU', () => {
  it('evicts exactly what a reference LRU evicts over a random workload', () => {
    let now = 0;
    const maxEntries = 8;
    const cache = createDekCache({ maxEntries, maxAgeMs: 1_000_000, maxUses: 1_000_000, clock: { now: () => now } });
    const model: number[] = []; // least recently used first
    const section = (slot: number) => Buffer.from(`section-${slot}`);
    const info = (slot: number): Omit<DekCacheEntryInfo, 'createdAt'> => ({ driverId: 'local', keyId: 'k', keyVersion: 1, purpose: 'p', userId: `u${slot % 3}`, subject: '', recordId: `r${slot}` });
    const key = createSecretKey(randomBytes(32));
    // mulberry32: a small deterministic generator, so a failure replays
    let seed = 42;
    const random = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return (((t ^ (t >>> 14)) >>> 0) % n);
    };
    let capacityEvictions = 0;
    for (let step = 0; step < 5000; step++) {
      now++;
      const slot = random(16);
      const op = random(100);
      if (op < 40) {
        cache.store(slot, section(slot), Buffer.from('aad'), key, info(slot));
        const at = model.indexOf(slot);
        if (at !== -1) model.splice(at, 1);
        model.push(slot);
        if (model.length > maxEntries) {
          model.shift();
          capacityEvictions++;
        }
      } else if (op < 98) {
        const s = section(slot);
        const hit = cache.lookup(slot, s, s.length, 'p', `u${slot % 3}`, '', `r${slot}`);
        const at = model.indexOf(slot);
        expect(hit !== undefined, `step ${step}: slot ${slot}`).toBe(at !== -1);
        if (at !== -1) {
          expect(hit!.info.recordId).toBe(`r${slot}`);
          model.splice(at, 1);
          model.push(slot);
        }
      } else {
        const user = `u${random(3)}`;
        const n = cache.evict((e) => e.userId === user);
        const kept = model.filter((s) => `u${s % 3}` !== user);
        expect(n).toBe(model.length - kept.length);
        model.splice(0, model.length, ...kept);
      }
      expect(cache.size).toBe(model.length);
    }
    expect(capacityEvictions).toBeGreaterThan(500);
    expect(cache.flush()).toBe(model.length);
    expect(cache.size).toBe(0);
    cache.store(1, section(1), Buffer.from('aad'), key, info(1));
    expect(cache.lookup(1, section(1), section(1).length, 'p', 'u1', '', 'r1')).toBeDefined();
  });
});

describe('SealedTextMemo', () => {
  it('decodes as Buffer.from does, serves a repeat from memory, and stays bounded', () => {
    const memo = new SealedTextMemo(3);
    const texts = Array.from({ length: 5 }, () => randomBytes(40).toString('base64url'));
    const first = memo.bytesOf(texts[0]!);
    expect(first.equals(Buffer.from(texts[0]!, 'base64url'))).toBe(true);
    expect(memo.bytesOf(texts[0]!)).toBe(first);
    for (const text of texts) expect(memo.bytesOf(text).equals(Buffer.from(text, 'base64url'))).toBe(true);
    expect(memo.size).toBe(3);
    expect(memo.bytesOf(texts[0]!)).not.toBe(first); // dropped, decoded again
  });
});

describe('the sealer opening the same buffer again', () => {
  it('reads its current bytes every time: a byte changed in place is refused, restored it opens', async () => {
    const sealer = createSealer({ kms: localKms({ keys: MASTER }) });
    const ctx = { purpose: 'provider_key', userId: 'u1', provider: 'gemini', recordId: 'r1' } as const;
    const sealed = await sealer.seal(SECRET, ctx);
    expect((await sealer.open(sealed, ctx)).toString()).toBe(SECRET);
    for (const at of [sealed.length - 1, sealed.length - 20, sealed.length - 40]) {
      sealed[at] = sealed[at]! ^ 0x01; // tag, ciphertext, nonce
      expect(await codeOf(sealer.open(sealed, ctx)), `byte ${at}`).toBe('seal_invalid');
      sealed[at] = sealed[at]! ^ 0x01;
      expect((await sealer.open(sealed, ctx)).toString()).toBe(SECRET);
    }
    expect(await codeOf(sealer.open(sealed, { ...ctx, recordId: 'r2' }))).toBe('seal_invalid');
    await sealer.close();
  });
});
