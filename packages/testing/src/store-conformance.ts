import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isByokError } from '@byok/core';
import { uuidv7, type AuditAppendInput, type AuditRow, type IdentityRow, type Store, type UserRow } from '@byok/core/store';
import type { StoreTamper } from './store-tamper';
import { auditTamperCases } from './audit-tamper-cases';
import { authStoreCases } from './auth-store-cases';
import { chatStoreCases } from './chat-store-cases';
import { vaultStoreCases } from './vault-store-cases';

/** What `makeStore` returns: a migrated store, a tamper for it, and how to tear both down. */
export interface StoreConformanceTarget {
  store: Store;
  tamper: StoreTamper;
  cleanup(): Promise<void>;
}

export interface StoreConformanceOptions {
  /** Shown in the describe block, e.g. `postgres`. */
  name: string;
  /** Called once per suite; the suite uses fresh ids so one store serves every test. */
  makeStore: () => Promise<StoreConformanceTarget>;
}

/**
 * The Store contract as a vitest suite. Call it at the top level of a test file for each
 * store you want to hold to the contract — byok runs it against memory, SQLite,
 * PostgreSQL and MariaDB; a third-party store passes the same suite.
 *
 * @example
 * import { storeConformance, createTestDatabase, kyselyTamper } from '@byok/testing/store';
 * import { connectDatabase, createStore } from '@byok/core/store';
 *
 * storeConformance({
 *   name: 'postgres',
 *   makeStore: async () => {
 *     const tdb = await createTestDatabase('postgres');
 *     const store = await createStore({ database: tdb.config });
 *     const side = await connectDatabase(tdb.config);
 *     return {
 *       store,
 *       tamper: kyselyTamper(side.db, 'byok_'),
 *       cleanup: async () => { await store.close(); await side.db.destroy(); await tdb.drop(); },
 *     };
 *   },
 * });
 */
