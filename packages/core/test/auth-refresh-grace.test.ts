import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Byok } from '@byok/core';
import { selectTestBackends, type DevIssuer } from '@byok/testing';
import { devIssuer, makeByok, openDatabase, startIssuer, type Backend, type Database } from './auth-flow-harness';

const GRACE_SECONDS = 30;

let issuer: DevIssuer;
beforeAll(async () => {
  issuer = await startIssuer();
});
afterAll(async () => {
  await issuer.close();
});

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return (error as { code?: string } | undefined)?.code;
}

// The grace for a parallel tab must end: after it, the direct predecessor of the family
// head is a replayed token like any other, and the whole family is signed out.
for (const backend of selectTestBackends<Backend>(['memory', 'sqlite'])) {
  describe(`refresh grace on ${backend}`, () => {
    let db: Database;
    let byok: Byok;
    let now = Date.now();
    const clock = { now: () => now };

    beforeAll(async () => {
      db = await openDatabase(backend);
      byok = await makeByok(await db.options(), [devIssuer(issuer)], { jwt: { refreshGraceSeconds: GRACE_SECONDS } }, { clock });
    });
    afterAll(async () => {
      await byok?.close();
      await db?.close();
    });

    async function rotatedOnce(subject: string) {
      const { user } = await byok.users.findOrCreate({ issuer: issuer.issuer, subject });
      const first = await byok.auth!.createSession(user.id);
      const second = await byok.auth!.refresh(first.refreshToken);
      // the successor is the family head, and the first token its direct predecessor
      expect(await byok.store.authSessions.familyHead(user.id, first.familyId)).toMatchObject({ id: second.sessionId, parentId: first.sessionId });
      return { userId: user.id, familyId: first.familyId, first, second };
    }

    it('within the grace, the direct predecessor gets refresh_race and the family lives on', async () => {
      const { userId, familyId, first, second } = await rotatedOnce('grace-within');
      now += GRACE_SECONDS * 1000 - 1;
      expect(await errorCode(byok.auth!.refresh(first.refreshToken))).toBe('refresh_race');
      expect(await byok.store.authSessions.familyHead(userId, familyId)).toMatchObject({ id: second.sessionId, revokedAt: null });
      expect((await byok.auth!.refresh(second.refreshToken)).sessionId).toEqual(expect.any(String));
    });

    it('after the grace, the same replay is refresh_reused and revokes the whole family', async () => {
      const { userId, familyId, first, second } = await rotatedOnce('grace-after');
      now += GRACE_SECONDS * 1000 + 1;
      expect(await errorCode(byok.auth!.refresh(first.refreshToken))).toBe('refresh_reused');
      expect(await byok.store.authSessions.familyHead(userId, familyId)).toBeUndefined();
      expect((await byok.store.authSessions.findById(second.sessionId))!.revokedAt).toBe(now);
      expect(await errorCode(byok.auth!.refresh(second.refreshToken))).toBe('unauthenticated');
      const actions = (await byok.audit.list(userId, {})).items.map((e) => `${e.action}:${e.outcome}`);
      expect(actions).toContain('auth.refresh.reused:denied');
    });
  });
}
