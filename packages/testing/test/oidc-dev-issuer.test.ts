import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, decodeTestJwt, driveLogin, signTestJwt, startDevIssuer, testSigningKeyPair } from '@byok/testing';
import type { DevIssuer } from '@byok/testing';

const REDIRECT = 'http://127.0.0.1:4999/cb';
let issuer: DevIssuer;

beforeAll(async () => {
  issuer = await startDevIssuer({
    users: [
      { sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice', picture: 'https://img.example/a.png' },
      { sub: 'carol', email: 'carol@corp.example', email_verified: true, name: 'Carol', hd: 'corp.example' },
    ],
    clients: [
      { client_id: 'rp', client_secret: 'rp-secret', redirect_uris: [REDIRECT] },
      { client_id: 'public-rp', redirect_uris: [REDIRECT], grant_types: ['authorization_code'] },
    ],
  });
});

afterAll(async () => {
  await issuer.close();
});

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

function authUrl(params: Record<string, string>): string {
  const url = new URL(`${issuer.issuer}/auth`);
  for (const [k, v] of Object.entries({ response_type: 'code', scope: 'openid email profile', redirect_uri: REDIRECT, ...params })) {
    url.searchParams.set(k, v);
  }
  return url.href;
}

async function exchange(code: string, verifier: string | undefined, client = { id: 'rp', secret: 'rp-secret' as string | undefined }) {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: client.id });
  if (client.secret) body.set('client_secret', client.secret);
  if (verifier !== undefined) body.set('code_verifier', verifier);
  const res = await fetch(`${issuer.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function verifyRs256(token: string): boolean {
  const [h, p, s] = token.split('.') as [string, string, string];
  const key = createPublicKey({ key: issuer.signingKey.publicJwk, format: 'jwk' });
  return verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'));
}

describe('startDevIssuer', () => {
  it('listens on 127.0.0.1 and serves discovery with S256 PKCE and the JWKS', async () => {
    expect(issuer.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const meta = (await (await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(issuer.issuer);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    const jwks = (await (await fetch(String(meta.jwks_uri))).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys.map((k) => k.kid)).toContain(issuer.signingKey.publicJwk.kid);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
  });

  it('drives login and consent, and issues a code that exchanges for Google-shaped tokens', async () => {
    const { verifier, challenge } = pkce();
    const callback = new URL(
      await driveLogin(authUrl({ client_id: 'rp', state: 'st-1', nonce: 'n-1', code_challenge: challenge, code_challenge_method: 'S256' }), {
        login: 'alice',
      }),
    );
    expect(callback.origin + callback.pathname).toBe(REDIRECT);
    expect(callback.searchParams.get('state')).toBe('st-1');
    const code = callback.searchParams.get('code');
    expect(code).toBeTruthy();

    const tokens = await exchange(code!, verifier);
    expect(tokens.status).toBe(200);
    expect(typeof tokens.body.refresh_token).toBe('string');
    const idToken = String(tokens.body.id_token);
    expect(verifyRs256(idToken)).toBe(true);
    const { payload } = decodeTestJwt(idToken);
    expect(payload).toMatchObject({
      iss: issuer.issuer,
      aud: 'rp',
      sub: 'alice',
      nonce: 'n-1',
      email: 'alice@example.test',
      email_verified: true,
      name: 'Alice',
      picture: 'https://img.example/a.png',
    });
  });

  it('carries extra claims such as hd', async () => {
    const { verifier, challenge } = pkce();
    const callback = new URL(
      await driveLogin(authUrl({ client_id: 'rp', state: 's', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' }), {
        login: 'carol',
      }),
    );
    const tokens = await exchange(callback.searchParams.get('code')!, verifier);
    expect(decodeTestJwt(String(tokens.body.id_token)).payload.hd).toBe('corp.example');
  });

  it('refuses a wrong PKCE verifier and a replayed code', async () => {
    const { verifier, challenge } = pkce();
    const callback = new URL(
      await driveLogin(authUrl({ client_id: 'rp', state: 's', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' }), {
        login: 'alice',
      }),
    );
    const code = callback.searchParams.get('code')!;
    const wrong = await exchange(code, pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_grant');
    const first = await exchange(code, verifier);
    expect(first.status).toBe(200);
    const replay = await exchange(code, verifier);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
  });

  it('requires PKCE even for confidential clients', async () => {
    const callback = new URL(await driveLogin(authUrl({ client_id: 'rp', state: 's', nonce: 'n' }), { login: 'alice' }));
    expect(callback.searchParams.get('error')).toBe('invalid_request');
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('supports public clients without refresh tokens', async () => {
    const { verifier, challenge } = pkce();
    const callback = new URL(
      await driveLogin(
        authUrl({ client_id: 'public-rp', state: 's', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' }),
        { login: 'alice' },
      ),
    );
    const tokens = await exchange(callback.searchParams.get('code')!, verifier, { id: 'public-rp', secret: undefined });
    expect(tokens.status).toBe(200);
    expect(tokens.body.refresh_token).toBeUndefined();
  });

  it('refuses unknown users, and reports a cancelled login as access_denied', async () => {
    const { challenge } = pkce();
    const url = authUrl({ client_id: 'rp', state: 's', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' });
    await expect(driveLogin(url, { login: 'mallory' })).rejects.toThrow(/401/);
    const aborted = new URL(await driveLogin(url, { login: 'alice', abort: true }));
    expect(aborted.searchParams.get('error')).toBe('access_denied');
    expect(aborted.searchParams.get('state')).toBe('s');
  });

  it('keeps the session in a shared cookie jar: a second login skips the pages', async () => {
    const jar = new CookieJar();
    const { challenge } = pkce();
    const params = { client_id: 'rp', state: 's', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' };
    await driveLogin(authUrl(params), { login: 'alice', cookieJar: jar });
    // 'nobody' would be refused if the login page were shown again
    const second = new URL(await driveLogin(authUrl(params), { login: 'nobody', cookieJar: jar }));
    expect(second.searchParams.get('code')).toBeTruthy();
  });

  it('tampers with the next ID token once, as asked', async () => {
    const run = async () => {
      const { verifier, challenge } = pkce();
      const callback = new URL(
        await driveLogin(authUrl({ client_id: 'rp', state: 's', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' }), {
          login: 'alice',
        }),
      );
      return String((await exchange(callback.searchParams.get('code')!, verifier)).body.id_token);
    };
    issuer.tamperNextIdToken({ claims: { aud: 'someone-else', email: undefined } });
    const tampered = await run();
    expect(verifyRs256(tampered)).toBe(true);
    expect(decodeTestJwt(tampered).payload.aud).toBe('someone-else');
    expect(decodeTestJwt(tampered).payload.email).toBeUndefined();

    issuer.tamperNextIdToken({ signWith: 'foreign' });
    const foreign = await run();
    expect(decodeTestJwt(foreign).header.kid).toBe(issuer.signingKey.publicJwk.kid);
    expect(verifyRs256(foreign)).toBe(false);

    issuer.tamperNextIdToken({ signWith: 'none' });
    const unsigned = await run();
    expect(decodeTestJwt(unsigned).header.alg).toBe('none');
    expect(unsigned.endsWith('.')).toBe(true);

    const untouched = await run();
    expect(verifyRs256(untouched)).toBe(true);
    expect(decodeTestJwt(untouched).payload.aud).toBe('rp');
  });
});

describe('signTestJwt', () => {
  it('signs ES256 and EdDSA tokens that Node verifies, and HS256 with a secret', () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const pair = testSigningKeyPair(alg, 'k');
      const token = signTestJwt({ alg, kid: 'k' }, { sub: 'x' }, pair.privateKey);
      const [h, p, s] = token.split('.') as [string, string, string];
      const ok = verify(alg === 'EdDSA' ? null : 'sha256', Buffer.from(`${h}.${p}`), { key: pair.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
      expect(ok).toBe(true);
      expect(pair.publicJwk).not.toHaveProperty('d');
    }
    const hs = signTestJwt({ alg: 'HS256' }, { sub: 'x' }, 'secret');
    expect(decodeTestJwt(hs).header.alg).toBe('HS256');
    expect(() => signTestJwt({ alg: 'RS256' }, {}, 'secret')).toThrow(TypeError);
  });
});
