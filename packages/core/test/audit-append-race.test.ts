import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService } from '@byok/core/audit';
import { createStore, type Store } from '@byok/core/store';
import { createTestDatabase, selectTestBackends, type TestDatabase } from '@byok/testing';

// Two instances (separate pools, separate cached heads) appending to the same chains,
// one-statement appends racing transactional ones: the chain must stay contiguous.
describe.each(selectTestBackends(['postgres', 'mysql'] as const))('audit appends racing across instances on %s', (kind) => {
  let db: TestDatabase;
  let a: Store;
  let b: Store;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    a = await createStore({ database: db.config });
    b = await createStore({ database: { ...db.config, preparedStatements: false } }); // one instance on unnamed statements
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await db.drop();
  });

  it('keeps every chain contiguous and verifiable', async () => {
    const auditA = new AuditService({ store: a });
    const auditB = new AuditService({ store: b });
    const chains = ['019a0000-0000-7000-8000-0000000000a1', '019a0000-0000-7000-8000-0000000000a2'];
    const jobs: Array<Promise<unknown>> = [];
    for (let i = 0; i < 60; i++) {
      const owner = chains[i % 2]!;
      const audit = i % 3 === 0 ? auditB : auditA;
      const entry = { actorUserId: owner, action: 'preferences.updated', target: owner, metadata: { fields: ['theme'] }, ...(i % 4 === 0 ? { ip: '198.51.100.4', userAgent: 'UA' } : {}) };
      jobs.push(i % 5 === 0 ? (i % 3 === 0 ? b : a).transaction((tx) => audit.record(entry, tx)) : audit.record(entry));
    }
    await Promise.all(jobs);
    for (const owner of chains) {
      const rows = await a.audit.readChain(`user:${owner}`, 0, 1000);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.prevHash).toBe(rows[i - 1]!.hash);
      expect((await a.audit.head(`user:${owner}`))?.lastSeq).toBe(30);
    }
    expect((await auditA.verify()).ok).toBe(true);
  });
});