export function storeConformance(options: StoreConformanceOptions): void {
  describe(`store conformance: ${options.name}`, () => {
    let target: StoreConformanceTarget | undefined;
    const store = (): Store => target!.store;
    const tamper = (): StoreTamper => target!.tamper;

    beforeAll(async () => {
      target = await options.makeStore();
    });
    afterAll(async () => {
      await target?.cleanup();
    });

    describe('migrations', () => {
      it('reports every migration applied, and migrating again applies nothing', async () => {
        const status = await store().migrationStatus();
        expect(status.length).toBeGreaterThan(0);
        for (const m of status) expect(typeof m.appliedAt).toBe('number');
        expect((await store().migrate()).applied).toEqual([]);
      });
    });

    describe('users and identities', () => {
      it('round-trips a user and its identity exactly', async () => {
        const { user, identity } = await newUser(store(), {
          email: 'Ada.Lovelace@example.com',
          name: 'Ada 🧮 Lovelace',
          pictureUrl: 'https://example.com/p.png?size=96',
          custom: '{"plan":"pro","ünï":"cödé"}',
          createdAt: 1_764_000_000_123,
          updatedAt: 1_764_000_000_456,
        });
        expect(await store().users.get(user.id)).toEqual(user);
        expect(await store().users.findByIdentity(identity.issuer, identity.subject)).toEqual({ user, identity });
        expect(await store().users.listIdentities(user.id)).toEqual([identity]);
      });

      it('keeps nulls and false as nulls and false', async () => {
        const { user } = await newUser(store(), { email: null, emailVerified: false, name: null, pictureUrl: null, custom: null });
        const read = await store().users.get(user.id);
        expect(read).toEqual(user);
        expect(read?.emailVerified).toBe(false);
        expect(read?.email).toBeNull();
      });

      it('finds users by (issuer, subject) only, case-sensitively', async () => {
        const issuer = `https://issuer-${uuidv7()}.example`;
        const { user: a } = await newUser(store(), {}, { issuer, subject: 'Subject-1' });
        const { user: b } = await newUser(store(), {}, { issuer, subject: 'subject-1' });
        expect((await store().users.findByIdentity(issuer, 'Subject-1'))?.user.id).toBe(a.id);
        expect((await store().users.findByIdentity(issuer, 'subject-1'))?.user.id).toBe(b.id);
        expect(await store().users.findByIdentity(issuer, 'SUBJECT-1')).toBeUndefined();
        expect(await store().users.findByIdentity(`${issuer}/`, 'Subject-1')).toBeUndefined();
      });

      it('finds users by verified e-mail only, case-insensitively, at most two', async () => {
        const domain = `${uuidv7()}.example`;
        const { user: verified } = await newUser(store(), { email: `Pat@${domain}`, emailVerified: true });
        await newUser(store(), { email: `pat@${domain}`, emailVerified: false });
        expect((await store().users.findByVerifiedEmail(`PAT@${domain}`)).map((u) => u.id)).toEqual([verified.id]);
        await newUser(store(), { email: `pat@${domain}`, emailVerified: true });
        await newUser(store(), { email: `pat@${domain}`, emailVerified: true });
        expect(await store().users.findByVerifiedEmail(`pat@${domain}`)).toHaveLength(2);
        expect(await store().users.findByVerifiedEmail(`nobody@${domain}`)).toEqual([]);
      });

      it('updates only the patched fields', async () => {
        const { user } = await newUser(store());
        const updated = await store().users.update(user.id, { name: 'New Name', emailVerified: false, custom: null, updatedAt: user.updatedAt + 10 });
        const expected: UserRow = { ...user, name: 'New Name', emailVerified: false, custom: null, updatedAt: user.updatedAt + 10 };
        expect(updated).toEqual(expected);
        expect(await store().users.get(user.id)).toEqual(expected);
        expect(await store().users.update(uuidv7(), { name: 'x', updatedAt: 1 })).toBeUndefined();
      });

      it('links a second identity and records logins on it', async () => {
        const { user, identity } = await newUser(store());
        const second = identityFor(user.id);
        await store().users.addIdentity(user.id, second);
        expect(await store().users.listIdentities(user.id)).toEqual([identity, second].sort((x, y) => (x.id < y.id ? -1 : 1)));
        expect(await store().users.touchIdentity(user.id, second.id, { email: 'new@example.com', emailVerified: true, lastLoginAt: second.lastLoginAt + 1 })).toBe(true);
        expect((await store().users.findByIdentity(second.issuer, second.subject))?.identity).toEqual({
          ...second,
          email: 'new@example.com',
          emailVerified: true,
          lastLoginAt: second.lastLoginAt + 1,
        });
        expect(await store().users.touchIdentity(user.id, uuidv7(), { email: null, emailVerified: false, lastLoginAt: 1 })).toBe(false);
      });

      it('refuses a taken (issuer, subject) with conflict and creates nothing', async () => {
        const { identity } = await newUser(store());
        const other = userRow();
        await expectCode(
          store().users.createWithIdentity(other, { ...identityFor(other.id), issuer: identity.issuer, subject: identity.subject }),
          'conflict',
        );
        expect(await store().users.get(other.id)).toBeUndefined();
        const { user: third } = await newUser(store());
        await expectCode(store().users.addIdentity(third.id, { ...identityFor(third.id), issuer: identity.issuer, subject: identity.subject }), 'conflict');
        expect(await store().users.listIdentities(third.id)).toHaveLength(1);
      });

      it('lets exactly one of several concurrent sign-ups of one identity win', async () => {
        const issuer = `https://issuer-${uuidv7()}.example`;
        const attempts = Array.from({ length: 6 }, () => {
          const user = userRow();
          return store().users.createWithIdentity(user, { ...identityFor(user.id), issuer, subject: 'same' });
        });
        const results = await Promise.allSettled(attempts);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(codeOf(r.reason)).toBe('conflict');
      });
    });

    describe('preferences', () => {
      it('puts, replaces and reads one row per user', async () => {
        const { user } = await newUser(store());
        expect(await store().preferences.get(user.id)).toBeUndefined();
        await store().preferences.put({ userId: user.id, theme: 'dark', language: 'en-GB', timezone: 'Europe/London', updatedAt: 10 });
        await store().preferences.put({ userId: user.id, theme: 'light', language: 'pt-BR', timezone: 'America/Sao_Paulo', updatedAt: 20 });
        expect(await store().preferences.get(user.id)).toEqual({
          userId: user.id,
          theme: 'light',
          language: 'pt-BR',
          timezone: 'America/Sao_Paulo',
          updatedAt: 20,
        });
      });

      it('refuses preferences for a user that does not exist', async () => {
        const ghost = uuidv7();
        await expectCode(store().preferences.put({ userId: ghost, theme: 'dark', language: 'en', timezone: 'UTC', updatedAt: 1 }), 'not_found');
        expect(await store().preferences.get(ghost)).toBeUndefined();
      });
    });

    describe('deleting a user', () => {
      it('cascades to identities and preferences, keeps audit rows, and erasure removes personal rows and the salt', async () => {
        const { user, identity } = await newUser(store());
        const { user: bystander } = await newUser(store());
        await store().preferences.put({ userId: user.id, theme: 'dark', language: 'en', timezone: 'UTC', updatedAt: 1 });
        const chain = `user:${user.id}`;
        const own = await appendRow(store(), chain, { actorUserId: user.id, personal: { ip: '203.0.113.7', userAgent: 'UA/1' } });
        // the user acting on the system chain, and a bystander's row on the user's chain
        const asActor = await appendRow(store(), `sys-${uuidv7()}`, { actorUserId: user.id, personal: { ip: '203.0.113.8', userAgent: null } });
        const otherChain = `user:${bystander.id}`;
        const bystanderRow = await appendRow(store(), otherChain, { actorUserId: bystander.id, personal: { ip: '198.51.100.1', userAgent: 'UA/2' } });
        await store().audit.salt(user.id);
        const bystanderSalt = await store().audit.salt(bystander.id);

        expect(await store().users.delete(user.id)).toBe(true);
        expect(await store().users.get(user.id)).toBeUndefined();
        expect(await store().users.findByIdentity(identity.issuer, identity.subject)).toBeUndefined();
        expect(await store().users.listIdentities(user.id)).toEqual([]);
        expect(await store().preferences.get(user.id)).toBeUndefined();
        expect(await store().audit.readChain(chain, 0, 10)).toEqual([own]);
        expect(await store().audit.personal([own.id])).toHaveLength(1);
        expect(await store().users.delete(user.id)).toBe(false);

        await store().audit.eraseUser(user.id);
        expect(await store().audit.personal([own.id, asActor.id])).toEqual([]);
        expect(await store().audit.hasSalt(user.id)).toBe(false);
        expect(await store().audit.readChain(chain, 0, 10)).toEqual([own]);
        // nobody else's data is touched
        expect(await store().audit.personal([bystanderRow.id])).toEqual([{ auditId: bystanderRow.id, ip: '198.51.100.1', userAgent: 'UA/2' }]);
        expect(await store().audit.salt(bystander.id)).toBe(bystanderSalt);
        expect(await store().users.get(bystander.id)).toBeDefined();
      });
    });

    describe('user isolation', () => {
      it("methods called with user B's id never see or change A's rows", async () => {
        const { user: a, identity: ia } = await newUser(store());
        const { user: b } = await newUser(store());
        await store().preferences.put({ userId: a.id, theme: 'dark', language: 'en', timezone: 'UTC', updatedAt: 1 });

        expect(await store().users.touchIdentity(b.id, ia.id, { email: 'evil@example.com', emailVerified: true, lastLoginAt: 99 })).toBe(false);
        expect(await store().users.listIdentities(b.id)).not.toContainEqual(ia);
        expect(await store().preferences.get(b.id)).toBeUndefined();
        expect(await store().users.update(b.id, { name: 'B', updatedAt: 5 })).toMatchObject({ id: b.id, name: 'B' });
        expect(await store().users.delete(b.id)).toBe(true);

        expect(await store().users.get(a.id)).toEqual(a);
        expect(await store().users.listIdentities(a.id)).toEqual([ia]);
        expect((await store().preferences.get(a.id))?.theme).toBe('dark');
      });

      it('unknown users read as missing, never as errors', async () => {
        const ghost = uuidv7();
        expect(await store().users.get(ghost)).toBeUndefined();
        expect(await store().users.update(ghost, { name: 'x', updatedAt: 1 })).toBeUndefined();
        expect(await store().users.listIdentities(ghost)).toEqual([]);
        expect(await store().users.touchIdentity(ghost, uuidv7(), { email: null, emailVerified: false, lastLoginAt: 1 })).toBe(false);
        expect(await store().users.delete(ghost)).toBe(false);
        expect(await store().preferences.get(ghost)).toBeUndefined();
        expect(await store().audit.hasSalt(ghost)).toBe(false);
        await store().audit.eraseUser(ghost);
      });
    });

    describe('audit', () => {
      it('appends rows that extend the chain and moves the head with them', async () => {
        const chain = `user:${uuidv7()}`;
        const seen: Array<{ seq: number; hash: string }> = [];
        const rows: AuditRow[] = [];
        for (let i = 0; i < 5; i++) {
          rows.push(await appendRow(store(), chain, { onBuild: (prev) => seen.push(prev), personal: i === 0 ? { ip: '192.0.2.1', userAgent: 'UA' } : undefined }));
        }
        expect(seen[0]).toEqual({ seq: 0, hash: genesisOf(chain) });
        expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
        expectLinked(rows, chain);
        expect(await store().audit.head(chain)).toEqual({ chain, lastSeq: 5, lastHash: rows[4]!.hash });
        expect(await store().audit.readChain(chain, 0, 100)).toEqual(rows);
        expect(await store().audit.readChain(chain, 3, 1)).toEqual([rows[3]]);
        expect(await store().audit.personal([rows[0]!.id, rows[1]!.id])).toEqual([{ auditId: rows[0]!.id, ip: '192.0.2.1', userAgent: 'UA' }]);
        expect((await store().audit.heads()).find((h) => h.chain === chain)).toEqual({ chain, lastSeq: 5, lastHash: rows[4]!.hash });
      });

      it('refuses a built row that does not extend the head, writing nothing', async () => {
        const chain = `user:${uuidv7()}`;
        const first = await appendRow(store(), chain);
        await expect(
          store().audit.append({ chain, genesisHash: genesisOf(chain), build: (prev) => ({ ...rowFor(chain, prev), seq: prev.seq + 2 }) }),
        ).rejects.toThrow();
        expect(await store().audit.head(chain)).toEqual({ chain, lastSeq: 1, lastHash: first.hash });
        expect(await store().audit.readChain(chain, 0, 10)).toEqual([first]);
      });

      it('pages newest-first by seq without gaps or duplicates when timestamps are equal', async () => {
        const chain = `user:${uuidv7()}`;
        const at = 1_764_000_000_000;
        for (let i = 0; i < 23; i++) await appendRow(store(), chain, { at, action: i % 3 === 0 ? 'key.set' : 'auth.login' });
        const seqs: number[] = [];
        let beforeSeq: number | undefined;
        for (;;) {
          const page = await store().audit.list({ chain, limit: 5, ...(beforeSeq === undefined ? {} : { beforeSeq }) });
          if (page.length === 0) break;
          seqs.push(...page.map((r) => r.seq));
          beforeSeq = page[page.length - 1]!.seq;
        }
        expect(seqs).toEqual(Array.from({ length: 23 }, (_, i) => 23 - i));

        const keySets = await store().audit.list({ chain, actions: ['key.set'], limit: 100 });
        expect(keySets.map((r) => r.seq)).toEqual([22, 19, 16, 13, 10, 7, 4, 1]);
        expect(await store().audit.list({ chain, actions: ['nope'], limit: 100 })).toEqual([]);
      });

      it('filters by time: from inclusive, to exclusive', async () => {
        const chain = `user:${uuidv7()}`;
        for (const at of [1000, 2000, 3000, 4000]) await appendRow(store(), chain, { at });
        const ats = async (q: { from?: number; to?: number }) => (await store().audit.list({ chain, limit: 10, ...q })).map((r) => r.at);
        expect(await ats({ from: 2000 })).toEqual([4000, 3000, 2000]);
        expect(await ats({ to: 3000 })).toEqual([2000, 1000]);
        expect(await ats({ from: 2000, to: 4000 })).toEqual([3000, 2000]);
        expect(await store().audit.list({ chain: `user:${uuidv7()}`, limit: 10 })).toEqual([]);
      });

      it('keeps every chain contiguous and linked under 64 concurrent appends on 8 chains', async () => {
        const chains = Array.from({ length: 8 }, () => `user:${uuidv7()}`);
        await Promise.all(Array.from({ length: 64 }, (_, i) => appendRow(store(), chains[i % 8]!, { personal: { ip: `10.0.0.${i}`, userAgent: null } })));
        for (const chain of chains) {
          const rows = await store().audit.readChain(chain, 0, 100);
          expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
          expectLinked(rows, chain);
          expect(await store().audit.head(chain)).toEqual({ chain, lastSeq: 8, lastHash: rows[7]!.hash });
          expect(await store().audit.personal(rows.map((r) => r.id))).toHaveLength(8);
        }
      });

      it('gives each owner one stable salt', async () => {
        const owner = uuidv7();
        expect(await store().audit.hasSalt(owner)).toBe(false);
        const [s1, s2] = await Promise.all([store().audit.salt(owner), store().audit.salt(owner)]);
        expect(s1).toMatch(/^[0-9a-f]{64}$/);
        expect(s2).toBe(s1);
        expect(await store().audit.salt(owner)).toBe(s1);
        expect(await store().audit.hasSalt(owner)).toBe(true);
        expect(await store().audit.salt(uuidv7())).not.toBe(s1);
      });
    });

    describe('transactions', () => {
      it('commits all writes together and returns the result', async () => {
        const user = userRow();
        const chain = `user:${user.id}`;
        const result = await store().transaction(async (tx) => {
          await tx.users.createWithIdentity(user, identityFor(user.id));
          await tx.preferences.put({ userId: user.id, theme: 'system', language: 'en', timezone: 'UTC', updatedAt: 1 });
          const row = await appendRow(tx, chain);
          // nested transaction joins the outer one
          await tx.transaction(async (inner) => inner.users.update(user.id, { name: 'inner', updatedAt: 2 }));
          return row.seq;
        });
        expect(result).toBe(1);
        expect((await store().users.get(user.id))?.name).toBe('inner');
        expect(await store().preferences.get(user.id)).toBeDefined();
        expect((await store().audit.head(chain))?.lastSeq).toBe(1);
      });

      it('rolls back every write when the function throws, audit head included', async () => {
        const { user } = await newUser(store());
        const chain = `user:${user.id}`;
        const first = await appendRow(store(), chain);
        const newcomer = userRow();
        const boom = new Error('boom');
        await expect(
          store().transaction(async (tx) => {
            await tx.users.createWithIdentity(newcomer, identityFor(newcomer.id));
            await tx.users.update(user.id, { name: 'changed', updatedAt: 99 });
            await tx.preferences.put({ userId: user.id, theme: 'dark', language: 'en', timezone: 'UTC', updatedAt: 1 });
            await appendRow(tx, chain);
            await appendRow(tx, `user:${uuidv7()}`);
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await store().users.get(newcomer.id)).toBeUndefined();
        expect(await store().users.get(user.id)).toEqual(user);
        expect(await store().preferences.get(user.id)).toBeUndefined();
        expect(await store().audit.head(chain)).toEqual({ chain, lastSeq: 1, lastHash: first.hash });
        const next = await appendRow(store(), chain);
        expect(next.seq).toBe(2);
        expect(next.prevHash).toBe(first.hash);
      });

      it('a failed append caught inside a transaction leaves no gap in the chain', async () => {
        const chain = `user:${uuidv7()}`;
        const first = await appendRow(store(), chain);
        const [second, third] = await store().transaction(async (tx) => {
          await expect(
            tx.audit.append({
              chain,
              genesisHash: genesisOf(chain),
              build: () => {
                throw new Error('builder failed');
              },
            }),
          ).rejects.toThrow('builder failed');
          await expect(
            tx.audit.append({ chain, genesisHash: genesisOf(chain), build: (prev) => ({ ...rowFor(chain, prev), prevHash: 'wrong' }) }),
          ).rejects.toThrow();
          return [await appendRow(tx, chain), await appendRow(tx, chain)];
        });
        expect([second!.seq, third!.seq]).toEqual([2, 3]);
        expect(second!.prevHash).toBe(first.hash);
        expectLinked(await store().audit.readChain(chain, 0, 10), chain);
        expect(await store().audit.head(chain)).toEqual({ chain, lastSeq: 3, lastHash: third!.hash });
      });

      it('keeps a transaction usable after a conflict inside it', async () => {
        const { identity } = await newUser(store());
        const user = userRow();
        await store().transaction(async (tx) => {
          const clash = userRow();
          await expectCode(tx.users.createWithIdentity(clash, { ...identityFor(clash.id), issuer: identity.issuer, subject: identity.subject }), 'conflict');
          // an existing user id is a conflict too
          const sameId = { ...userRow(), id: identity.userId };
          await expectCode(tx.users.createWithIdentity(sameId, identityFor(sameId.id)), 'conflict');
          await tx.users.createWithIdentity(user, identityFor(user.id));
        });
        expect(await store().users.get(user.id)).toEqual(user);
      });
    });

    describe('auth', () => authStoreCases(store));

    describe('vault', () => vaultStoreCases(store));

    describe('chat', () => chatStoreCases(store));

    describe('audit tamper detection', () => {
      // ──────────────────────────────────────────────────────────────────────────────
      // The audit engineer adds tamper-detection cases (verify() over a tampered chain)
      // in this block. The cases below only check that the StoreTamper works.
      // ──────────────────────────────────────────────────────────────────────────────
      it('tamper helpers change what the store reads back', async () => {
        const chain = `user:${uuidv7()}`;
        const rows: AuditRow[] = [];
        for (let i = 0; i < 4; i++) rows.push(await appendRow(store(), chain, { personal: { ip: '192.0.2.9', userAgent: null } }));
        const [r1, r2, r3, r4] = rows as [AuditRow, AuditRow, AuditRow, AuditRow];

        await tamper().updateAuditRow(r1.id, { metadata: '{"edited":true}', at: 5 });
        expect((await store().audit.readChain(chain, 0, 1))[0]).toEqual({ ...r1, metadata: '{"edited":true}', at: 5 });

        await tamper().swapAuditSeq(r2.id, r3.id);
        expect((await store().audit.readChain(chain, 1, 2)).map((r) => r.id)).toEqual([r3.id, r2.id]);

        await tamper().deleteAuditRow(r4.id);
        expect((await store().audit.readChain(chain, 0, 10)).map((r) => r.seq)).toEqual([1, 2, 3]);
        const forged = { ...rowFor(chain, { seq: 9, hash: 'f'.repeat(64) }), id: uuidv7() };
        await tamper().insertAuditRow(forged);
        expect((await store().audit.readChain(chain, 3, 10))).toEqual([forged]);

        await tamper().setHead({ chain, lastSeq: 42, lastHash: 'a'.repeat(64) });
        expect(await store().audit.head(chain)).toEqual({ chain, lastSeq: 42, lastHash: 'a'.repeat(64) });
        await tamper().deleteHead(chain);
        expect(await store().audit.head(chain)).toBeUndefined();

        await tamper().setHead({ chain, lastSeq: 3, lastHash: 'b'.repeat(64) });
        await tamper().deleteChain(chain);
        expect(await store().audit.readChain(chain, 0, 10)).toEqual([]);
        expect(await store().audit.head(chain)).toBeUndefined();
        expect(await store().audit.personal(rows.map((r) => r.id))).toEqual([]);
      });
      // ── audit tamper-detection cases go below this line ──
      auditTamperCases(() => ({ store: store(), tamper: tamper() }));
    });
  });
}

// ------------------------------------------------------------------ fixtures

let counter = 0;

function userRow(overrides: Partial<UserRow> = {}): UserRow {
  const id = uuidv7();
  return {
    id,
    email: `user${++counter}@example.com`,
    emailVerified: true,
    name: `User ${counter}`,
    pictureUrl: null,
    custom: null,
    createdAt: 1_764_000_000_000 + counter,
    updatedAt: 1_764_000_000_000 + counter,
    ...overrides,
  };
}

function identityFor(userId: string, overrides: Partial<IdentityRow> = {}): IdentityRow {
  return {
    id: uuidv7(),
    userId,
    issuer: 'https://accounts.example.com',
    subject: `sub-${uuidv7()}`,
    email: null,
    emailVerified: false,
    createdAt: 1_764_000_000_000,
    lastLoginAt: 1_764_000_000_500,
    ...overrides,
  };
}

async function newUser(store: Store, user: Partial<UserRow> = {}, identity: Partial<IdentityRow> = {}): Promise<{ user: UserRow; identity: IdentityRow }> {
  const u = userRow(user);
  const i = identityFor(u.id, identity);
  await store.users.createWithIdentity(u, i);
  return { user: u, identity: i };
}

function genesisOf(chain: string): string {
  return createHash('sha256').update(`genesis:${chain}`).digest('hex');
}

interface AppendOptions {
  at?: number;
  action?: string;
  actorUserId?: string | null;
  personal?: AuditAppendInput['personal'];
  onBuild?: (prev: { seq: number; hash: string }) => void;
}

function rowFor(chain: string, prev: { seq: number; hash: string }, options: AppendOptions = {}): AuditRow {
  const id = uuidv7();
  return {
    id,
    chain,
    seq: prev.seq + 1,
    prevHash: prev.hash,
    hash: createHash('sha256').update(`${prev.hash}|${id}`).digest('hex'),
    at: options.at ?? 1_764_000_000_000,
    actorUserId: options.actorUserId ?? null,
    action: options.action ?? 'test.event',
    target: null,
    outcome: 'success',
    metadata: '{}',
    personalHmac: options.personal ? 'c'.repeat(64) : null,
  };
}

function appendRow(store: Store, chain: string, options: AppendOptions = {}): Promise<AuditRow> {
  return store.audit.append({
    chain,
    genesisHash: genesisOf(chain),
    build: (prev) => {
      options.onBuild?.(prev);
      return rowFor(chain, prev, options);
    },
    ...(options.personal ? { personal: options.personal } : {}),
  });
}

function expectLinked(rows: AuditRow[], chain: string): void {
  let prev = genesisOf(chain);
  rows.forEach((row, i) => {
    expect(row.seq).toBe(i + 1);
    expect(row.prevHash).toBe(prev);
    expect(row.hash).toBe(createHash('sha256').update(`${row.prevHash}|${row.id}`).digest('hex'));
    prev = row.hash;
  });
}

function codeOf(error: unknown): string | undefined {
  return isByokError(error) ? error.code : undefined;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a ByokError ${code}`).toBeDefined();
  expect(codeOf(error)).toBe(code);
}
