import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isByokError } from '@byok/core';
import { uuidv7, type AuthSessionRow, type Store, type UserRow } from '@byok/core/store';

const T0 = 1_764_000_000_000;

/**
 * The auth repositories' part of the Store contract: refresh sessions (the conditional
 * rotation, family revocation, user isolation, cascade), signing keys and sealed OAuth
 * tokens. `storeConformance()` runs it; it is exported for stores tested piecemeal.
 *
 * @example
 * import { beforeAll, describe } from 'vitest';
 * import { createStore, type Store } from '@byok/core/store';
 * let store: Store;
 * beforeAll(async () => void (store = await createStore({ database: { memory: true } })));
 * describe('auth', () => authStoreCases(() => store));
 */
export function authStoreCases(store: () => Store): void {
  describe('auth sessions', () => {
    it('round-trips a session row exactly', async () => {
      const user = await newUser(store());
      const row = sessionRow(user.id);
      await store().authSessions.insert(row);
      expect(await store().authSessions.findById(row.id)).toEqual(row);
      expect(await store().authSessions.findById(uuidv7())).toBeUndefined();
    });

    it('refuses a session for a user that does not exist', async () => {
      const error = await store().authSessions.insert(sessionRow(uuidv7())).then(() => null, (e: unknown) => e);
      expect(isByokError(error) && (error.code === 'not_found' || error.code === 'conflict')).toBe(true);
    });

    it('rotates only with the right hash, only once, and only while live', async () => {
      const user = await newUser(store());
      const first = sessionRow(user.id);
      await store().authSessions.insert(first);
      const next = sessionRow(user.id, { familyId: first.familyId, parentId: first.id });
      expect(await store().authSessions.rotate(first.id, hash('wrong'), next, T0 + 10)).toEqual({ ok: false });
      expect(await store().authSessions.findById(next.id)).toBeUndefined();
      expect(await store().authSessions.rotate(first.id, first.refreshHash, next, T0 + 10)).toEqual({ ok: true });
      expect(await store().authSessions.findById(first.id)).toMatchObject({ rotatedAt: T0 + 10, lastUsedAt: T0 + 10, revokedAt: null });
      expect(await store().authSessions.findById(next.id)).toEqual(next);
      const again = sessionRow(user.id, { familyId: first.familyId, parentId: first.id });
      expect(await store().authSessions.rotate(first.id, first.refreshHash, again, T0 + 11)).toEqual({ ok: false });
      expect(await store().authSessions.findById(again.id)).toBeUndefined();
      // Expired or revoked rows do not rotate.
      const expired = sessionRow(user.id, { expiresAt: T0 + 5 });
      await store().authSessions.insert(expired);
      expect(await store().authSessions.rotate(expired.id, expired.refreshHash, sessionRow(user.id), T0 + 10)).toEqual({ ok: false });
      await store().authSessions.revokeFamily(user.id, next.familyId, T0 + 20);
      expect(await store().authSessions.rotate(next.id, next.refreshHash, sessionRow(user.id), T0 + 21)).toEqual({ ok: false });
    });

    it('lets exactly one of several concurrent rotations of one token win', async () => {
      const user = await newUser(store());
      const first = sessionRow(user.id);
      await store().authSessions.insert(first);
      const candidates = Array.from({ length: 8 }, () => sessionRow(user.id, { familyId: first.familyId, parentId: first.id }));
      const results = await Promise.all(candidates.map((c) => store().authSessions.rotate(first.id, first.refreshHash, c, T0 + 50)));
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      const winner = candidates[results.findIndex((r) => r.ok)]!;
      expect(await store().authSessions.familyHead(user.id, first.familyId)).toEqual(winner);
      for (const c of candidates) if (c !== winner) expect(await store().authSessions.findById(c.id)).toBeUndefined();
    });

    it('revokes a family, or all of a user’s sessions, and lists live family heads newest use first', async () => {
      const user = await newUser(store());
      const a = sessionRow(user.id, { lastUsedAt: T0 + 1 });
      const b = sessionRow(user.id, { lastUsedAt: T0 + 3 });
      const c = sessionRow(user.id, { lastUsedAt: T0 + 2 });
      for (const row of [a, b, c]) await store().authSessions.insert(row);
      const a2 = sessionRow(user.id, { familyId: a.familyId, parentId: a.id, lastUsedAt: T0 + 4 });
      await store().authSessions.rotate(a.id, a.refreshHash, a2, T0 + 4);
      expect((await store().authSessions.listActive(user.id, T0 + 5)).map((r) => r.id)).toEqual([a2.id, b.id, c.id]);
      expect(await store().authSessions.revokeFamily(user.id, a.familyId, T0 + 6)).toBe(2);
      expect(await store().authSessions.revokeFamily(user.id, a.familyId, T0 + 7)).toBe(0);
      expect((await store().authSessions.findById(a.id))!.revokedAt).toBe(T0 + 6);
      expect(await store().authSessions.familyHead(user.id, a.familyId)).toBeUndefined();
      expect(await store().authSessions.revokeAllForUser(user.id, T0 + 8)).toBe(2);
      expect(await store().authSessions.listActive(user.id, T0 + 9)).toEqual([]);
    });

    it("never lets user B's id reach A's sessions", async () => {
      const a = await newUser(store());
      const b = await newUser(store());
      const row = sessionRow(a.id);
      await store().authSessions.insert(row);
      expect(await store().authSessions.revokeFamily(b.id, row.familyId, T0 + 1)).toBe(0);
      expect(await store().authSessions.revokeAllForUser(b.id, T0 + 1)).toBe(0);
      expect(await store().authSessions.familyHead(b.id, row.familyId)).toBeUndefined();
      expect(await store().authSessions.listActive(b.id, T0)).toEqual([]);
      expect((await store().authSessions.findById(row.id))!.revokedAt).toBeNull();
    });

    it('deletes expired rows, and cascades sessions and OAuth tokens with the user', async () => {
      const user = await newUser(store());
      const old = sessionRow(user.id, { expiresAt: 1000 });
      const live = sessionRow(user.id);
      await store().authSessions.insert(old);
      await store().authSessions.insert(live);
      expect(await store().authSessions.deleteExpired(2000)).toBeGreaterThanOrEqual(1);
      expect(await store().authSessions.findById(old.id)).toBeUndefined();
      await store().oauthTokens.put(tokenRow(user.id, 'https://issuer.example'));
      await store().users.delete(user.id);
      expect(await store().authSessions.findById(live.id)).toBeUndefined();
      expect(await store().oauthTokens.get(user.id, 'https://issuer.example')).toBeUndefined();
    });
  });

  describe('signing keys and OAuth tokens', () => {
    it('stores, retires and deletes signing keys', async () => {
      const key = { id: uuidv7(), alg: 'EdDSA', publicJwk: '{"kty":"OKP"}', privateSealed: 'c2VhbGVk', createdAt: T0, notBefore: T0 + 60_000, retiredAt: null };
      await store().signingKeys.insert(key);
      expect((await store().signingKeys.list()).find((k) => k.id === key.id)).toEqual(key);
      expect(await store().signingKeys.retire(key.id, T0 + 5)).toBe(true);
      expect((await store().signingKeys.list()).find((k) => k.id === key.id)!.retiredAt).toBe(T0 + 5);
      expect(await store().signingKeys.delete(key.id)).toBe(true);
      expect(await store().signingKeys.delete(key.id)).toBe(false);
      expect(await store().signingKeys.retire(key.id, T0)).toBe(false);
    });

    it('keeps one OAuth token row per user and issuer, scoped to the user', async () => {
      const a = await newUser(store());
      const b = await newUser(store());
      const first = tokenRow(a.id, 'https://issuer.example');
      await store().oauthTokens.put(first);
      const second = tokenRow(a.id, 'https://issuer.example', { refreshTokenSealed: null });
      await store().oauthTokens.put(second);
      expect(await store().oauthTokens.get(a.id, 'https://issuer.example')).toEqual(second);
      expect(await store().oauthTokens.get(b.id, 'https://issuer.example')).toBeUndefined();
      expect(await store().oauthTokens.delete(b.id, 'https://issuer.example')).toBe(false);
      expect(await store().oauthTokens.deleteAll(b.id)).toBe(0);
      await store().oauthTokens.put(tokenRow(a.id, 'https://other.example'));
      expect(await store().oauthTokens.delete(a.id, 'https://issuer.example')).toBe(true);
      expect(await store().oauthTokens.deleteAll(a.id)).toBe(1);
    });
  });
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function newUser(store: Store): Promise<UserRow> {
  const id = uuidv7();
  const user: UserRow = { id, email: null, emailVerified: false, name: null, pictureUrl: null, custom: null, createdAt: T0, updatedAt: T0 };
  await store.users.createWithIdentity(user, {
    id: uuidv7(),
    userId: id,
    issuer: 'https://accounts.example.com',
    subject: `auth-${id}`,
    email: null,
    emailVerified: false,
    createdAt: T0,
    lastLoginAt: T0,
  });
  return user;
}

function sessionRow(userId: string, overrides: Partial<AuthSessionRow> = {}): AuthSessionRow {
  const id = uuidv7();
  return {
    id,
    userId,
    refreshHash: hash(id),
    familyId: id,
    parentId: null,
    issuer: 'https://accounts.example.com',
    createdAt: T0,
    expiresAt: T0 + 86_400_000,
    rotatedAt: null,
    revokedAt: null,
    lastUsedAt: T0,
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
    ip: '203.0.113.7',
    ...overrides,
  };
}

function tokenRow(userId: string, issuer: string, overrides: Record<string, unknown> = {}) {
  return {
    id: uuidv7(),
    userId,
    issuer,
    accessTokenSealed: 'YWNjZXNz',
    refreshTokenSealed: 'cmVmcmVzaA',
    expiresAt: T0 + 3_600_000,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}
