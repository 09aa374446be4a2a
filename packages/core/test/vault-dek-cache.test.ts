import { createSecretKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { localKms, type KmsDriver, type SealContext } from '@byok/core';
import { createSealer } from '@byok/core/kms';
import { createDekCache } from '../src/vault/dek-cache';

const keys = `3:${randomBytes(32).toString('base64')},2:${randomBytes(32).toString('base64')},1:${randomBytes(32).toString('base64')}`;
const ctxFor = (i: number, userId = `user-${i % 7}`): SealContext => ({ purpose: 'provider_key', userId, provider: 'gemini', recordId: `rec-${i}` });

/** Wraps a driver to count its KMS calls. */
function counted(driver: KmsDriver): KmsDriver & { wraps: number; unwraps: number } {
  const out = Object.create(driver) as KmsDriver & { wraps: number; unwraps: number };
  out.wraps = 0;
  out.unwraps = 0;
  out.wrap = (...args) => {
    out.wraps++;
    return driver.wrap(...args);
  };
  out.unwrap = (...args) => {
    out.unwraps++;
    return driver.unwrap(...args);
  };
  return out;
}

const info = (recordId: string) => ({ driverId: 'local', keyId: 'master', keyVersion: 1, purpose: 'p', userId: 'u', subject: '', recordId });

describe('DEK cache', () => {
  it('10,000 opens over 100 records cost 100 unwraps', async () => {
    const kms = counted(localKms({ keys }));
    const writer = createSealer({ kms, cache: false });
    const sealed: Buffer[] = [];
    for (let i = 0; i < 100; i++) sealed.push(await writer.seal(`secret-${i}`, ctxFor(i)));
    const reader = createSealer({ kms });
    for (let n = 0; n < 10_000; n++) {
      const i = n % 100;
      const plain = await reader.open(sealed[i]!, ctxFor(i));
      if (n < 100) expect(plain.toString()).toBe(`secret-${i}`);
    }
    expect(kms.unwraps).toBe(100);
    const stats = reader.stats();
    expect(stats.kmsUnwraps).toBe(100);
    expect(stats.cacheHits).toBe(9_900);
    expect(stats.opens).toBe(10_000);
    expect(stats.cacheSize).toBe(100);
  });

  it('caches the data key of a fresh seal, so opening it needs no unwrap', async () => {
    const kms = counted(localKms({ keys }));
    const sealer = createSealer({ kms });
    const sealed = await sealer.seal('value', ctxFor(1));
    expect((await sealer.open(sealed, ctxFor(1))).toString()).toBe('value');
    expect(kms.unwraps).toBe(0);
    const noSealCache = createSealer({ kms, cacheOnSeal: false });
    await noSealCache.open(await noSealCache.seal('value', ctxFor(2)), ctxFor(2));
    expect(kms.unwraps).toBe(1);
  });

  it('bounds entries (LRU), age and uses', () => {
    let now = 1_000;
    const cache = createDekCache({ maxEntries: 3, maxAgeMs: 100, maxUses: 2, clock: { now: () => now } });
    const section = (slot: number) => Buffer.from(`key-section-${slot}`);
    const put = (slot: number) => cache.store(slot, section(slot), Buffer.from('aad'), createSecretKey(randomBytes(32)), info(`r${slot}`));
    const get = (slot: number, recordId = `r${slot}`) => {
      const s = section(slot);
      return cache.lookup(slot, s, s.length, 'p', 'u', '', recordId);
    };
    put(1);
    put(2);
    put(3);
    expect(get(1)).toBeDefined(); // 1 becomes most recent
    put(4); // evicts 2, the least recently used
    expect(cache.size).toBe(3);
    expect(get(2)).toBeUndefined();
    expect(get(3)).toBeDefined();
    // verification: same slot, other record or other key section → miss
    expect(get(3, 'r-other')).toBeUndefined();
    expect(cache.lookup(3, Buffer.from('key-section-X'), 13, 'p', 'u', '', 'r3')).toBeUndefined();
    expect(cache.lookup(3, Buffer.from('key-section-3 and more'), 22, 'p', 'u', '', 'r3')).toBeUndefined();
    // uses: 1 has been used once; a second use is allowed, a third is not
    expect(get(1)).toBeDefined();
    expect(get(1)).toBeUndefined();
    // age
    now += 101;
    expect(get(3)).toBeUndefined();
    expect(get(4)).toBeUndefined();
    expect(cache.size).toBe(0);
    const stats = cache.stats();
    expect(stats.hits).toBe(3);
    expect(stats.evictions).toBe(4);
  });

  it('re-unwraps after max uses and max age', async () => {
    let now = 0;
    const kms = counted(localKms({ keys }));
    const sealed = await createSealer({ kms, cache: false }).seal('v', ctxFor(1));
    const sealer = createSealer({ kms, cache: { maxUses: 3, maxAgeMs: 1000, clock: { now: () => now } } });
    for (let i = 0; i < 8; i++) await sealer.open(sealed, ctxFor(1));
    // uses: miss (unwrap) + 3 hits, then miss + 3 hits
    expect(kms.unwraps).toBe(2);
    now = 5_000;
    await sealer.open(sealed, ctxFor(1));
    expect(kms.unwraps).toBe(3);
  });

  it('evicts by user, record and predicate', async () => {
    const kms = counted(localKms({ keys }));
    const sealer = createSealer({ kms });
    const sealed = [] as Buffer[];
    for (let i = 0; i < 6; i++) sealed.push(await sealer.seal(`s${i}`, ctxFor(i, i < 3 ? 'alice' : 'bob')));
    expect(sealer.stats().cacheSize).toBe(6);
    expect(sealer.evictUser('alice')).toBe(3);
    expect(sealer.evictRecord('rec-4')).toBe(1);
    expect(sealer.evict((e) => e.keyVersion === 3 && e.purpose === 'provider_key')).toBe(2);
    expect(sealer.stats().cacheSize).toBe(0);
    await sealer.open(sealed[0]!, ctxFor(0, 'alice'));
    expect(kms.unwraps).toBe(1);
  });

  it('a cached key never serves another context or a tampered header', async () => {
    const sealer = createSealer({ kms: localKms({ keys }) });
    const sealed = await sealer.seal('v', ctxFor(1));
    await expect(sealer.open(sealed, { ...ctxFor(1), userId: 'mallory' })).rejects.toMatchObject({ code: 'seal_invalid' });
    const bumped = Buffer.from(sealed);
    bumped.writeUInt32BE(2, 14);
    await expect(sealer.open(bumped, ctxFor(1))).rejects.toMatchObject({ code: 'seal_invalid' });
  });

  it('flushes when the minimum version changes, and then refuses retired versions', async () => {
    const v1Only = localKms({ keys: keys.split(',').slice(2).join(',') });
    const sealedV1 = await createSealer({ kms: v1Only }).seal('old', ctxFor(1));
    const kms = localKms({ keys });
    const sealer = createSealer({ kms });
    expect((await sealer.open(sealedV1, ctxFor(1))).toString()).toBe('old');
    const sealedV3 = await sealer.seal('new', ctxFor(2));
    expect(sealer.stats().cacheSize).toBe(2);
    kms.setMinimumVersion(2);
    await expect(sealer.open(sealedV1, ctxFor(1))).rejects.toMatchObject({ code: 'kms_key_unknown' });
    expect(sealer.stats().cacheSize).toBe(0);
    expect((await sealer.open(sealedV3, ctxFor(2))).toString()).toBe('new');
  });

  it('rewrap evicts the old entry and rewrapped values open from the cache', async () => {
    const oldKms = localKms({ keys: keys.split(',').slice(1).join(',') });
    const sealed = await createSealer({ kms: oldKms }).seal('v', ctxFor(1));
    const kms = counted(localKms({ keys }));
    const sealer = createSealer({ kms });
    await sealer.open(sealed, ctxFor(1));
    expect(sealer.stats().cacheSize).toBe(1);
    const rewrapped = await sealer.rewrap(sealed, ctxFor(1));
    expect(sealer.keyVersionOf(rewrapped!).keyVersion).toBe(3);
    expect(sealer.stats().cacheSize).toBe(1);
    expect((await sealer.open(rewrapped!, ctxFor(1))).toString()).toBe('v');
    expect(kms.unwraps).toBe(1);
    expect(kms.wraps).toBe(1);
  });

  it('rejects nonsense bounds', () => {
    expect(() => createDekCache({ maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => createDekCache({ maxUses: Number.NaN })).toThrow(/maxUses/);
  });
});
