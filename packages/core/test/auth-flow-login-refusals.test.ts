import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { google } from '@byok/core';
import { LoginStateSealer } from '../src/auth/login-state';
import type { Byok } from '@byok/core';
import type { ByokResponse } from '@byok/core/http';
import { driveLogin, selectTestBackends, startDevIssuer } from '@byok/testing';
import type { DevIssuer } from '@byok/testing';
import { APP, BASE, Browser, COOKIE_SECRET, devIssuer, googleLike, makeByok, openDatabase, type Backend, type Database } from './auth-flow-harness';

const BACKENDS = selectTestBackends<Backend>(['memory', 'sqlite']);

let primary: DevIssuer; // plays "dev" (development) and "gdev" (Google rules)
let other: DevIssuer; // a second, generic issuer: the attacker's
beforeAll(async () => {
  const clients = [{ client_id: 'byok', client_secret: 'byok-secret', redirect_uris: ['dev', 'gdev', 'other'].map((id) => `${BASE}/auth/callback/${id}`) }];
  primary = await startDevIssuer({
    users: [
      { sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice' },
      { sub: 'vic-g', email: 'victim@gmail.com', email_verified: true, name: 'Victim' },
      { sub: 'carol-g', email: 'carol@gmail.com', email_verified: true, name: 'Carol' },
      { sub: 'dave-g', email: 'dave@corp.example', email_verified: true, name: 'Dave', hd: 'corp.example' },
      { sub: 'erin-g', email: 'erin@corp.example', email_verified: true, name: 'Erin' },
    ],
    clients,
  });
  other = await startDevIssuer({
    users: [
      { sub: 'mallory', email: 'victim@gmail.com', email_verified: true, name: 'Mallory' },
      { sub: 'carol-o', email: 'carol@gmail.com', email_verified: true, name: 'Carol (other)' },
      { sub: 'dave-o', email: 'dave@corp.example', email_verified: true, name: 'Dave (other)' },
      { sub: 'erin-o', email: 'erin@corp.example', email_verified: true, name: 'Erin (other)' },
      { sub: 'alice-o', email: 'alice@example.test', email_verified: true, name: 'Alice (other)' },
    ],
    clients,
  });
});
afterAll(async () => {
  await primary.close();
  await other.close();
});

function code(response: ByokResponse): string | undefined {
  return (response.body as { error?: { code: string } } | undefined)?.error?.code;
}
function reason(response: ByokResponse): unknown {
  return (response.body as { error?: { details?: { reason?: unknown } } } | undefined)?.error?.details?.reason;
}
async function systemFailures(byok: Byok): Promise<string[]> {
  const rows = await byok.store.audit.list({ chain: 'system', actions: ['auth.login.failed'], limit: 100 });
  return rows.map((r) => (JSON.parse(r.metadata) as { reason: string }).reason);
}

for (const backend of BACKENDS) {
  describe(`login refusals on ${backend}`, () => {
    let db: Database;
    let byok: Byok;
    let linking: Byok;

    beforeAll(async () => {
      db = await openDatabase(backend);
      const issuers = [devIssuer(primary, 'dev'), googleLike(primary, 'gdev'), { ...devIssuer(other, 'other'), kind: 'oidc' as const }];
      byok = await makeByok(await db.options(), issuers);
      linking = await makeByok(await db.options(), issuers, { linking: { enabled: true } });
    });
    afterAll(async () => {
      await byok?.close();
      await linking?.close();
      await db?.close();
    });

    async function start(browser: Browser, issuerId = 'dev'): Promise<string> {
      const res = await browser.request('GET', `/auth/login/${issuerId}`);
      expect(res.status).toBe(302);
      return res.redirect!;
    }

    it('refuses a state mismatch (a callback meant for another browser)', async () => {
      const victim = new Browser(byok);
      const attacker = new Browser(byok);
      await start(victim);
      const attackerCallback = await driveLogin(await start(attacker), { login: 'alice' });
      const res = await victim.request('GET', attackerCallback);
      expect(res.status).toBe(401);
      expect(code(res)).toBe('login_failed');
      expect(reason(res)).toBe('state_mismatch');
      expect(victim.cookie('byok_at')).toBeUndefined();
      expect(await systemFailures(byok)).toContain('state_mismatch');
    });

    it('refuses a callback without the login cookie, and one started for another issuer', async () => {
      const browser = new Browser(byok);
      const callback = await driveLogin(await start(browser), { login: 'alice' });
      const bare = await new Browser(byok).request('GET', callback);
      expect(reason(bare)).toBe('state_missing');
      const elsewhere = new URL(callback);
      elsewhere.pathname = '/auth/callback/gdev';
      const res = await browser.request('GET', elsewhere.href);
      expect(res.status).toBe(401);
      expect(reason(res)).toBe('state_invalid');
    });

    it('refuses a nonce mismatch', async () => {
      const browser = new Browser(byok);
      const callback = await driveLogin(await start(browser), { login: 'alice' });
      primary.tamperNextIdToken({ claims: { nonce: 'another-nonce' } });
      const res = await browser.request('GET', callback);
      expect(reason(res)).toBe('nonce_mismatch');
    });

    it('refuses a wrong PKCE verifier and a missing one (the issuer checks it)', async () => {
      const sealer = new LoginStateSealer(COOKIE_SECRET);
      for (const codeVerifier of ['wrong-verifier-wrong-verifier-wrong-verifier-0123', '']) {
        const browser = new Browser(byok);
        const authUrl = new URL(await start(browser));
        const callback = await driveLogin(authUrl.href, { login: 'alice' });
        const real = sealer.open(browser.cookie('byok_login'), 'dev', Date.now());
        const forged = sealer.seal({ ...real, codeVerifier });
        const res = await browser.request('GET', callback, { headers: { cookie: `byok_login=${forged}` } });
        expect(res.status).toBe(401);
        expect(reason(res)).toBe(codeVerifier === '' ? 'callback_invalid' : 'code_rejected');
      }
    });

    it('refuses a replayed callback: once by the single-use state, and by the issuer for the code', async () => {
      const browser = new Browser(byok);
      await start(browser);
      const loginCookie = browser.cookie('byok_login')!;
      const authUrl = (await browser.request('GET', '/auth/login/dev')).redirect!;
      const fresh = browser.cookie('byok_login')!;
      expect(fresh).not.toBe(loginCookie);
      const callback = await driveLogin(authUrl, { login: 'alice' });
      expect((await browser.request('GET', callback)).status).toBe(303);
      const replay = await browser.request('GET', callback, { headers: { cookie: `byok_login=${fresh}` } });
      expect(reason(replay)).toBe('state_reused');
      // An instance that never saw the state (no shared marker) still fails: the code is spent.
      const elsewhere = await makeByok({ memory: true }, [devIssuer(primary, 'dev')]);
      try {
        const res = await new Browser(elsewhere).request('GET', callback, { headers: { cookie: `byok_login=${fresh}` } });
        expect(reason(res)).toBe('code_rejected');
      } finally {
        await elsewhere.close();
      }
    });

    it('refuses an ID token for another audience or from another issuer', async () => {
      for (const [claims, expected] of [
        [{ aud: 'someone-else' }, 'audience_mismatch'],
        [{ iss: 'https://evil.example' }, 'issuer_mismatch'],
      ] as const) {
        const browser = new Browser(byok);
        const callback = await driveLogin(await start(browser), { login: 'alice' });
        primary.tamperNextIdToken({ claims });
        expect(reason(await browser.request('GET', callback))).toBe(expected);
      }
    });

    it('refuses an expired ID token, alg none, a foreign key and HS256 keyed with the client secret', async () => {
      const cases = [
        [{ claims: { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 } }, 'id_token_expired'],
        [{ signWith: 'none' }, 'id_token_signature'],
        [{ signWith: 'foreign' }, 'id_token_signature'],
        [{ signWith: { alg: 'HS256', key: 'byok-secret' } }, 'id_token_signature'],
      ] as const;
      for (const [tamper, expected] of cases) {
        const browser = new Browser(byok);
        const callback = await driveLogin(await start(browser), { login: 'alice' });
        primary.tamperNextIdToken(tamper as Parameters<DevIssuer['tamperNextIdToken']>[0]);
        const res = await browser.request('GET', callback);
        expect(res.status).toBe(401);
        expect(reason(res)).toBe(expected);
        expect(browser.cookie('byok_at')).toBeUndefined();
      }
    });

    it('refuses each open-redirect form of returnTo, and audits it', async () => {
      const forms = [
        '//evil.example',
        'https://evil.example',
        'https://evil.example/chat',
        'javascript:alert(1)',
        'data:text/html,hi',
        '/\\evil.example',
        '\\\\evil.example',
        '%2F%2Fevil.example',
        '/%2F%2Fevil.example',
        '/%2Fevil.example',
        '/%5Cevil.example',
        '%5C%5Cevil.example',
        '/%252F%252Fevil.example',
        'https://app.example@evil.example',
        'http://app.example.evil.example',
        'https:evil.example',
        '/\tevil',
        'http://app.example:8080/',
      ];
      const browser = new Browser(byok);
      for (const form of forms) {
        const res = await browser.request('GET', `/auth/login/dev?returnTo=${encodeURIComponent(form)}`);
        expect({ form, status: res.status, code: code(res) }).toEqual({ form, status: 400, code: 'redirect_not_allowed' });
      }
      const ok = await browser.request('GET', `/auth/login/dev?returnTo=${encodeURIComponent(`${APP}/chat?x=1`)}`);
      expect(ok.status).toBe(302);
      expect(await systemFailures(byok)).toContain('redirect_not_allowed');
    });

    it('reports a cancelled sign-in as authorization_denied, and an unknown issuer as not found', async () => {
      const browser = new Browser(byok);
      const callback = await driveLogin(await start(browser), { login: 'alice', abort: true });
      const res = await browser.request('GET', callback);
      expect(res.status).toBe(401);
      expect(reason(res)).toBe('authorization_denied');
      expect(await systemFailures(byok)).toContain('authorization_denied');
      expect((await browser.request('GET', '/auth/login/nope')).status).toBe(404);
      expect((await browser.request('GET', '/auth/callback/nope?code=x&state=y')).status).toBe(404);
    });

    it('refuses a login that took too long', async () => {
      const sealer = new LoginStateSealer(COOKIE_SECRET);
      const browser = new Browser(byok);
      const callback = await driveLogin(await start(browser), { login: 'alice' });
      const real = sealer.open(browser.cookie('byok_login'), 'dev', Date.now());
      const stale = sealer.seal({ ...real, expiresAt: Date.now() - 1 });
      const res = await browser.request('GET', callback, { headers: { cookie: `byok_login=${stale}` } });
      expect(reason(res)).toBe('state_expired');
    });

    it('linking takeover: another issuer asserting the victim’s verified e-mail creates a separate user', async () => {
      for (const instance of [byok, linking]) {
        const victim = new Browser(instance);
        expect((await victim.signIn('gdev', 'vic-g')).status).toBe(303);
        const victimId = ((await victim.request('GET', '/me')).body as { id: string }).id;
        const attacker = new Browser(instance);
        expect((await attacker.signIn('other', 'mallory')).status).toBe(303);
        const me = (await attacker.request('GET', '/me')).body as { id: string; email: string };
        expect(me.email).toBe('victim@gmail.com');
        expect(me.id).not.toBe(victimId);
      }
    });

    it('automatic linking (opt-in) joins a new identity only to a user who already holds an authoritative one for that e-mail', async () => {
      const issuers = [devIssuer(primary, 'dev'), googleLike(primary, 'gdev'), { ...devIssuer(other, 'other'), kind: 'oidc' as const }];
      const auto = await makeByok(await db.options(), issuers, {
        linking: { enabled: true, automatic: true, authoritativeDomains: { other: ['corp.example'] } },
      });
      try {
        const idOf = async (b: Browser) => ((await b.request('GET', '/me')).body as { id: string }).id;
        // "other" is authoritative for corp.example, Google (hd = corp.example) too: Dave's identities join.
        const first = new Browser(auto);
        await first.signIn('other', 'dave-o');
        const daveId = await idOf(first);
        const second = new Browser(auto);
        expect((await second.signIn('gdev', 'dave-g')).status).toBe(303);
        expect(await idOf(second)).toBe(daveId);
        expect((await auto.audit.list(daveId, { actions: ['auth.identity.linked'] })).items).toHaveLength(1);
        // Pre-claiming: an issuer NOT authoritative for gmail.com asserts the victim's address
        // first; the victim's later Google sign-in must not join the attacker's account.
        const attacker = new Browser(auto);
        await attacker.signIn('other', 'mallory');
        const victim = new Browser(auto);
        await victim.signIn('gdev', 'vic-g');
        expect(await idOf(victim)).not.toBe(await idOf(attacker));
        // Carol likewise: her first account came from a non-authoritative issuer.
        const c1 = new Browser(auto);
        await c1.signIn('other', 'carol-o');
        const c2 = new Browser(auto);
        await c2.signIn('gdev', 'carol-g');
        expect(await idOf(c2)).not.toBe(await idOf(c1));
        // The development issuer never links.
        const a1 = new Browser(auto);
        await a1.signIn('other', 'alice-o');
        const a2 = new Browser(auto);
        await a2.signIn('dev', 'alice');
        expect(await idOf(a2)).not.toBe(await idOf(a1));
      } finally {
        await auto.close();
      }
    });

    it('enforces a Google Workspace domain on the ID token, not only as a request hint', async () => {
      expect(google({ clientId: 'c', clientSecret: 's', hostedDomain: 'Corp.Example' }).requiredHostedDomain).toBe('corp.example');
      const workspace = await makeByok(await db.options(), [{ ...googleLike(primary, 'gdev'), requiredHostedDomain: 'corp.example' }]);
      try {
        const member = new Browser(workspace);
        expect((await member.signIn('gdev', 'dave-g')).status).toBe(303);
        const outsider = new Browser(workspace);
        const res = await outsider.request('GET', await driveLogin((await outsider.request('GET', '/auth/login/gdev')).redirect!, { login: 'carol-g' }));
        expect(reason(res)).toBe('hosted_domain_mismatch');
        expect((await outsider.request('GET', '/me')).status).toBe(401);
      } finally {
        await workspace.close();
      }
    });

    it('a forged callback with a wrong state does not use up the browser’s login', async () => {
      const browser = new Browser(byok);
      const callback = await driveLogin(await start(browser), { login: 'alice' });
      const forged = await browser.request('GET', '/auth/callback/dev?code=forged&state=forged');
      expect(reason(forged)).toBe('state_mismatch');
      const real = await browser.request('GET', callback);
      expect(real.status).toBe(303);
    });

    it('linking is off by default; when on it needs the signed-in user, an authoritative issuer and matching verified e-mails', async () => {
      // Off by default.
      const plain = new Browser(byok);
      await plain.signIn('other', 'carol-o');
      const offStart = await plain.request('POST', '/auth/link/gdev', { body: {} });
      expect(offStart.status).toBe(200);
      const offCallback = await driveLogin((offStart.body as { url: string }).url, { login: 'carol-g' });
      expect(reason(await plain.request('GET', offCallback))).toBe('link_disabled');

      // On: Google for a gmail.com address links, and the identity then signs in to the same user.
      const carol = new Browser(linking);
      await carol.signIn('other', 'carol-o');
      const carolId = ((await carol.request('GET', '/me')).body as { id: string }).id;
      const link = await carol.request('POST', '/auth/link/gdev', { body: { returnTo: '/settings' } });
      const linked = await carol.request('GET', await driveLogin((link.body as { url: string }).url, { login: 'carol-g' }));
      expect(linked.status).toBe(303);
      expect(linked.redirect).toBe(`${APP}/settings`);
      const again = new Browser(linking);
      await again.signIn('gdev', 'carol-g');
      expect(((await again.request('GET', '/me')).body as { id: string }).id).toBe(carolId);
      const audit = await linking.audit.list(carolId, { actions: ['auth.identity.linked'] });
      expect(audit.items).toHaveLength(1);

      // Google with a matching hd is authoritative for a Workspace address.
      const dave = new Browser(linking);
      await dave.signIn('other', 'dave-o');
      const daveLink = await dave.request('POST', '/auth/link/gdev', { body: {} });
      expect((await dave.request('GET', await driveLogin((daveLink.body as { url: string }).url, { login: 'dave-g' }))).status).toBe(303);

      // Google without hd is not authoritative for a non-gmail address.
      const erin = new Browser(linking);
      await erin.signIn('other', 'erin-o');
      const erinLink = await erin.request('POST', '/auth/link/gdev', { body: {} });
      expect(reason(await erin.request('GET', await driveLogin((erinLink.body as { url: string }).url, { login: 'erin-g' })))).toBe('link_not_authoritative');

      // The development issuer never links.
      const alice = new Browser(linking);
      await alice.signIn('other', 'alice-o');
      const devLink = await alice.request('POST', '/auth/link/dev', { body: {} });
      expect(reason(await alice.request('GET', await driveLogin((devLink.body as { url: string }).url, { login: 'alice' })))).toBe('link_not_authoritative');

      // The link must finish in the browser of the user who asked for it.
      const starter = new Browser(linking);
      await starter.signIn('other', 'carol-o');
      const stolen = await starter.request('POST', '/auth/link/gdev', { body: {} });
      const url = await driveLogin((stolen.body as { url: string }).url, { login: 'carol-g' });
      const thief = new Browser(linking);
      const res = await thief.request('GET', url, { headers: { cookie: `byok_login=${starter.cookie('byok_login')}` } });
      expect(reason(res)).toBe('link_not_signed_in');

      // Starting a link is a cookie-authenticated POST: cross-site is refused.
      expect(code(await carol.request('POST', '/auth/link/gdev', { body: {}, headers: { origin: 'https://evil.example' } }))).toBe('csrf_rejected');
    });
  });
}
