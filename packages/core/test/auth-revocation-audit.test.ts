import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthService, Byok } from '@byok/core';
import { selectTestBackends, type DevIssuer } from '@byok/testing';
import { connectDatabase, type DatabaseConfig, type OpenedDatabase } from '../src/store/kysely/connect';
import { devIssuer, makeByok, openDatabase, startIssuer, type Database } from './auth-flow-harness';

const REFUSED = ['auth.logout', 'auth.logout_all', 'auth.session.revoked'];

/** A trigger that makes the audit append of a sign-out fail inside the database. */
async function refuseSignOutAudits(side: OpenedDatabase): Promise<() => Promise<void>> {
  const list = REFUSED.map((a) => `'${a}'`).join(', ');
  if (side.dialect === 'postgres') {
    await sql
      .raw(
        `create function byok_test_refuse_audit() returns trigger language plpgsql as $$ begin if new.action in (${list}) then raise exception 'audit append refused'; end if; return new; end $$`,
      )
      .execute(side.db);
    await sql.raw(`create trigger byok_test_refuse_audit before insert on byok_audit_log for each row execute function byok_test_refuse_audit()`).execute(side.db);
    return async () => {
      await sql.raw('drop trigger byok_test_refuse_audit on byok_audit_log').execute(side.db);
      await sql.raw('drop function byok_test_refuse_audit()').execute(side.db);
    };
  }
  await sql
    .raw(`create trigger byok_test_refuse_audit before insert on byok_audit_log when new.action in (${list}) begin select raise(abort, 'audit append refused'); end`)
    .execute(side.db);
  return async () => void (await sql.raw('drop trigger byok_test_refuse_audit').execute(side.db));
}

// Logout, sign-out-everywhere and revoke-one write their revocation and their audit row in
// one transaction: when the audit append fails, the revocation must not have committed.
for (const backend of selectTestBackends(['sqlite', 'postgres'] as const)) {
  describe(`sign-outs and their audit rows commit together on ${backend}`, () => {
    let issuer: DevIssuer;
    let database: Database;
    let byok: Byok<AuthService>;
    let side: OpenedDatabase;

    beforeAll(async () => {
      issuer = await startIssuer();
      database = await openDatabase(backend);
      const config = await database.options();
      byok = await makeByok(config, [devIssuer(issuer)]);
      side = await connectDatabase(config as DatabaseConfig);
    });
    afterAll(async () => {
      await side?.db.destroy();
      await byok?.close();
      await issuer?.close();
      await database?.close();
    });

    const revokedAt = async (sessionId: string) => {
      const row = await byok.store.authSessions.findById(sessionId);
      if (!row) throw new Error(`session ${sessionId} is gone`);
      return row.revokedAt;
    };

    it('keeps every session live when the audit append fails, and revokes once it succeeds', async () => {
      const { user } = await byok.users.findOrCreate({ issuer: issuer.issuer, subject: `tx-${backend}` });
      const one = await byok.auth.createSession(user.id);
      const two = await byok.auth.createSession(user.id);
      const three = await byok.auth.createSession(user.id);

      const allow = await refuseSignOutAudits(side);
      try {
        await expect(byok.auth.logout({ refreshToken: one.refreshToken })).rejects.toThrow(/audit append refused/);
        expect(await revokedAt(one.sessionId)).toBeNull();
        await expect(byok.auth.revokeSession(user.id, two.familyId)).rejects.toThrow(/audit append refused/);
        expect(await revokedAt(two.sessionId)).toBeNull();
        await expect(byok.auth.logoutAll(user.id)).rejects.toThrow(/audit append refused/);
        for (const s of [one, two, three]) expect(await revokedAt(s.sessionId)).toBeNull();
        expect(await byok.auth.listSessions(user.id)).toHaveLength(3);
        // The refresh token of the session whose sign-out failed still works.
        const next = await byok.auth.refresh(one.refreshToken);
        expect(next.familyId).toBe(one.familyId);
        one.refreshToken = next.refreshToken;
        one.sessionId = next.sessionId;
      } finally {
        await allow();
      }

      await byok.auth.logout({ refreshToken: one.refreshToken });
      expect(await revokedAt(one.sessionId)).not.toBeNull();
      await byok.auth.revokeSession(user.id, two.familyId);
      expect(await revokedAt(two.sessionId)).not.toBeNull();
      expect(await byok.auth.logoutAll(user.id)).toEqual({ revoked: 1 });
      expect(await revokedAt(three.sessionId)).not.toBeNull();
      const trail = await byok.audit.list(user.id, { actions: REFUSED as never, limit: 10 });
      expect(trail.items.map((e) => e.action).sort()).toEqual([...REFUSED].sort());
    });
  });
}
