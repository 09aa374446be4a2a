import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Byok } from '@byok/core';
import { selectTestBackends, type DevIssuer } from '@byok/testing';
import { APP, BASE, Browser, devIssuer, makeByok, openDatabase, startIssuer, type Backend, type Database } from './auth-flow-harness';

const BACKENDS = selectTestBackends<Backend>(['memory', 'sqlite', 'postgres']);

let issuer: DevIssuer;
beforeAll(async () => {
  issuer = await startIssuer([
    { sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice', picture: 'https://img.example/a.png' },
    { sub: 'bob', email: 'bob@example.test', email_verified: false, name: 'Bob' },
  ]);
});
afterAll(async () => {
  await issuer.close();
});

for (const backend of BACKENDS) {
  describe(`auth flow on ${backend}`, () => {
    let db: Database;
    let byok: Byok;

    beforeAll(async () => {
      db = await openDatabase(backend);
      byok = await makeByok(await db.options(), [devIssuer(issuer)]);
    });
    afterAll(async () => {
      await byok?.close();
      await db?.close();
    });

    it('signs in through the real issuer, sets session cookies and redirects to returnTo', async () => {
      const browser = new Browser(byok);
      const start = await browser.request('GET', '/auth/login/dev?returnTo=%2Fchat%2F42');
      expect(start.status).toBe(302);
      const authUrl = new URL(start.redirect!);
      expect(authUrl.origin).toBe(issuer.issuer);
      expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
      expect(authUrl.searchParams.get('state')).toBeTruthy();
      expect(authUrl.searchParams.get('nonce')).toBeTruthy();
      expect(authUrl.searchParams.get('redirect_uri')).toBe(`${BASE}/auth/callback/dev`);
      const loginCookie = start.cookies.find((c) => c.name === 'byok_login')!;
      expect(loginCookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
      // The sealed cookie reveals none of the checks.
      expect(loginCookie.value).not.toContain(authUrl.searchParams.get('state')!);

      const { driveLogin } = await import('@byok/testing');
      const callback = await driveLogin(start.redirect!, { login: 'alice' });
      const done = await browser.request('GET', callback);
      expect(done.status).toBe(303);
      expect(done.redirect).toBe(`${APP}/chat/42`);
      expect(browser.cookie('byok_at')).toBeTruthy();
      expect(browser.cookie('byok_rt')).toMatch(/^byok_rt_/);
      expect(browser.cookie('byok_login')).toBeUndefined();

      const me = await browser.request('GET', '/me');
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ email: 'alice@example.test', name: 'Alice', emailVerified: true });

      const audit = await byok.audit.list((me.body as { id: string }).id, {});
      expect(audit.items.map((e) => e.action)).toEqual(expect.arrayContaining(['user.created', 'auth.login.succeeded']));
    });

    it('finds the same user at the next login and refreshes the profile', async () => {
      const a = new Browser(byok);
      await a.signIn('dev', 'alice');
      const first = (await a.request('GET', '/me')).body as { id: string };
      issuer.addUser({ sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice Renamed' });
      const b = new Browser(byok);
      await b.signIn('dev', 'alice');
      const second = (await b.request('GET', '/me')).body as { id: string; name: string };
      expect(second.id).toBe(first.id);
      expect(second.name).toBe('Alice Renamed');
      issuer.addUser({ sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice' });
    });

    it('rotates the refresh token; a replayed one revokes the family', async () => {
      const browser = new Browser(byok);
      await browser.signIn('dev', 'bob');
      const first = browser.cookie('byok_rt')!;
      const refreshed = await browser.request('POST', '/auth/refresh');
      expect(refreshed.status).toBe(200);
      const second = browser.cookie('byok_rt')!;
      expect(second).not.toBe(first);
      const third = await browser.request('POST', '/auth/refresh');
      expect(third.status).toBe(200);
      // The first token is two rotations old: not the direct predecessor, so reuse.
      const replay = await browser.request('POST', '/auth/refresh', { body: { refreshToken: first } });
      expect(replay.status).toBe(401);
      expect((replay.body as { error: { code: string } }).error.code).toBe('refresh_reused');
      const after = await browser.request('POST', '/auth/refresh');
      expect(after.status).toBe(401);
    });

    it("never lets one user sign out another user's real session", async () => {
      const alice = new Browser(byok);
      const bob = new Browser(byok);
      await alice.signIn('dev', 'alice');
      await bob.signIn('dev', 'bob');
      const aliceSessions = (await alice.request('GET', '/auth/sessions')).body as { items: Array<{ id: string; current: boolean }> };
      const aliceSession = aliceSessions.items.find((s) => s.current)!;
      const bobSessions = (await bob.request('GET', '/auth/sessions')).body as { items: Array<{ id: string }> };
      expect(bobSessions.items.map((s) => s.id)).not.toContain(aliceSession.id);

      const refused = await bob.request('DELETE', `/auth/sessions/${aliceSession.id}`);
      expect(refused.status).toBe(404);
      expect((refused.body as { error: { code: string } }).error.code).toBe('not_found');
      expect((await alice.request('POST', '/auth/refresh')).status).toBe(200);
      expect(((await alice.request('GET', '/auth/sessions')).body as { items: Array<{ id: string }> }).items.map((s) => s.id)).toContain(aliceSession.id);
    });

    it('lists sessions with device and ip, revokes one, logs out, signs out everywhere', async () => {
      const laptop = new Browser(byok);
      const phone = new Browser(byok);
      phone.userAgent = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1';
      await laptop.signIn('dev', 'alice');
      await phone.signIn('dev', 'alice');
      const list = await laptop.request('GET', '/auth/sessions');
      expect(list.status).toBe(200);
      const items = (list.body as { items: Array<{ id: string; current: boolean; device: string; ip: string }> }).items;
      const current = items.find((s) => s.current)!;
      expect(current.device).toBe('Firefox on Linux');
      expect(current.ip).toBe('203.0.113.7');
      const other = items.find((s) => s.device === 'Safari on iOS')!;
      expect(other).toBeTruthy();
      expect((await laptop.request('DELETE', `/auth/sessions/${other.id}`)).status).toBe(204);
      expect((await phone.request('POST', '/auth/refresh')).status).toBe(401);
      expect((await laptop.request('DELETE', `/auth/sessions/${other.id}`)).status).toBe(404);

      const out = await laptop.request('POST', '/auth/logout');
      expect(out.status).toBe(204);
      expect(laptop.cookie('byok_at')).toBeUndefined();
      expect(laptop.cookie('byok_rt')).toBeUndefined();

      const desk = new Browser(byok);
      const tablet = new Browser(byok);
      await desk.signIn('dev', 'alice');
      await tablet.signIn('dev', 'alice');
      const all = await desk.request('POST', '/auth/logout-all');
      expect(all.status).toBe(200);
      expect((await tablet.request('POST', '/auth/refresh')).status).toBe(401);
      const aliceId = (await byok.store.users.findByIdentity(issuer.issuer, 'alice'))!.user.id;
      const actions = (await byok.audit.list(aliceId, { limit: 100 })).items.map((e) => e.action);
      expect(actions).toEqual(expect.arrayContaining(['auth.session.revoked', 'auth.logout', 'auth.logout_all']));
      // Expired rows can be purged; live ones stay.
      expect(await byok.auth!.purgeExpiredSessions()).toBe(0);
    });
  });
}
