import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { google, isByokError, isLoopbackHost, oidc } from '@byok/core';
import { OidcClient } from '../src/auth/oidc-client';
import type { ByokError, OidcIssuerConfig } from '@byok/core';
import { driveLogin, startDevIssuer, testSigningKeyPair } from '@byok/testing';
import type { DevIssuer } from '@byok/testing';

const REDIRECT = 'http://127.0.0.1:4998/auth/callback/dev';
let issuer: DevIssuer;

beforeAll(async () => {
  issuer = await startDevIssuer({
    users: [{ sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice', picture: 'https://img.example/a.png' }],
    clients: [
      { client_id: 'byok', client_secret: 'byok-secret', redirect_uris: [REDIRECT] },
      { client_id: 'other-rp', client_secret: 'other-secret', redirect_uris: [REDIRECT] },
      { client_id: 'public-byok', redirect_uris: [REDIRECT], grant_types: ['authorization_code'] },
    ],
  });
});

afterAll(async () => {
  await issuer.close();
});

function client(overrides: Partial<{ clientId: string; clientSecret: string | undefined; clock: { now(): number } }> = {}) {
  const config = oidc({
    id: 'dev',
    issuer: issuer.issuer,
    clientId: overrides.clientId ?? 'byok',
    clientSecret: 'clientSecret' in overrides ? overrides.clientSecret : 'byok-secret',
    development: true,
  });
  return new OidcClient(config, { redirectUri: REDIRECT, ...(overrides.clock ? { clock: overrides.clock } : {}) });
}

async function loginFailure(promise: Promise<unknown>): Promise<ByokError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the login to fail');
    },
    (e: unknown) => e,
  );
  expect(isByokError(error)).toBe(true);
  return error as ByokError;
}

async function expectReason(promise: Promise<unknown>, reason: string) {
  const error = await loginFailure(promise);
  expect(error.code).toBe('login_failed');
  expect(error.details).toEqual({ reason });
  expect(error.status).toBe(401);
}

