import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueAccessToken } from '../src/auth/tokens';
import { runKeysCommand } from '../src/cli/keys-command';
import type { Byok } from '@byok/core';
import type { ByokResponse } from '@byok/core/http';
import { decodeTestJwt, selectTestBackends, signTestJwt } from '@byok/testing';
import type { DevIssuer } from '@byok/testing';
import { BASE, Browser, devIssuer, makeByok, openDatabase, startIssuer, type Backend, type Database } from './auth-flow-harness';

const BACKENDS = selectTestBackends<Backend>(['memory', 'sqlite', 'postgres']);

let issuer: DevIssuer;
beforeAll(async () => {
  issuer = await startIssuer([{ sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice' }]);
});
afterAll(async () => {
  await issuer.close();
});

function code(response: ByokResponse): string | undefined {
  return (response.body as { error?: { code: string } } | undefined)?.error?.code;
}

/** A clock both the SDK and the test move. */
function testClock(start = Date.now()) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms), reset: () => void (now = Date.now()) };
}

async function newUser(byok: Byok, subject: string = randomUUID()): Promise<string> {
  const { user } = await byok.users.findOrCreate({ issuer: 'https://host.example', subject, email: `${subject}@example.test`, emailVerified: true });
  return user.id;
}

/**
 * The token with one bit of its decoded signature flipped. Editing the last base64url
 * characters instead can leave the bytes unchanged (the last one carries padding bits).
 */
function withFlippedSignatureBit(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const bytes = Buffer.from(signature, 'base64url');
  bytes[0]! ^= 0x01;
  return `${header}.${payload}.${bytes.toString('base64url')}`;
}

function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

