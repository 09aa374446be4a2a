import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as core from '@byok/core';
import * as kmsKit from '@byok/core/kms';
import { isByokError, localKms, type SealContext } from '@byok/core';
import { createSealer } from '@byok/core/kms';
import { createLocalKms } from '../src/kms/local-kms';
import { createSealerWithRandom } from '../src/vault/sealer';

const masterKeys = `2:${randomBytes(32).toString('base64')},1:${randomBytes(32).toString('base64')}`;
const ctx: SealContext = { purpose: 'provider_key', userId: 'user-a', provider: 'gemini', recordId: 'rec-1' };
const secret = 'AIzaSyD-canary-canary-canary-canary-000';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isByokError(error)) return error.code;
    throw error;
  }
  return 'opened';
}

describe('envelope sealing', () => {
  it('round-trips strings and bytes, with a fresh data key and nonce each time', async () => {
    const sealer = createSealer({ kms: localKms({ keys: masterKeys }), cache: false });
    const a = await sealer.seal(secret, ctx);
    const b = await sealer.seal(secret, ctx);
    expect(a.equals(b)).toBe(false);
    expect(a.includes(Buffer.from(secret))).toBe(false);
    expect((await sealer.open(a, ctx)).toString()).toBe(secret);
    expect((await sealer.open(new Uint8Array(b), ctx)).toString()).toBe(secret);
    const bytes = randomBytes(300);
    expect((await sealer.open(await sealer.seal(bytes, ctx), ctx)).equals(bytes)).toBe(true);
    expect((await sealer.open(await sealer.seal('', ctx), ctx)).length).toBe(0);
  });

  it('is compact: a 39-byte secret seals to 147 bytes under localKms', async () => {
    const sealer = createSealer({ kms: localKms({ keys: masterKeys }), cache: false });
    const sealed = await sealer.seal(secret, ctx);
    expect(Buffer.byteLength(secret)).toBe(39);
    // 18 key header + 2 + 60 wrapped key + 12 nonce + 39 + 16 tag
    expect(sealed.length).toBe(147);
  });

  it('fails on every flipped byte, header included, with a typed error (cold and warm cache)', async () => {
    const sealer = createSealer({ kms: localKms({ keys: masterKeys }) });
    const sealed = await sealer.seal(secret, ctx);
    const cold = createSealer({ kms: localKms({ keys: masterKeys }), cache: false });
    const allowed = ['seal_invalid', 'seal_unsupported', 'kms_key_unknown'];
    const seen = new Set<string>();
    for (let i = 0; i < sealed.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = Buffer.from(sealed);
        bad[i]! ^= bit;
        const warm = await codeOf(sealer.open(bad, ctx));
        const coldCode = await codeOf(cold.open(bad, ctx));
        expect(allowed, `byte ${i} bit ${bit} (warm)`).toContain(warm);
        expect(allowed, `byte ${i} bit ${bit} (cold)`).toContain(coldCode);
        seen.add(coldCode);
      }
    }
    // the payload and wrapped key are authenticated, so most flips are seal_invalid
    expect(seen.has('seal_invalid')).toBe(true);
    expect((await sealer.open(sealed, ctx)).toString()).toBe(secret);
  });

  it('fails on truncation and extension', async () => {
    const sealer = createSealer({ kms: localKms({ keys: masterKeys }), cache: false });
    const sealed = await sealer.seal(secret, ctx);
    for (const n of [0, 1, 5, 20, 60, sealed.length - 17, sealed.length - 1]) {
      expect(await codeOf(sealer.open(sealed.subarray(0, n), ctx))).toMatch(/^(seal_invalid|kms_key_unknown)$/);
    }
    expect(await codeOf(sealer.open(Buffer.concat([sealed, Buffer.from([0])]), ctx))).toBe('seal_invalid');
  });

  it('does not open when moved to another user, provider, record or purpose', async () => {
    const sealer = createSealer({ kms: localKms({ keys: masterKeys }) });
    const sealed = await sealer.seal(secret, ctx);
    const moved: SealContext[] = [
      { ...ctx, userId: 'user-b' },
      { ...ctx, provider: 'openai' },
      { ...ctx, recordId: 'rec-2' },
      { ...ctx, purpose: 'custom' },
      { purpose: 'oauth_token', userId: 'user-a', tokenKind: 'gemini', recordId: 'rec-1' },
      { ...ctx, userId: 'user-' },
      { ...ctx, userId: 'user-a\u0000' },
    ];
    for (const other of moved) {
      expect(await codeOf(sealer.open(sealed, other)), JSON.stringify(other)).toBe('seal_invalid');
      expect(await codeOf(createSealer({ kms: localKms({ keys: masterKeys }), cache: false }).open(sealed, other))).toBe('seal_invalid');
    }
  });

  it('refuses unknown format versions, drivers and keys with typed errors, never returning the input', async () => {
    const kms = localKms({ keys: masterKeys });
    const sealer = createSealer({ kms, cache: false });
    const sealed = await sealer.seal(secret, ctx);
    const v2 = Buffer.from(sealed);
    v2[0] = 2;
    expect(await codeOf(sealer.open(v2, ctx))).toBe('seal_unsupported');
    expect(await codeOf(sealer.open(Buffer.from(secret), ctx))).toMatch(/^(seal_unsupported|seal_invalid)$/);
    expect(await codeOf(sealer.open(Buffer.from([0x01, ...Buffer.from(secret)]), ctx))).toMatch(/^(seal_invalid|kms_key_unknown)$/);

    // other driver id (same length so the layout still parses)
    const otherDriver = Buffer.from(sealed);
    otherDriver.write('lokal', 2, 'latin1');
    expect(await codeOf(sealer.open(otherDriver, ctx))).toBe('kms_key_unknown');

    // other key id, other version: not configured
    const otherKey = Buffer.from(sealed);
    otherKey.write('m4ster', 8, 'latin1');
    expect(await codeOf(sealer.open(otherKey, ctx))).toBe('kms_key_unknown');
    const otherVersion = Buffer.from(sealed);
    otherVersion.writeUInt32BE(9, 14);
    expect(await codeOf(sealer.open(otherVersion, ctx))).toBe('kms_key_unknown');

    // a version that is configured but not the one used: the KMS context covers the header
    const v1 = Buffer.from(sealed);
    v1.writeUInt32BE(1, 14);
    expect(await codeOf(sealer.open(v1, ctx))).toBe('seal_invalid');
    expect(sealer.keyVersionOf(sealed)).toEqual({ formatVersion: 1, driverId: 'local', keyId: 'master', keyVersion: 2 });
  });

  it('opens a value sealed by a secondary (migration) driver and rewraps it under the primary', async () => {
    const oldKms = localKms({ keys: masterKeys });
    const oldSealer = createSealer({ kms: oldKms });
    const sealed = await oldSealer.seal(secret, ctx);
    const aws = { ...localKms({ keys: `5:${randomBytes(32).toString('base64')}`, keyId: 'new' }), id: 'other' } as core.KmsDriver;
    const sealer = createSealer({ kms: [aws, oldKms] });
    expect((await sealer.open(sealed, ctx)).toString()).toBe(secret);
    expect(await sealer.isPrimary(sealed)).toBe(false);
    const rewrapped = await sealer.rewrap(sealed, ctx);
    expect(rewrapped).not.toBeNull();
    expect(sealer.keyVersionOf(rewrapped!)).toEqual({ formatVersion: 1, driverId: 'other', keyId: 'new', keyVersion: 5 });
    // payload bytes untouched
    expect(rewrapped!.subarray(rewrapped!.length - 67).equals(sealed.subarray(sealed.length - 67))).toBe(true);
    expect((await createSealer({ kms: [aws], cache: false }).open(rewrapped!, ctx)).toString()).toBe(secret);
    expect(await sealer.rewrap(rewrapped!, ctx)).toBeNull();
    expect(await codeOf(createSealer({ kms: oldKms }).open(rewrapped!, ctx))).toBe('kms_key_unknown');
  });

  it('offers OAuth token and signing key wrappers with their own purposes', async () => {
    const sealer = createSealer({ kms: localKms({ keys: masterKeys }) });
    const ref = { userId: 'user-a', tokenKind: 'refresh' as const, recordId: 'tok-1' };
    const sealedToken = await sealer.sealOAuthToken('1//refresh-token', ref);
    expect(await sealer.openOAuthToken(sealedToken, ref)).toBe('1//refresh-token');
    expect(await codeOf(sealer.openOAuthToken(sealedToken, { ...ref, tokenKind: 'access' }))).toBe('seal_invalid');
    expect(await codeOf(sealer.open(sealedToken, { purpose: 'provider_key', userId: 'user-a', provider: 'refresh', recordId: 'tok-1' }))).toBe(
      'seal_invalid',
    );
    const jwk = JSON.stringify({ kty: 'OKP', crv: 'Ed25519', d: 'secret-d', x: 'public-x' });
    const sealedKey = await sealer.sealSigningKey(jwk, { kid: 'kid-1' });
    expect(await sealer.openSigningKey(sealedKey, { kid: 'kid-1' })).toBe(jwk);
    expect(await codeOf(sealer.openSigningKey(sealedKey, { kid: 'kid-2' }))).toBe('seal_invalid');
  });

  it('validates the context', async () => {
    const sealer = createSealer({ kms: localKms({ keys: masterKeys }) });
    expect(await codeOf(sealer.seal('x', { purpose: '', userId: 'u', recordId: 'r' }))).toBe('bad_request');
    expect(await codeOf(sealer.seal('x', { purpose: 'p', userId: 'u', recordId: '' }))).toBe('bad_request');
    expect(await codeOf(sealer.seal('x', { purpose: 'provider_key', userId: 'u', recordId: 'r' }))).toBe('bad_request');
    expect(await codeOf(sealer.seal('x', { purpose: 'p', userId: 'u', recordId: 'r', provider: 'a', tokenKind: 'b' }))).toBe('bad_request');
    expect(await codeOf(sealer.seal('x', { purpose: 'p', userId: 'u', recordId: 'r'.repeat(2000) }))).toBe('bad_request');
  });

  it('keeps the fixed-randomness hooks out of the package index', () => {
    const names = [...Object.keys(core), ...Object.keys(kmsKit)];
    expect(names).toContain('createSealer');
    expect(names).toContain('localKms');
    expect(names).not.toContain('createSealerWithRandom');
    expect(names).not.toContain('createLocalKms');
  });
});