describe('OidcClient against the dev issuer', () => {
  it('signs in: PKCE S256, state and nonce in the URL; validated claims back', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const url = new URL(start.url);
    expect(url.origin).toBe(issuer.issuer);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('code_challenge')).not.toBe(start.codeVerifier);
    expect(url.searchParams.get('state')).toBe(start.state);
    expect(url.searchParams.get('nonce')).toBe(start.nonce);
    expect(url.searchParams.get('scope')).toBe('openid email profile');
    expect(url.searchParams.get('redirect_uri')).toBe(REDIRECT);

    const callback = await driveLogin(start.url, { login: 'alice' });
    const result = await rp.finishLogin(callback, start);
    expect(result).toMatchObject({
      issuer: issuer.issuer,
      subject: 'alice',
      email: 'alice@example.test',
      emailVerified: true,
      name: 'Alice',
      picture: 'https://img.example/a.png',
      hostedDomain: null,
    });
    expect(result.claims.aud).toBe('byok');
    expect(result.claims.nonce).toBe(start.nonce);
    expect(typeof result.tokens.accessToken).toBe('string');
    expect(typeof result.tokens.refreshToken).toBe('string');
    expect(result.tokens.expiresAt).toBeGreaterThan(Date.now());
  });

  it('gives a fresh state, nonce and verifier to every login', async () => {
    const rp = client();
    const a = await rp.startLogin();
    const b = await rp.startLogin();
    expect(a.state).not.toBe(b.state);
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.codeVerifier).not.toBe(b.codeVerifier);
  });

  it('works for a public client (no secret, PKCE only)', async () => {
    const rp = client({ clientId: 'public-byok', clientSecret: undefined });
    const start = await rp.startLogin();
    const result = await rp.finishLogin(await driveLogin(start.url, { login: 'alice' }), start);
    expect(result.subject).toBe('alice');
    expect(result.tokens.refreshToken).toBeNull();
  });

  it('refuses a state mismatch, and a callback without state', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const callback = await driveLogin(start.url, { login: 'alice' });
    await expectReason(rp.finishLogin(callback, { ...start, state: 'forged-state' }), 'state_mismatch');
    const stripped = new URL(callback);
    stripped.searchParams.delete('state');
    await expectReason(rp.finishLogin(stripped, start), 'state_mismatch');
  });

  it('refuses a nonce mismatch', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const callback = await driveLogin(start.url, { login: 'alice' });
    await expectReason(rp.finishLogin(callback, { ...start, nonce: 'another-nonce' }), 'nonce_mismatch');
  });

  it('refuses an ID token whose nonce the issuer changed', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const callback = await driveLogin(start.url, { login: 'alice' });
    issuer.tamperNextIdToken({ claims: { nonce: 'replayed-nonce' } });
    await expectReason(rp.finishLogin(callback, start), 'nonce_mismatch');
  });

  it('refuses a wrong PKCE verifier, and a missing one', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const callback = await driveLogin(start.url, { login: 'alice' });
    const other = await rp.startLogin();
    await expectReason(rp.finishLogin(callback, { ...start, codeVerifier: other.codeVerifier }), 'code_rejected');
    await expectReason(rp.finishLogin(callback, { ...start, codeVerifier: '' }), 'callback_invalid');
  });

  it('refuses a replayed code', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const callback = await driveLogin(start.url, { login: 'alice' });
    await rp.finishLogin(callback, start);
    await expectReason(rp.finishLogin(callback, start), 'code_rejected');
  });

  it('refuses a code issued to another client', async () => {
    const mine = client();
    const theirs = client({ clientId: 'other-rp', clientSecret: 'other-secret' });
    const start = await theirs.startLogin();
    const callback = await driveLogin(start.url, { login: 'alice' });
    await expectReason(mine.finishLogin(callback, start), 'code_rejected');
  });

  it('refuses an ID token for another audience', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const callback = await driveLogin(start.url, { login: 'alice' });
    issuer.tamperNextIdToken({ claims: { aud: 'other-rp', azp: undefined } });
    await expectReason(rp.finishLogin(callback, start), 'audience_mismatch');
  });

  it('refuses an ID token from another issuer', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const callback = await driveLogin(start.url, { login: 'alice' });
    issuer.tamperNextIdToken({ claims: { iss: 'https://evil.example' } });
    await expectReason(rp.finishLogin(callback, start), 'issuer_mismatch');
  });

  it('refuses an expired ID token', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const callback = await driveLogin(start.url, { login: 'alice' });
    const past = Math.floor(Date.now() / 1000) - 3600;
    issuer.tamperNextIdToken({ claims: { iat: past - 60, exp: past } });
    await expectReason(rp.finishLogin(callback, start), 'id_token_expired');
  });

  it('refuses tokens that are expired by the injected clock', async () => {
    const rp = client({ clock: { now: () => Date.now() + 2 * 3600 * 1000 } });
    const start = await rp.startLogin();
    const callback = await driveLogin(start.url, { login: 'alice' });
    await expectReason(rp.finishLogin(callback, start), 'id_token_expired');
  });

  it('refuses ID tokens signed with another key, with alg none, or HS256 with the public key', async () => {
    const rp = client();
    for (const signWith of [
      'foreign' as const,
      'none' as const,
      { alg: 'HS256' as const, key: JSON.stringify(issuer.signingKey.publicJwk) },
      { alg: 'RS256' as const, key: testSigningKeyPair('RS256').privateKey },
    ]) {
      const start = await rp.startLogin();
      const callback = await driveLogin(start.url, { login: 'alice' });
      issuer.tamperNextIdToken({ signWith });
      await expectReason(rp.finishLogin(callback, start), 'id_token_signature');
    }
  });

  it('reports a cancelled login as authorization_denied', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const callback = await driveLogin(start.url, { login: 'alice', abort: true });
    await expectReason(rp.finishLogin(callback, start), 'authorization_denied');
  });

  it('takes the callback as a path with query, or as its query alone', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const callback = new URL(await driveLogin(start.url, { login: 'alice' }));
    // a host that mounts byok under a prefix hands over its own req.url
    expect((await rp.finishLogin(`/mounted/elsewhere${callback.search}`, start)).subject).toBe('alice');
    const again = await rp.startLogin();
    const second = new URL(await driveLogin(again.url, { login: 'alice' }));
    expect((await rp.finishLogin(second.searchParams, again)).subject).toBe('alice');
  });

  it('refuses a callback whose iss parameter names another issuer (mix-up)', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const callback = new URL(await driveLogin(start.url, { login: 'alice' }));
    expect(callback.searchParams.get('iss')).toBe(issuer.issuer);
    callback.searchParams.set('iss', 'https://evil.example');
    await expectReason(rp.finishLogin(callback, start), 'callback_invalid');
  });

  it('counts only true or "true" as a verified e-mail: "false", "False", 1, "yes" are not verified', async () => {
    const rp = client();
    for (const [asserted, verified] of [
      ['false', false],
      ['False', false],
      [1, false],
      ['yes', false],
      ['true', true],
      [true, true],
    ] as const) {
      const start = await rp.startLogin();
      const callback = await driveLogin(start.url, { login: 'alice' });
      issuer.tamperNextIdToken({ claims: { email_verified: asserted } });
      const result = await rp.finishLogin(callback, start);
      expect(result.claims.email_verified, `the ID token carried ${JSON.stringify(asserted)}`).toBe(asserted);
      expect(result.emailVerified, `email_verified: ${JSON.stringify(asserted)}`).toBe(verified);
    }
  });

  it('refuses a callback without a code', async () => {
    const rp = client();
    const start = await rp.startLogin();
    await expectReason(rp.finishLogin(`/cb?state=${start.state}`, start), 'callback_invalid');
  });

  it('never puts secrets in the error', async () => {
    const rp = client();
    const start = await rp.startLogin();
    const callback = await driveLogin(start.url, { login: 'alice' });
    const code = new URL(callback).searchParams.get('code')!;
    const error = await loginFailure(rp.finishLogin(callback, { ...start, state: 'x' }));
    const text = JSON.stringify({ body: error.toJSON(), message: error.message, cause: String(error.cause) });
    expect(text).not.toContain(code);
    expect(text).not.toContain(start.codeVerifier);
  });

  it('reports an unreachable issuer as provider_unavailable, and retries discovery later', async () => {
    const down = new OidcClient(oidc({ issuer: 'http://127.0.0.1:9', clientId: 'x', clientSecret: 'y' }), {
      redirectUri: REDIRECT,
      timeoutSeconds: 2,
    });
    const error = await loginFailure(down.startLogin());
    expect(error.code).toBe('provider_unavailable');
    await expect(down.startLogin()).rejects.toMatchObject({ code: 'provider_unavailable' });
  });
});