for (const backend of BACKENDS) {
  describe(`sessions and tokens on ${backend}`, () => {
    let db: Database;
    let byok: Byok;
    const clock = testClock();

    beforeAll(async () => {
      db = await openDatabase(backend);
      byok = await makeByok(await db.options(), [devIssuer(issuer)], {}, { clock });
    });
    afterAll(async () => {
      await byok?.close();
      await db?.close();
    });

    it('issues EdDSA access tokens with kid, typ, sid and a 5-minute lifetime; Bearer works', async () => {
      const userId = await newUser(byok);
      const tokens = await byok.auth!.createSession(userId);
      const { header, payload } = decodeTestJwt(tokens.accessToken);
      expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
      expect(header.kid).toBe(byok.auth!.keys.ring.current().kid);
      expect(payload).toMatchObject({ sub: userId, sid: tokens.sessionId, iss: BASE, aud: BASE });
      expect((payload.exp as number) - (payload.iat as number)).toBe(300);
      expect(tokens.refreshToken).toMatch(/^byok_rt_[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
      const me = await new Browser(byok).request('GET', '/me', { headers: bearer(tokens.accessToken) });
      expect(me.status).toBe(200);
      // The store keeps only the SHA-256 of the refresh secret.
      const row = await byok.store.authSessions.findById(tokens.sessionId);
      expect(row!.refreshHash).toMatch(/^[0-9a-f]{64}$/);
      expect(tokens.refreshToken).not.toContain(row!.refreshHash);
    });

    it('refreshes with a body token for API clients and returns tokens in the body', async () => {
      const tokens = await byok.auth!.createSession(await newUser(byok));
      const res = await new Browser(byok).request('POST', '/auth/refresh', { body: { refreshToken: tokens.refreshToken }, headers: { origin: '' } });
      expect(res.status).toBe(200);
      const body = res.body as { accessToken: string; refreshToken: string; tokenType: string };
      expect(body.tokenType).toBe('Bearer');
      expect(body.refreshToken).not.toBe(tokens.refreshToken);
      expect(res.cookies).toHaveLength(0);
    });

    it('refuses an expired access token and an expired refresh token', async () => {
      const tokens = await byok.auth!.createSession(await newUser(byok));
      clock.advance(306_000);
      const res = await new Browser(byok).request('GET', '/me', { headers: bearer(tokens.accessToken) });
      expect(res.status).toBe(401);
      expect(code(res)).toBe('token_expired');
      clock.advance(31 * 86_400_000);
      const late = await new Browser(byok).request('POST', '/auth/refresh', { body: { refreshToken: tokens.refreshToken } });
      expect(late.status).toBe(401);
      expect(code(late)).toBe('unauthenticated');
    });

    it('refuses alg none, HS256 keyed with the public key, a foreign key with an unknown kid, and another issuer or audience', async () => {
      const userId = await newUser(byok);
      const tokens = await byok.auth!.createSession(userId);
      const { header, payload } = decodeTestJwt(tokens.accessToken);
      const jwk = (await byok.auth!.jwks())!.keys[0]!;
      const foreign = generateKeyPairSync('ed25519');
      const forged = [
        signTestJwt({ ...header, alg: 'none' } as never, payload),
        signTestJwt({ ...header, alg: 'HS256' } as never, payload, Buffer.from(jwk.x!, 'base64url')),
        signTestJwt({ ...header, alg: 'HS256' } as never, payload, JSON.stringify(jwk)),
        signTestJwt({ ...header, alg: 'EdDSA', kid: randomUUID() } as never, payload, foreign.privateKey),
        signTestJwt({ ...header, alg: 'EdDSA' } as never, payload, foreign.privateKey),
        (await issueAccessToken(byok.auth!.keys.ring, { sub: userId, sid: tokens.sessionId }, { issuer: 'https://evil.example', audience: BASE, clock })).token,
        (await issueAccessToken(byok.auth!.keys.ring, { sub: userId, sid: tokens.sessionId }, { issuer: BASE, audience: 'https://other.example', clock })).token,
        withFlippedSignatureBit(tokens.accessToken),
      ];
      for (const token of forged) {
        const res = await new Browser(byok).request('GET', '/me', { headers: bearer(token) });
        expect(res.status).toBe(401);
        expect(code(res)).toBe('unauthenticated');
      }
      const malformed = await new Browser(byok).request('GET', '/me', { headers: { authorization: 'Basic abc' } });
      expect(code(malformed)).toBe('unauthenticated');
    });

    it('publishes a JWKS with public members only', async () => {
      const res = await new Browser(byok).request('GET', '/.well-known/jwks.json');
      expect(res.status).toBe(200);
      const keys = (res.body as { keys: Array<Record<string, unknown>> }).keys;
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
        for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(member);
      }
      // The private part is stored sealed, never as a JWK.
      for (const row of await byok.store.signingKeys.list()) {
        expect(row.privateSealed).not.toMatch(/"d"|"kty"/);
        expect(Buffer.from(row.privateSealed, 'base64url').toString('latin1')).not.toContain('"d"');
      }
    });

    it('parallel refreshes do not fork the family: one wins, the others get 409 refresh_race', async () => {
      clock.reset(); // the issuer's ID token is checked against the SDK's clock
      const browser = new Browser(byok);
      await browser.signIn('dev', 'alice');
      const original = browser.cookie('byok_rt')!;
      const results = await Promise.all(Array.from({ length: 5 }, () => browser.request('POST', '/auth/refresh')));
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 409, 409, 409, 409]);
      expect(results.filter((r) => r.status === 409).every((r) => code(r) === 'refresh_race')).toBe(true);
      const userId = ((await browser.request('GET', '/me')).body as { id: string }).id;
      const parsed = original.slice('byok_rt_'.length, 'byok_rt_'.length + 36);
      const row = await byok.store.authSessions.findById(parsed);
      const head = await byok.store.authSessions.familyHead(userId, row!.familyId);
      expect(head!.parentId).toBe(parsed);
      expect((await browser.request('POST', '/auth/refresh')).status).toBe(200);
      // The same old token after the grace is plain reuse: the whole family is revoked.
      clock.advance(31_000);
      const reuse = await browser.request('POST', '/auth/refresh', { body: { refreshToken: original } });
      expect(code(reuse)).toBe('refresh_reused');
      expect((await browser.request('POST', '/auth/refresh')).status).toBe(401);
      const actions = (await byok.audit.list(userId, {})).items.map((e) => e.action);
      expect(actions).toEqual(expect.arrayContaining(['auth.login.succeeded', 'auth.refresh', 'auth.refresh.reused']));
    });

    it('a revoked session: default mode lets its access token run out, strict mode refuses it at once', async () => {
      const strict = await makeByok(await db.options(), [devIssuer(issuer)], { strict: { cacheMs: 1000 } }, { clock });
      try {
        for (const [instance, expected] of [
          [byok, 200],
          [strict, 401],
        ] as const) {
          const tokens = await instance.auth!.createSession(await newUser(instance));
          const before = await new Browser(instance).request('GET', '/me', { headers: bearer(tokens.accessToken) });
          expect(before.status).toBe(200);
          await instance.auth!.logout({ refreshToken: tokens.refreshToken });
          const after = await new Browser(instance).request('GET', '/me', { headers: bearer(tokens.accessToken) });
          expect(after.status).toBe(expected);
        }
      } finally {
        await strict.close();
      }
    });

    it('logout revokes the family and drops the issuer’s tokens (kept sealed while signed in)', async () => {
      clock.reset();
      const browser = new Browser(byok);
      await browser.signIn('dev', 'alice');
      const userId = ((await browser.request('GET', '/me')).body as { id: string }).id;
      const row = await byok.store.oauthTokens.get(userId, issuer.issuer);
      expect(row?.accessTokenSealed).toBeTruthy();
      const opened = await byok.auth!.issuerTokens(userId, issuer.issuer);
      expect(opened?.accessToken).toBeTruthy();
      expect(row!.accessTokenSealed).not.toContain(opened!.accessToken!);
      expect((await browser.request('POST', '/auth/logout')).status).toBe(204);
      expect(await byok.store.oauthTokens.get(userId, issuer.issuer)).toBeUndefined();
      const actions = (await byok.audit.list(userId, {})).items.map((e) => e.action);
      expect(actions).toContain('auth.logout');
    });
  });
}