interface Vector {
  name: string;
  masterKeys: string;
  keyId: string;
  context: SealContext;
  plaintext: string;
  dek: string;
  nonce: string;
  wrapNonce: string;
  sealed: string;
}

const vectors = (JSON.parse(readFileSync(new URL('./vectors/envelope-v1.json', import.meta.url), 'utf8')) as { vectors: Vector[] }).vectors;

describe('envelope test vectors (format v1)', () => {
  it('has vectors', () => expect(vectors.length).toBeGreaterThanOrEqual(4));

  for (const v of vectors) {
    it(`seal reproduces the bytes: ${v.name}`, async () => {
      const kms = createLocalKms({ keys: v.masterKeys, keyId: v.keyId }, () => Buffer.from(v.wrapNonce, 'hex'));
      const sealer = createSealerWithRandom({ kms, cache: false }, (n) => {
        expect(n).toBe(44);
        return Buffer.from(v.dek + v.nonce, 'hex');
      });
      const sealed = await sealer.seal(v.plaintext, v.context);
      expect(sealed.toString('hex')).toBe(v.sealed);
    });

    it(`open recovers the plaintext: ${v.name}`, async () => {
      const sealer = createSealer({ kms: localKms({ keys: v.masterKeys, keyId: v.keyId }) });
      expect((await sealer.open(Buffer.from(v.sealed, 'hex'), v.context)).toString('utf8')).toBe(v.plaintext);
    });

    it(`matches an independent build from the documented layout: ${v.name}`, () => {
      expect(independentSeal(v).toString('hex')).toBe(v.sealed);
    });
  }
});

