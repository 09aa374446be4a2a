import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileCheckpointSink, generateAuditCheckpointKeys } from '@byok/core';
import { AuditService } from '@byok/core/audit';
import { connectDatabase, createStore, uuidv7, type AuditRow, type Store } from '@byok/core/store';
import { runAuditVerify } from '../src/cli/audit-command';
import { auditTamperCases, createTestDatabase, kyselyTamper, memoryTamper, selectTestBackends, type StoreTamper, type TestDatabaseKind } from '@byok/testing';

interface Backend {
  /** A fresh, migrated, empty store (own table prefix) and a tamper for it. */
  fresh(): Promise<{ store: Store; tamper: StoreTamper }>;
  close(): Promise<void>;
}

async function openBackend(kind: 'memory' | TestDatabaseKind): Promise<Backend> {
  const stores: Store[] = [];
  if (kind === 'memory') {
    return {
      fresh: async () => {
        const store = await createStore({ database: { memory: true } });
        return { store, tamper: memoryTamper(store) };
      },
      close: async () => undefined,
    };
  }
  const tdb = await createTestDatabase(kind);
  const side = await connectDatabase({ ...tdb.config, poolSize: 2 });
  let n = 0;
  return {
    fresh: async () => {
      const prefix = `a${++n}_`;
      const store = await createStore({ database: tdb.config, tablePrefix: prefix });
      stores.push(store);
      return { store, tamper: kyselyTamper(side.db, prefix) };
    },
    close: async () => {
      for (const store of stores) await store.close();
      await side.db.destroy();
      await tdb.drop();
    },
  };
}

for (const kind of selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const)) {
  describe(`audit on ${kind}`, () => {
    let backend: Backend;
    let target: { store: Store; tamper: StoreTamper };
    let dir: string;
    beforeAll(async () => {
      backend = await openBackend(kind);
      target = await backend.fresh();
      dir = await mkdtemp(join(tmpdir(), 'byok-audit-'));
    });
    afterAll(async () => {
      await backend?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    // The shared cases (the same ones storeConformance runs for third-party stores).
    auditTamperCases(() => target);

    it("records inside the caller's transaction: rolled back with it, committed with it", async () => {
      const { store } = await backend.fresh();
      const audit = new AuditService({ store });
      const user = uuidv7();
      const chain = `user:${user}`;
      await audit.record({ actorUserId: user, action: 'auth.login.succeeded', ip: '2001:db8::1', userAgent: 'UA' });
      const boom = new Error('boom');
      await expect(
        store.transaction(async (tx) => {
          await audit.record({ actorUserId: user, action: 'key.removed', target: 'gemini', ip: '2001:db8::1', userAgent: 'UA' }, tx);
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect((await store.audit.head(chain))?.lastSeq).toBe(1);
      const row = await store.transaction((tx) => audit.record({ actorUserId: user, action: 'key.removed', target: 'gemini', ip: '2001:db8::1' }, tx));
      expect(row.seq).toBe(2);
      expect(await store.audit.readChain(chain, 0, 10)).toEqual([expect.objectContaining({ seq: 1 }), row]);
      expect(await audit.verify()).toMatchObject({ ok: true, chains: 1, rows: 2 });
      const { items } = await audit.list(user);
      expect(items.map((i) => [i.seq, i.action, i.ip, i.userAgent])).toEqual([
        [2, 'key.removed', '2001:db8::1', null],
        [1, 'auth.login.succeeded', '2001:db8::1', 'UA'],
      ]);
    });

    it('verifies the whole store (system chain included) and names tampering through the CLI', async () => {
      const { store, tamper } = await backend.fresh();
      const keys = generateAuditCheckpointKeys();
      const file = join(dir, `${kind}-checkpoints.jsonl`);
      const audit = new AuditService({ store, checkpoints: { signingKey: keys.privateKey, sinks: [fileCheckpointSink(file)], every: 3 } });
      const users = [uuidv7(), uuidv7()];
      const rows: AuditRow[] = [];
      for (let i = 0; i < 9; i++) {
        rows.push(await audit.record({ actorUserId: null, action: 'auth.login.failed', metadata: { reason: 'login_failed', stage: 'callback' }, ip: `198.51.100.${i}` }));
        rows.push(await audit.record({ actorUserId: users[i % 2]!, action: 'auth.refresh', metadata: { sessionId: uuidv7() } }));
      }
      rows.push(await audit.record({ actorUserId: null, action: 'auth.keys.rotated', target: 'kid-1', metadata: { kid: 'kid-1', alg: 'EdDSA' } }));
      await audit.close();

      const out = { text: '', write(s: string) { this.text += s; } };
      const err = { text: '', write(s: string) { this.text += s; } };
      const ctx = { store, audit, stdout: out, stderr: err };
      expect(await runAuditVerify(['--checkpoints', file], ctx)).toBe(0);
      expect(out.text).toMatch(/^audit verify: OK — 3 chains, 19 rows, \d+ checkpoints matched\n$/);

      // the system chain's 10th row is edited
      const system = rows.filter((r) => r.chain === 'system');
      expect(system.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      await tamper.updateAuditRow(system[9]!.id, { target: 'kid-2' });
      out.text = '';
      expect(await runAuditVerify([], ctx)).toBe(1);
      expect(out.text).toContain(`first bad row: chain system, seq 10, id ${system[9]!.id}: hash_mismatch`);

      // a user's chain is dropped: only the checkpoint file knows it existed
      await tamper.deleteChain(`user:${users[0]}`);
      out.text = '';
      expect(await runAuditVerify(['--json', '--checkpoints', file], ctx)).toBe(1);
      const report = JSON.parse(out.text) as { ok: boolean; problems: Array<{ chain: string; reason: string }> };
      expect(report.ok).toBe(false);
      expect(report.problems.map((p) => [p.chain, p.reason])).toEqual([
        ['system', 'hash_mismatch'],
        [`user:${users[0]}`, 'chain_missing'],
      ]);
      expect(err.text).toBe('');
    });
  });
}