describe('CSRF for cookie-authenticated requests', () => {
  let byok: Byok;
  beforeAll(async () => {
    byok = await makeByok({ memory: true }, [devIssuer(issuer)]);
  });
  afterAll(async () => {
    await byok?.close();
  });

  it('refuses cross-site POST, Origin null, a missing Origin and a sibling subdomain; allows the app and same-origin', async () => {
    const browser = new Browser(byok);
    await browser.signIn('dev', 'alice');
    const refused: Array<Record<string, string>> = [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { origin: 'http://evil.app.example' },
      { origin: 'http://api.app.example' },
      { origin: 'https://app.example' },
      { origin: '' },
      { origin: '', 'sec-fetch-site': 'cross-site' },
      { origin: '', 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of refused) {
      for (const [method, path] of [
        ['POST', '/auth/logout-all'],
        ['POST', '/auth/refresh'],
        ['POST', '/auth/logout'],
        ['PATCH', '/me/preferences'],
      ] as const) {
        const res = await browser.request(method, path, { headers, body: method === 'PATCH' ? { theme: 'dark' } : {} });
        expect({ headers, path, status: res.status, code: code(res) }).toEqual({ headers, path, status: 403, code: 'csrf_rejected' });
      }
    }
    const sameOrigin = await browser.request('PATCH', '/me/preferences', { headers: { origin: '', 'sec-fetch-site': 'same-origin' }, body: { theme: 'dark' } });
    expect(sameOrigin.status).toBe(200);
    const fromApp = await browser.request('PATCH', '/me/preferences', { body: { theme: 'light' } });
    expect(fromApp.status).toBe(200);
    // Safe methods need no Origin.
    expect((await browser.request('GET', '/me', { headers: { origin: 'https://evil.example' } })).status).toBe(200);
  });

  it('does not apply to Bearer requests (no ambient credential)', async () => {
    const tokens = await byok.auth!.createSession(await newUser(byok));
    const res = await new Browser(byok).request('PATCH', '/me/preferences', { headers: { ...bearer(tokens.accessToken), origin: 'https://evil.example' }, body: { theme: 'dark' } });
    expect(res.status).toBe(200);
  });
});

describe('client IP and rate limits', () => {
  it('rotating X-Forwarded-For without trusted proxies does not escape the per-IP limit', async () => {
    const byok = await makeByok({ memory: true }, [devIssuer(issuer)], {}, { rateLimits: { login_start: { perIp: 3 } } });
    try {
      const browser = new Browser(byok);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await browser.request('GET', '/auth/login/dev', { headers: { 'x-forwarded-for': `198.51.100.${i}` } })).status);
      }
      expect(statuses).toEqual([302, 302, 302, 429]);
      const refused = await browser.request('GET', '/auth/login/dev');
      expect(code(refused)).toBe('rate_limited');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // IPv6 is counted per /64: a new address in the same /64 is the same client.
      const v6 = [];
      for (let i = 1; i <= 4; i++) v6.push((await browser.request('GET', '/auth/login/dev', { ip: `2001:db8:1:2::${i}` })).status);
      expect(v6).toEqual([302, 302, 302, 429]);
      expect((await browser.request('GET', '/auth/login/dev', { ip: '2001:db8:1:3::1' })).status).toBe(302);
    } finally {
      await byok.close();
    }
  });

  it('counts refreshes per user as well as per IP', async () => {
    const byok = await makeByok({ memory: true }, [devIssuer(issuer)], {}, { rateLimits: { refresh: { perIp: 1000, perUser: 2 } } });
    try {
      const userId = await newUser(byok);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { refreshToken } = await byok.auth!.createSession(userId);
        statuses.push((await new Browser(byok).request('POST', '/auth/refresh', { ip: `198.51.100.${i}`, body: { refreshToken } })).status);
      }
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await byok.close();
    }
  });

  it('with a trusted proxy hop, the rightmost untrusted address is the client', async () => {
    const byok = await makeByok({ memory: true }, [devIssuer(issuer)], {}, { http: { trustProxy: ['10.0.0.0/8'] }, rateLimits: { login_start: { perIp: 2 } } });
    try {
      const browser = new Browser(byok);
      const send = (xff: string) => browser.request('GET', '/auth/login/dev', { ip: '10.0.0.5', headers: { 'x-forwarded-for': xff } });
      expect((await send('1.1.1.1, 198.51.100.20')).status).toBe(302);
      expect((await send('2.2.2.2, 198.51.100.20')).status).toBe(302);
      // The spoofed left part changed, the real client did not.
      expect((await send('3.3.3.3, 198.51.100.20')).status).toBe(429);
      expect((await send('198.51.100.21')).status).toBe(302);
    } finally {
      await byok.close();
    }
  });

  it('limits the callback and refresh classes, and shares counts between instances through Redis', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const options = { redis, rateLimits: { refresh: { perIp: 3, perUser: 100 }, login_callback: { perIp: 1 } } };
    const a = await makeByok({ memory: true }, [devIssuer(issuer)], {}, options);
    const b = await makeByok({ memory: true }, [devIssuer(issuer)], {}, options);
    try {
      const ip = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}::1`;
      const statuses: number[] = [];
      for (const instance of [a, b, a, b]) {
        statuses.push((await new Browser(instance).request('POST', '/auth/refresh', { ip, body: { refreshToken: 'x' } })).status);
      }
      // Three bad tokens are counted (401), the fourth request is over the shared limit.
      expect(statuses).toEqual([401, 401, 401, 429]);
      const cb = [];
      for (const instance of [a, b]) cb.push((await new Browser(instance).request('GET', '/auth/callback/dev?code=x&state=y', { ip })).status);
      expect(cb).toEqual([401, 429]);
    } finally {
      await a.close();
      await b.close();
      redis.disconnect();
    }
  });
});

describe('an unmigrated database (byok migrate)', () => {
  it('builds byok with auth before the tables exist; the keys load on first use', async () => {
    const db = await openDatabase('sqlite');
    const byok = await makeByok(await db.options(), [devIssuer(issuer)], {}, { migrate: false });
    try {
      const report = await byok.store.migrate();
      expect(report.applied).toContain('0003-auth');
      const tokens = await byok.auth!.createSession(await newUser(byok));
      expect((await new Browser(byok).request('GET', '/me', { headers: bearer(tokens.accessToken) })).status).toBe(200);
      expect((await byok.store.signingKeys.list()).length).toBe(1);
    } finally {
      await byok.close();
      await db.close();
    }
  });
});

describe('cookies over https and other algorithms', () => {
  it('uses __Host- cookie names with Secure when served over https', async () => {
    const byok = await makeByok({ memory: true }, [devIssuer(issuer)], { baseUrl: 'https://api.example', allowedOrigins: ['https://app.example'] });
    try {
      const browser = new Browser(byok, 'https://api.example');
      browser.origin = 'https://app.example';
      const start = await browser.request('GET', '/auth/login/dev');
      expect(start.cookies[0]).toMatchObject({ name: '__Host-byok_login', secure: true, httpOnly: true, sameSite: 'Lax', path: '/' });
      const tokens = await byok.auth!.createSession(await newUser(byok));
      const ok = await browser.request('GET', '/me', { headers: { cookie: `__Host-byok_at=${tokens.accessToken}` } });
      expect(ok.status).toBe(200);
      const plain = await browser.request('GET', '/me', { headers: { cookie: `byok_at=${tokens.accessToken}` } });
      expect(plain.status).toBe(401);
    } finally {
      await byok.close();
    }
  });

  it('HS256: no JWKS at all, and tokens of another algorithm are refused both ways', async () => {
    const hs = await makeByok({ memory: true }, [devIssuer(issuer)], { jwt: { alg: 'HS256' } });
    const ed = await makeByok({ memory: true }, [devIssuer(issuer)]);
    try {
      expect((await new Browser(hs).request('GET', '/.well-known/jwks.json')).status).toBe(404);
      const hsTokens = await hs.auth!.createSession(await newUser(hs, 'same-subject'));
      expect(decodeTestJwt(hsTokens.accessToken).header.alg).toBe('HS256');
      expect((await new Browser(hs).request('GET', '/me', { headers: bearer(hsTokens.accessToken) })).status).toBe(200);
      const edTokens = await ed.auth!.createSession(await newUser(ed, 'same-subject'));
      expect((await new Browser(hs).request('GET', '/me', { headers: bearer(edTokens.accessToken) })).status).toBe(401);
      expect((await new Browser(ed).request('GET', '/me', { headers: bearer(hsTokens.accessToken) })).status).toBe(401);
    } finally {
      await hs.close();
      await ed.close();
    }
  });

  it('ES256 is selectable', async () => {
    const es = await makeByok({ memory: true }, [devIssuer(issuer)], { jwt: { alg: 'ES256' } });
    try {
      const tokens = await es.auth!.createSession(await newUser(es));
      expect(decodeTestJwt(tokens.accessToken).header.alg).toBe('ES256');
      expect((await new Browser(es).request('GET', '/me', { headers: bearer(tokens.accessToken) })).status).toBe(200);
      expect((await es.auth!.jwks())!.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256' });
    } finally {
      await es.close();
    }
  });
});

for (const backend of selectTestBackends(['sqlite', 'postgres'] as const)) {
  describe(`signing key rotation across instances on ${backend}`, () => {
    it('a key rotated by one instance verifies on another (rate-limited reload), revocation stops a key, the CLI rotates and revokes', async () => {
      const db = await openDatabase(backend);
      const clock = testClock();
      const config = await db.options();
      const a = await makeByok(config, [devIssuer(issuer)], {}, { clock });
      const b = await makeByok(config, [devIssuer(issuer)], {}, { clock });
      const get = (instance: Byok, token: string) => new Browser(instance).request('GET', '/me', { headers: bearer(token) });
      try {
        const userId = await newUser(a);
        const first = await a.auth!.createSession(userId);
        expect((await get(b, first.accessToken)).status).toBe(200);

        const r1 = await a.auth!.rotateKeys({ publishDelayMs: 0 });
        const second = await a.auth!.createSession(userId);
        expect(decodeTestJwt(second.accessToken).header.kid).toBe(r1.kid);
        expect((await get(b, second.accessToken)).status).toBe(200);

        // Another unknown kid right away: the reload is rate-limited, so B refuses for now…
        const r2 = await a.auth!.rotateKeys({ publishDelayMs: 0 });
        const third = await a.auth!.createSession(userId);
        expect(decodeTestJwt(third.accessToken).header.kid).toBe(r2.kid);
        expect((await get(b, third.accessToken)).status).toBe(401);
        // …and accepts after the interval.
        clock.advance(31_000);
        expect((await get(b, third.accessToken)).status).toBe(200);
        // Old keys keep verifying after rotation.
        expect((await get(b, second.accessToken)).status).toBe(200);

        // Published before use: the default rotation is in the JWKS before it signs.
        const r3 = await a.auth!.rotateKeys();
        const jwks = (await new Browser(a).request('GET', '/.well-known/jwks.json')).body as { keys: Array<{ kid: string }> };
        expect(jwks.keys.map((k) => k.kid)).toContain(r3.kid);
        expect(decodeTestJwt((await a.auth!.createSession(userId)).accessToken).header.kid).toBe(r2.kid);
        clock.advance(61_000);
        const fourth = await a.auth!.createSession(userId);
        expect(decodeTestJwt(fourth.accessToken).header.kid).toBe(r3.kid);

        // `byok keys revoke` and `byok keys rotate`.
        const out: string[] = [];
        const io = { byok: a, stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => out.push(t) } };
        expect((await get(b, fourth.accessToken)).status).toBe(200);
        expect(await runKeysCommand(['revoke', r3.kid], io)).toBe(0);
        expect((await get(a, fourth.accessToken)).status).toBe(401);
        // Another instance, which only verifies, drops the revoked key at its next reload.
        clock.advance(31_000);
        expect((await get(b, fourth.accessToken)).status).toBe(401);
        const fifth = await a.auth!.createSession(userId);
        expect((await get(a, fifth.accessToken)).status).toBe(200);
        expect(await runKeysCommand(['rotate', '--publish-delay', '0'], io)).toBe(0);
        expect(await runKeysCommand(['list', '--json'], io)).toBe(0);
        const listed = JSON.parse(out.at(-1)!) as Array<{ kid: string }>;
        expect(listed.map((k) => k.kid)).not.toContain(r3.kid);
        expect(await runKeysCommand(['revoke', 'no-such-kid'], io)).toBe(1);

        const system = await a.store.audit.list({ chain: 'system', limit: 50 });
        const actions = system.map((r) => r.action);
        expect(actions).toEqual(expect.arrayContaining(['auth.keys.rotated', 'auth.keys.revoked']));
      } finally {
        await a.close();
        await b.close();
        await db.close();
      }
    });
  });
}
