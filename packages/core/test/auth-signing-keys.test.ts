import { describe, expect, it } from 'vitest';
import { KeyRing, exportPrivate, generateSigningKey, importPrivate } from '../src/auth/signing-keys';
import { issueAccessToken, verifyAccessToken } from '../src/auth/tokens';

const CTX = { issuer: 'https://api.example', audience: 'https://api.example' };

describe('generateSigningKey', () => {
  it('makes Ed25519, P-256 and 256-bit HMAC keys with UUIDv7 kids', async () => {
    const ed = await generateSigningKey('EdDSA');
    expect(ed.publicJwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: ed.kid });
    expect(ed.kid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const es = await generateSigningKey('ES256');
    expect(es.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    const hs = await generateSigningKey('HS256');
    expect(hs.publicJwk).toBeNull();
    expect(JSON.parse(await exportPrivate(hs)).k).toHaveLength(43);
    expect(await generateSigningKey()).toMatchObject({ alg: 'EdDSA' });
  });

  it('rejects unknown algorithms', async () => {
    await expect(generateSigningKey('RS256' as never)).rejects.toMatchObject({ code: 'config_invalid' });
    await expect(generateSigningKey('none' as never)).rejects.toMatchObject({ code: 'config_invalid' });
  });
});

describe('publicJwks', () => {
  it('publishes public members only, for every key in the ring', async () => {
    for (const alg of ['EdDSA', 'ES256'] as const) {
      const a = await generateSigningKey(alg);
      const b = await generateSigningKey(alg);
      const jwks = new KeyRing({ alg, keys: [a, b] }).publicJwks()!;
      expect(jwks.keys.map((k) => k.kid).sort()).toEqual([a.kid, b.kid].sort());
      for (const jwk of jwks.keys) {
        expect(jwk).not.toHaveProperty('d');
        expect(jwk).not.toHaveProperty('k');
        expect(Object.keys(jwk).sort()).toEqual(alg === 'EdDSA' ? ['alg', 'crv', 'kid', 'kty', 'use', 'x'] : ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      }
    }
  });

  it('publishes nothing at all under HS256', async () => {
    expect(new KeyRing({ alg: 'HS256', keys: [await generateSigningKey('HS256')] }).publicJwks()).toBeNull();
  });

  it('returns copies: mutating the document does not touch the ring', async () => {
    const key = await generateSigningKey('EdDSA');
    const ring = new KeyRing({ alg: 'EdDSA', keys: [key] });
    const doc = ring.publicJwks()!;
    (doc.keys[0] as Record<string, unknown>).d = 'oops';
    expect(ring.publicJwks()!.keys[0]).not.toHaveProperty('d');
  });
});

describe('exportPrivate / importPrivate', () => {
  it.each(['EdDSA', 'ES256', 'HS256'] as const)('round-trips %s keys', async (alg) => {
    const key = await generateSigningKey(alg, { createdAt: 1000, notBefore: 2000 });
    const json = await exportPrivate(key);
    const parsed = JSON.parse(json) as Record<string, unknown>;
    expect(parsed).toMatchObject({ kid: key.kid, alg, use: 'sig' });
    expect(alg === 'HS256' ? parsed.k : parsed.d).toEqual(expect.any(String));

    const again = await importPrivate(json, { createdAt: 1000, notBefore: 2000 });
    expect(again).toMatchObject({ kid: key.kid, alg, createdAt: 1000, notBefore: 2000, retiredAt: null });
    expect(again.publicJwk).toEqual(key.publicJwk);
    // signed by the original, verified by the import, and the other way round
    const clock = { now: () => 10_000_000 };
    const t1 = await issueAccessToken(new KeyRing({ alg, keys: [key], clock }), { sub: 'u', sid: 's' }, { ...CTX, clock });
    expect((await verifyAccessToken(new KeyRing({ alg, keys: [again] }), t1.token, { ...CTX, clock })).ok).toBe(true);
    const t2 = await issueAccessToken(new KeyRing({ alg, keys: [again], clock }), { sub: 'u', sid: 's' }, { ...CTX, clock });
    expect((await verifyAccessToken(new KeyRing({ alg, keys: [key] }), t2.token, { ...CTX, clock })).ok).toBe(true);
  });

  it('refuses mismatched or malformed JWKs', async () => {
    const ed = JSON.parse(await exportPrivate(await generateSigningKey('EdDSA'))) as Record<string, unknown>;
    const hs = JSON.parse(await exportPrivate(await generateSigningKey('HS256'))) as Record<string, unknown>;
    const bad = [
      'not json',
      JSON.stringify({ ...ed, alg: 'HS256' }),
      JSON.stringify({ ...ed, alg: 'ES256' }),
      JSON.stringify({ ...ed, d: undefined }),
      JSON.stringify({ ...ed, kid: undefined }),
      JSON.stringify({ ...ed, d: 'AAAA' }),
      JSON.stringify({ ...hs, alg: 'EdDSA' }),
      JSON.stringify({ ...hs, k: Buffer.alloc(16).toString('base64url') }),
      JSON.stringify({ kty: 'RSA', alg: 'RS256', kid: 'x', n: 'AQAB', e: 'AQAB', d: 'AQAB' }),
    ];
    for (const json of bad) {
      await expect(importPrivate(json), json.slice(0, 40)).rejects.toMatchObject({ code: 'config_invalid' });
    }
  });

  it('never puts key material into errors', async () => {
    const ed = JSON.parse(await exportPrivate(await generateSigningKey('EdDSA'))) as Record<string, string>;
    const error = await importPrivate(JSON.stringify({ ...ed, x: 'AAAA' })).catch((e: unknown) => e);
    expect(JSON.stringify(error)).not.toContain(ed.d);
    expect(String((error as Error).message)).not.toContain(ed.d);
  });
});

describe('KeyRing', () => {
  it('signs with the newest active key; future keys are published but unused; retired keys only verify', async () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const old = await generateSigningKey('EdDSA', { createdAt: 0, notBefore: 0, retiredAt: 1_500_000 });
    const current = await generateSigningKey('EdDSA', { createdAt: 10, notBefore: 500_000 });
    const next = await generateSigningKey('EdDSA', { createdAt: 20, notBefore: 2_000_000 });
    const ring = new KeyRing({ alg: 'EdDSA', keys: [old, current, next], clock });
    expect(ring.current().kid).toBe(current.kid);
    expect(ring.publicJwks()!.keys.map((k) => k.kid)).toContain(next.kid);
    now = 2_000_000;
    expect(ring.current().kid).toBe(next.kid);

    // a token the old key signed while it was current
    const before = new KeyRing({ alg: 'EdDSA', keys: [old], clock: { now: () => 100 } });
    const oldToken = await issueAccessToken(before, { sub: 'u', sid: 's' }, { ...CTX, clock });
    expect((await verifyAccessToken(ring, oldToken.token, { ...CTX, clock })).ok).toBe(true);
    ring.remove(old.kid);
    expect(await verifyAccessToken(ring, oldToken.token, { ...CTX, clock })).toMatchObject({ ok: false, reason: 'unknown_kid' });
  });

  it('has no current key when all are retired or in the future', async () => {
    const clock = { now: () => 1000 };
    const ring = new KeyRing({
      alg: 'EdDSA',
      clock,
      keys: [await generateSigningKey('EdDSA', { notBefore: 5000 }), await generateSigningKey('EdDSA', { notBefore: 0, retiredAt: 500 })],
    });
    expect(() => ring.current()).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    expect(() => new KeyRing({ alg: 'EdDSA' }).current()).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });

  it('reload replaces the key set, shares one in-flight load, and is rate-limited', async () => {
    let now = 0;
    const a = await generateSigningKey('EdDSA');
    const b = await generateSigningKey('EdDSA');
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ring = new KeyRing({
      alg: 'EdDSA',
      keys: [a],
      clock: { now: () => now },
      reloadIntervalMs: 10_000,
      load: async () => {
        loads++;
        await gate;
        return [b];
      },
    });
    const p1 = ring.reload();
    const p2 = ring.reload();
    release();
    expect(await p1).toBe(true);
    expect(await p2).toBe(true);
    expect(loads).toBe(1);
    expect(ring.get(a.kid)).toBeUndefined();
    expect(ring.get(b.kid)).toBeDefined();
    expect(await ring.reload()).toBe(false);
    now = 10_000;
    expect(await ring.reload()).toBe(true);
    expect(loads).toBe(2);
    expect(await new KeyRing({ alg: 'EdDSA' }).reload()).toBe(false);
  });

  it('a failed load is reported and the old keys stay', async () => {
    const a = await generateSigningKey('EdDSA');
    const ring = new KeyRing({
      alg: 'EdDSA',
      keys: [a],
      load: async () => {
        throw new Error('store down');
      },
    });
    await expect(ring.reload()).rejects.toThrow('store down');
    expect(ring.get(a.kid)).toBeDefined();
  });
});
