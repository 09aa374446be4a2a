import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Byok } from '@byok/core';
import type { DevIssuer } from '@byok/testing';
import { devIssuer, makeByok, startIssuer } from './auth-flow-harness';

// authenticate() remembers verified tokens; the memory must never outlive the token or its key.
describe('verified access-token memory', () => {
  let issuer: DevIssuer;
  let byok: Byok;
  let now = Date.now();
  const clock = { now: () => now };

  beforeAll(async () => {
    issuer = await startIssuer();
    byok = await makeByok({ memory: true }, [devIssuer(issuer)], { jwt: { keyPublishDelaySeconds: 0 } }, { clock });
  });
  afterAll(async () => {
    await byok.close();
    await issuer.close();
  });

  const bearer = (token: string) => ({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${token}` }, remoteAddress: '127.0.0.1' });

  it('refuses a remembered token once it has expired', async () => {
    const { user } = await byok.users.findOrCreate({ issuer: issuer.issuer, subject: 'cache-expiry' });
    const { accessToken } = await byok.auth!.createSession(user.id);
    expect((await byok.auth!.authenticate(bearer(accessToken)))?.userId).toBe(user.id);
    expect((await byok.auth!.authenticate(bearer(accessToken)))?.userId).toBe(user.id);
    now += 301_000 + 5_000;
    await expect(byok.auth!.authenticate(bearer(accessToken))).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('refuses a remembered token once its signing key is revoked', async () => {
    const { user } = await byok.users.findOrCreate({ issuer: issuer.issuer, subject: 'cache-revoke' });
    const { accessToken } = await byok.auth!.createSession(user.id);
    expect((await byok.auth!.authenticate(bearer(accessToken)))?.userId).toBe(user.id);
    const { previousKid } = await byok.auth!.rotateKeys({ publishDelayMs: 0 });
    expect(previousKid).toEqual(expect.any(String));
    expect((await byok.auth!.authenticate(bearer(accessToken)))?.userId).toBe(user.id); // still a published key
    await byok.auth!.revokeKey(previousKid!);
    await expect(byok.auth!.authenticate(bearer(accessToken))).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('never remembers a forged token: a changed signature is verified and refused', async () => {
    const { user } = await byok.users.findOrCreate({ issuer: issuer.issuer, subject: 'cache-forge' });
    const { accessToken } = await byok.auth!.createSession(user.id);
    await byok.auth!.authenticate(bearer(accessToken));
    // Flip a bit of the decoded signature: editing the last base64url characters can
    // leave the bytes unchanged (the last character carries padding bits).
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const bytes = Buffer.from(signature, 'base64url');
    bytes[0]! ^= 0x01;
    const forged = `${header}.${payload}.${bytes.toString('base64url')}`;
    expect(Buffer.from(forged.split('.')[2]!, 'base64url').equals(Buffer.from(signature, 'base64url'))).toBe(false);
    await expect(byok.auth!.authenticate(bearer(forged))).rejects.toMatchObject({ code: 'unauthenticated' });
  });
});