describe('plain-http issuers in production', () => {
  it('are refused even on loopback', async () => {
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      const rp = new OidcClient(oidc({ issuer: issuer.issuer, clientId: 'byok', clientSecret: 'byok-secret' }), { redirectUri: REDIRECT });
      await expect(rp.startLogin()).rejects.toMatchObject({ code: 'config_invalid' });
    } finally {
      process.env.NODE_ENV = previous;
    }
  });
});

describe('plain-http issuers off loopback', () => {
  it('are refused by an OidcClient built directly (not through oidc()), before any request', async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // 0.0.0.0 and an IPv4-mapped address reach this machine, but are not loopback names.
      for (const url of ['http://idp.example', `http://0.0.0.0:${port}`, `http://[::ffff:127.0.0.1]:${port}`, `http://127.0.0.1.nip.io:${port}`]) {
        const config: OidcIssuerConfig = { id: 'direct', kind: 'oidc', issuer: url, clientId: 'byok', clientSecret: 'byok-secret', scopes: ['openid'], authorizationParams: {} };
        const rp = new OidcClient(config, { redirectUri: REDIRECT, timeoutSeconds: 2 });
        await expect(rp.startLogin(), url).rejects.toMatchObject({ code: 'config_invalid' });
        await expect(rp.finishLogin('/cb?code=c&state=s', { state: 's', nonce: 'n', codeVerifier: 'v' }), url).rejects.toMatchObject({ code: 'config_invalid' });
      }
      expect(requests).toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('issuer factories', () => {
  it('google() targets accounts.google.com with openid email profile', () => {
    const g = google({ clientId: 'id.apps.googleusercontent.com', clientSecret: 's', hostedDomain: 'corp.example', offline: true });
    expect(g).toMatchObject({ id: 'google', kind: 'google', issuer: 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'] });
    expect(g.authorizationParams).toEqual({ hd: 'corp.example', access_type: 'offline', prompt: 'consent' });
    expect(() => google({ clientId: '', clientSecret: 's' })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });

  it('oidc() requires https except on loopback, and always asks for openid', () => {
    expect(oidc({ issuer: 'https://id.example.com', clientId: 'c', scopes: ['email'] })).toMatchObject({
      id: 'id-example-com',
      kind: 'oidc',
      scopes: ['openid', 'email'],
    });
    expect(oidc({ issuer: 'http://127.0.0.1:8080', clientId: 'c', development: true }).kind).toBe('dev');
    expect(() => oidc({ issuer: 'http://id.example.com', clientId: 'c' })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    expect(() => oidc({ issuer: 'not a url', clientId: 'c' })).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('127.10.0.1')).toBe(true);
    expect(isLoopbackHost('127.0.0.1.evil.example')).toBe(false);
  });
});
