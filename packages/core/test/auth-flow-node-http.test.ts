import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, localKms, oidc } from '@byok/core';
import { nodeListener } from '@byok/core/http';
import type { Byok } from '@byok/core';
import { CookieJar, driveLogin, startDevIssuer } from '@byok/testing';
import type { DevIssuer } from '@byok/testing';
import { COOKIE_SECRET, MASTER_KEYS } from './auth-flow-harness';

const APP = 'http://localhost:5173';

describe('the browser flow over a real node:http server', () => {
  let server: Server;
  let issuer: DevIssuer;
  let byok: Byok;
  let base: string;

  beforeAll(async () => {
    let handler: ReturnType<typeof nodeListener> | null = null;
    server = createServer((req, res) => void (handler ? handler(req, res) : res.writeHead(503).end()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    issuer = await startDevIssuer({
      users: [{ sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice' }],
      clients: [{ client_id: 'byok', client_secret: 'byok-secret', redirect_uris: [`${base}/auth/callback/dev`] }],
    });
    byok = await createByok({
      database: { memory: true },
      kms: localKms({ keys: MASTER_KEYS }),
      auth: {
        issuers: [oidc({ id: 'dev', issuer: issuer.issuer, clientId: 'byok', clientSecret: 'byok-secret', development: true })],
        baseUrl: base,
        allowedOrigins: [APP],
        cookieSecret: COOKIE_SECRET,
      },
    });
    handler = nodeListener(byok.http);
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await byok?.close();
    await issuer?.close();
  });

  it('signs in with fetch and a cookie jar, calls the API with the cookie, refreshes, signs out', async () => {
    const jar = new CookieJar();
    const go = async (path: string, init: RequestInit = {}) => {
      const url = new URL(path, base);
      const headers = new Headers(init.headers);
      const cookie = jar.header(url);
      if (cookie) headers.set('cookie', cookie);
      const res = await fetch(url, { ...init, headers, redirect: 'manual' });
      jar.store(url, res.headers);
      return res;
    };
    const start = await go('/auth/login/dev?returnTo=/chat');
    expect(start.status).toBe(302);
    expect(start.headers.getSetCookie().join('\n')).toMatch(/byok_login=[^;]+; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax/);
    const callback = await driveLogin(start.headers.get('location')!, { login: 'alice' });
    const done = await go(callback);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`${APP}/chat`);
    expect(done.headers.getSetCookie().join('\n')).toMatch(/byok_at=[^;]+; Path=\/; Max-Age=(299|300); HttpOnly; SameSite=Lax/);

    const me = await go('/me');
    expect(me.status).toBe(200);
    expect(((await me.json()) as { email: string }).email).toBe('alice@example.test');

    const crossSite = await go('/auth/refresh', { method: 'POST', headers: { origin: 'https://evil.example' } });
    expect(crossSite.status).toBe(403);
    const refreshed = await go('/auth/refresh', { method: 'POST', headers: { origin: APP } });
    expect(refreshed.status).toBe(200);

    const jwks = await go('/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(JSON.stringify(await jwks.json())).not.toMatch(/"d"/);
    expect((await go('/openapi.json')).status).toBe(200);

    const out = await go('/auth/logout', { method: 'POST', headers: { origin: APP } });
    expect(out.status).toBe(204);
    expect((await go('/me')).status).toBe(401);
  });
});