/** The layout of docs/security/envelope-format.md, written out with raw node:crypto only. */
function independentSeal(v: Vector): Buffer {
  const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
  const u32 = (n: number) => Buffer.from([n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  const field = (s: string) => Buffer.concat([u16(Buffer.byteLength(s)), Buffer.from(s, 'utf8')]);
  const entries = v.masterKeys.split(',').map((e) => e.split(':') as [string, string]);
  const [version, b64] = entries.sort((a, b) => Number(b[0]) - Number(a[0]))[0]!;
  const master = Buffer.from(b64, 'base64');
  const keyHeader = Buffer.concat([Buffer.from([1, 5]), Buffer.from('local'), Buffer.from([Buffer.byteLength(v.keyId)]), Buffer.from(v.keyId), u32(Number(version))]);
  const c = v.context;
  const contextFields = Buffer.concat([field(c.purpose), field(c.userId), field(c.provider ?? c.tokenKind ?? ''), field(c.recordId)]);
  const wrapAad = Buffer.concat([u16(keyHeader.length), keyHeader, contextFields]);
  const wrapNonce = Buffer.from(v.wrapNonce, 'hex');
  const w = createCipheriv('aes-256-gcm', master, wrapNonce);
  w.setAAD(wrapAad);
  const wrapped = Buffer.concat([wrapNonce, w.update(Buffer.from(v.dek, 'hex')), w.final(), w.getAuthTag()]);
  const payloadAad = Buffer.concat([u16(1), Buffer.from([1]), contextFields]);
  const nonce = Buffer.from(v.nonce, 'hex');
  const p = createCipheriv('aes-256-gcm', Buffer.from(v.dek, 'hex'), nonce);
  p.setAAD(payloadAad);
  const body = Buffer.concat([p.update(Buffer.from(v.plaintext, 'utf8')), p.final()]);
  return Buffer.concat([keyHeader, u16(wrapped.length), wrapped, nonce, body, p.getAuthTag()]);
}
