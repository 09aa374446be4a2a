import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { KeyRing, exportPrivate, generateSigningKey } from '../src/auth/signing-keys';
import { authenticateAccessToken, issueAccessToken, verifyAccessToken } from '../src/auth/tokens';
import type { SigningAlg } from '@byok/core';
import type { SigningKey } from '../src/auth/signing-keys';
import { signTestJwt } from '@byok/testing';

const CTX = { issuer: 'https://api.example', audience: 'https://api.example' };

function fixedClock(start = Date.now()) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

async function ringOf(alg: SigningAlg, key?: SigningKey) {
  const k = key ?? (await generateSigningKey(alg));
  return { key: k, ring: new KeyRing({ alg, keys: [k] }) };
}

function decode(token: string) {
  const [h, p] = token.split('.') as [string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
  };
}

describe.each(['EdDSA', 'ES256', 'HS256'] as const)('access tokens under %s', (alg) => {
  it('issues with kid, sid, typ and a 5-minute default TTL, and verifies', async () => {
    const clock = fixedClock();
    const { key, ring } = await ringOf(alg);
    const issued = await issueAccessToken(ring, { sub: 'user-1', sid: 'sess-1' }, { ...CTX, clock });
    const { header, payload } = decode(issued.token);
    expect(header).toEqual({ alg, kid: key.kid, typ: 'at+jwt' });
    expect(payload).toMatchObject({ iss: CTX.issuer, aud: CTX.audience, sub: 'user-1', sid: 'sess-1' });
    expect((payload.exp as number) - (payload.iat as number)).toBe(300);
    expect(typeof payload.jti).toBe('string');
    expect(issued.expiresAt).toBe((payload.exp as number) * 1000);

    const result = await verifyAccessToken(ring, issued.token, { ...CTX, clock });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.claims).toMatchObject({ sub: 'user-1', sid: 'sess-1' });
  });

  it('expires, with a 5-second tolerance', async () => {
    const clock = fixedClock();
    const { ring } = await ringOf(alg);
    const { token } = await issueAccessToken(ring, { sub: 'u', sid: 's', ttlSeconds: 60 }, { ...CTX, clock });
    clock.advance(64_000);
    expect((await verifyAccessToken(ring, token, { ...CTX, clock })).ok).toBe(true);
    clock.advance(2_000);
    expect(await verifyAccessToken(ring, token, { ...CTX, clock })).toEqual({ ok: false, reason: 'expired' });
    await expect(authenticateAccessToken(ring, token, { ...CTX, clock })).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('refuses another issuer or audience', async () => {
    const { ring } = await ringOf(alg);
    const { token } = await issueAccessToken(ring, { sub: 'u', sid: 's' }, CTX);
    expect(await verifyAccessToken(ring, token, { ...CTX, issuer: 'https://other.example' })).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifyAccessToken(ring, token, { ...CTX, audience: 'https://other.example' })).toEqual({ ok: false, reason: 'invalid' });
  });

  it('signals an unknown kid so the caller can reload', async () => {
    const { ring } = await ringOf(alg);
    const { ring: other } = await ringOf(alg);
    const { token, kid } = await issueAccessToken(other, { sub: 'u', sid: 's' }, CTX);
    expect(await verifyAccessToken(ring, token, CTX)).toEqual({ ok: false, reason: 'unknown_kid', kid });
    await expect(authenticateAccessToken(ring, token, CTX)).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('refuses a token signed by another key under the same kid', async () => {
    const { key, ring } = await ringOf(alg);
    const impostor = await generateSigningKey(alg, { kid: key.kid });
    const { token } = await issueAccessToken(new KeyRing({ alg, keys: [impostor] }), { sub: 'u', sid: 's' }, CTX);
    expect(await verifyAccessToken(ring, token, CTX)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses alg none and tampered payloads', async () => {
    const { key, ring } = await ringOf(alg);
    const { token } = await issueAccessToken(ring, { sub: 'u', sid: 's' }, CTX);
    const { payload } = decode(token);
    const none = signTestJwt({ alg: 'none', kid: key.kid, typ: 'at+jwt' }, payload);
    expect(await verifyAccessToken(ring, none, CTX)).toEqual({ ok: false, reason: 'invalid' });
    const [h, , s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'admin' })).toString('base64url')}.${s}`;
    expect(await verifyAccessToken(ring, forged, CTX)).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifyAccessToken(ring, 'not.a.jwt', CTX)).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifyAccessToken(ring, '', CTX)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses tokens without sid or with another typ', async () => {
    const { key, ring } = await ringOf(alg);
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: CTX.issuer, aud: CTX.audience, sub: 'u', iat: now, exp: now + 60, jti: 'j' };
    const sign = (header: Record<string, unknown>, payload: Record<string, unknown>) =>
      new SignJWT(payload).setProtectedHeader({ alg, kid: key.kid, ...header }).sign(key.signKey);
    expect(await verifyAccessToken(ring, await sign({ typ: 'at+jwt' }, base), CTX)).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifyAccessToken(ring, await sign({ typ: 'at+jwt' }, { ...base, sid: '' }), CTX)).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifyAccessToken(ring, await sign({ typ: 'JWT' }, { ...base, sid: 's' }), CTX)).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifyAccessToken(ring, await sign({}, { ...base, sid: 's' }), CTX)).toEqual({ ok: false, reason: 'invalid' });
    expect((await verifyAccessToken(ring, await sign({ typ: 'at+jwt' }, { ...base, sid: 's' }), CTX)).ok).toBe(true);
  });

  it('keeps registered claims out of reach of extra claims', async () => {
    const { ring } = await ringOf(alg);
    const { token } = await issueAccessToken(ring, { sub: 'u', sid: 's', claims: { sub: 'admin', sid: 'x', role: 'member' } }, CTX);
    const { payload } = decode(token);
    expect(payload).toMatchObject({ sub: 'u', sid: 's', role: 'member' });
  });
});

describe('algorithm confusion', () => {
  it('an HS256 token keyed with the public EdDSA/ES256 key does not verify', async () => {
    for (const alg of ['EdDSA', 'ES256'] as const) {
      const { key, ring } = await ringOf(alg);
      const now = Math.floor(Date.now() / 1000);
      const payload = { iss: CTX.issuer, aud: CTX.audience, sub: 'u', sid: 's', iat: now, exp: now + 60, jti: 'j' };
      for (const secret of [JSON.stringify(key.publicJwk), String(key.publicJwk?.x)]) {
        const token = signTestJwt({ alg: 'HS256', kid: key.kid, typ: 'at+jwt' }, payload, secret);
        expect(await verifyAccessToken(ring, token, CTX)).toEqual({ ok: false, reason: 'invalid' });
      }
    }
  });

  it('an EdDSA token does not verify under an HS256 ring, nor ES256 under EdDSA', async () => {
    const hs = await ringOf('HS256');
    const ed = await generateSigningKey('EdDSA', { kid: hs.key.kid });
    const { token } = await issueAccessToken(new KeyRing({ alg: 'EdDSA', keys: [ed] }), { sub: 'u', sid: 's' }, CTX);
    expect(await verifyAccessToken(hs.ring, token, CTX)).toEqual({ ok: false, reason: 'invalid' });

    const edRing = await ringOf('EdDSA');
    const es = await generateSigningKey('ES256', { kid: edRing.key.kid });
    const esToken = await issueAccessToken(new KeyRing({ alg: 'ES256', keys: [es] }), { sub: 'u', sid: 's' }, CTX);
    expect(await verifyAccessToken(edRing.ring, esToken.token, CTX)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('a ring refuses keys of another algorithm', async () => {
    const es = await generateSigningKey('ES256');
    expect(() => new KeyRing({ alg: 'EdDSA', keys: [es] })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });
});

describe('authenticateAccessToken', () => {
  it('reloads the ring once on an unknown kid and then verifies', async () => {
    const old = await generateSigningKey('EdDSA');
    const rotated = await generateSigningKey('EdDSA');
    let loads = 0;
    const ring = new KeyRing({
      alg: 'EdDSA',
      keys: [old],
      load: async () => {
        loads++;
        return [old, rotated];
      },
    });
    const elsewhere = new KeyRing({ alg: 'EdDSA', keys: [rotated] });
    const { token } = await issueAccessToken(elsewhere, { sub: 'u', sid: 's' }, CTX);
    const claims = await authenticateAccessToken(ring, token, CTX);
    expect(claims.sub).toBe('u');
    expect(loads).toBe(1);
  });

  it('does not reload more than once per interval, however many unknown kids arrive', async () => {
    const clock = fixedClock();
    const key = await generateSigningKey('EdDSA');
    let loads = 0;
    const ring = new KeyRing({
      alg: 'EdDSA',
      keys: [key],
      clock,
      reloadIntervalMs: 30_000,
      load: async () => {
        loads++;
        return [key];
      },
    });
    const stranger = new KeyRing({ alg: 'EdDSA', keys: [await generateSigningKey('EdDSA')] });
    const { token } = await issueAccessToken(stranger, { sub: 'u', sid: 's' }, { ...CTX, clock });
    await Promise.all(
      Array.from({ length: 10 }, () => expect(authenticateAccessToken(ring, token, { ...CTX, clock })).rejects.toMatchObject({ code: 'unauthenticated' })),
    );
    expect(loads).toBe(1);
    clock.advance(29_000);
    await expect(authenticateAccessToken(ring, token, { ...CTX, clock })).rejects.toThrow();
    expect(loads).toBe(1);
    clock.advance(2_000);
    await expect(authenticateAccessToken(ring, token, { ...CTX, clock })).rejects.toThrow();
    expect(loads).toBe(2);
  });
});

describe('exported private keys stay usable', () => {
  it('a token signed before export verifies after import', async () => {
    const { key, ring } = await ringOf('EdDSA');
    const { token } = await issueAccessToken(ring, { sub: 'u', sid: 's' }, CTX);
    const { importPrivate } = await import('../src/auth/signing-keys');
    const again = await importPrivate(await exportPrivate(key));
    const ring2 = new KeyRing({ alg: 'EdDSA', keys: [again] });
    expect((await verifyAccessToken(ring2, token, CTX)).ok).toBe(true);
  });

  it('jose can verify our EdDSA tokens from the published JWKS alone', async () => {
    const { ring } = await ringOf('EdDSA');
    const { token } = await issueAccessToken(ring, { sub: 'u', sid: 's' }, CTX);
    const { createLocalJWKSet, jwtVerify } = await import('jose');
    const jwks = createLocalJWKSet(ring.publicJwks()!);
    const { payload } = await jwtVerify(token, jwks, { ...CTX, algorithms: ['EdDSA'] });
    expect(payload.sid).toBe('s');
    // and an unrelated key pair does not
    const { publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const stranger = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: decode(token).header.kid as string }] });
    await expect(jwtVerify(token, stranger, CTX)).rejects.toThrow();
  });
});
