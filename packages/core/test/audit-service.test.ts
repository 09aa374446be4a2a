import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuditService } from '@byok/core/audit';
import { auditGenesisHash } from '@byok/core/audit';
import { createStore, MemoryStore, uuidv7, type Store } from '@byok/core/store';
import { MEMORY_STATE, type MemoryStoreState } from '../src/store/memory/memory-state';
import { encodeCursor } from '../src/util/cursor';

function stepClock(start = 1_764_000_000_000, step = 1000) {
  let now = start - step;
  return { now: () => (now += step) };
}

async function setup() {
  const store = await createStore({ database: { memory: true } });
  const audit = new AuditService({ store, clock: stepClock() });
  return { store, audit };
}

function stateOf(store: Store): MemoryStoreState {
  if (!(store instanceof MemoryStore)) throw new Error('needs the memory store');
  return store[MEMORY_STATE];
}

describe('AuditService.record and the chain', () => {
  it('hashes exactly SHA-256(prev ‖ canonical fixed field list) from the genesis SHA-256("byok-audit-v1" ‖ chain)', async () => {
    const { store, audit } = await setup();
    const userId = uuidv7();
    const chain = `user:${userId}`;
    const genesis = createHash('sha256').update(`byok-audit-v1${chain}`).digest('hex');
    expect(auditGenesisHash(chain)).toBe(genesis);

    const first = await audit.record({
      actorUserId: userId,
      action: 'key.set',
      target: 'gemini',
      metadata: { status: 'valid', provider: 'gemini', last4: 'Ab3€' },
      ip: '203.0.113.5',
      userAgent: 'UA "quoted"',
    });
    const salt = await store.audit.salt(userId);
    const hmac = createHmac('sha256', Buffer.from(salt, 'hex')).update('{"ip":"203.0.113.5","userAgent":"UA \\"quoted\\""}').digest('hex');
    expect(first.personalHmac).toBe(hmac);
    expect(first.metadata).toBe('{"last4":"Ab3€","provider":"gemini","status":"valid"}');
    // the fixed field list, canonical (keys sorted), `at` in integer ms
    const body =
      `{"action":"key.set","actorUserId":"${userId}","at":1764000000000,"chain":"${chain}","id":"${first.id}",` +
      `"metadata":{"last4":"Ab3€","provider":"gemini","status":"valid"},"outcome":"success","personalHmac":"${hmac}","seq":1,"target":"gemini"}`;
    expect(first).toMatchObject({ chain, seq: 1, prevHash: genesis, at: 1_764_000_000_000, actorUserId: userId, outcome: 'success' });
    expect(first.hash).toBe(createHash('sha256').update(genesis + body, 'utf8').digest('hex'));

    const second = await audit.record({ actorUserId: userId, action: 'key.removed', target: 'gemini', outcome: 'failure' });
    expect(second).toMatchObject({ seq: 2, prevHash: first.hash, personalHmac: null, metadata: '{}' });
    expect(await store.audit.head(chain)).toEqual({ chain, lastSeq: 2, lastHash: second.hash });
    expect(await store.audit.personal([first.id, second.id])).toEqual([{ auditId: first.id, ip: '203.0.113.5', userAgent: 'UA "quoted"' }]);
    expect((await audit.verify()).ok).toBe(true);
  });

  it('routes rows: no actor → system, an actor → their chain, chainOwner overrides', async () => {
    const { store, audit } = await setup();
    const [u, v] = [uuidv7(), uuidv7()];
    const a = await audit.record({ actorUserId: null, action: 'auth.login.failed', metadata: { reason: 'login_failed' }, ip: '192.0.2.1' });
    const b = await audit.record({ actorUserId: u, action: 'auth.logout' });
    const c = await audit.record({ actorUserId: u, chainOwner: v, action: 'user.deleted', metadata: { by: 'admin' }, ip: '192.0.2.2' });
    const d = await audit.record({ actorUserId: null, chainOwner: 'system', action: 'auth.keys.rotated', metadata: { kid: 'k1' } });
    expect([a.chain, b.chain, c.chain, d.chain]).toEqual(['system', `user:${u}`, `user:${v}`, 'system']);
    expect(d.seq).toBe(2);
    // personal data is keyed to the person it belongs to: the actor's salt, else the chain owner's
    expect(await store.audit.hasSalt('system')).toBe(true);
    expect(await store.audit.hasSalt(u)).toBe(true);
    expect(await store.audit.hasSalt(v)).toBe(false);
    const report = await audit.verify();
    expect(report).toMatchObject({ ok: true, chains: 3, rows: 4 });
  });

  it('moves the head inside the caller transaction: rolled back with it, committed with it', async () => {
    const { store, audit } = await setup();
    const userId = uuidv7();
    const chain = `user:${userId}`;
    await audit.record({ actorUserId: userId, action: 'auth.refresh' });
    const boom = new Error('action failed');
    await expect(
      store.transaction(async (tx) => {
        await audit.record({ actorUserId: userId, action: 'preferences.updated', metadata: { fields: ['theme'] }, ip: '192.0.2.7' }, tx);
        expect((await tx.audit.head(chain))?.lastSeq).toBe(2);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect((await store.audit.head(chain))?.lastSeq).toBe(1);
    expect(await store.audit.readChain(chain, 0, 10)).toHaveLength(1);

    const row = await store.transaction((tx) => audit.record({ actorUserId: userId, action: 'preferences.updated', metadata: { fields: ['theme'] } }, tx));
    expect(row.seq).toBe(2);
    expect(await store.audit.head(chain)).toEqual({ chain, lastSeq: 2, lastHash: row.hash });
    expect((await audit.verify()).ok).toBe(true);
  });

  it('rejects malformed input with validation_failed', async () => {
    const { audit } = await setup();
    await expect(audit.record({ actorUserId: null, action: 'auth.refresh', outcome: 'maybe' as never })).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(audit.record({ actorUserId: null, chainOwner: 'user:x', action: 'auth.refresh' })).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(audit.record({ actorUserId: null, action: 'auth.refresh', ip: 'x'.repeat(65) })).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('detects an edited personal row while it exists, and stops checking once it is erased', async () => {
    const { store, audit } = await setup();
    const userId = uuidv7();
    const row = await audit.record({ actorUserId: userId, action: 'auth.logout', ip: '192.0.2.10', userAgent: 'UA' });
    stateOf(store).auditPersonal.set(row.id, { auditId: row.id, ip: '192.0.2.99', userAgent: 'UA' });
    expect((await audit.verify()).firstBad).toMatchObject({ chain: `user:${userId}`, seq: 1, id: row.id, reason: 'personal_mismatch' });
    await audit.eraseUser(userId);
    expect(await audit.verify()).toMatchObject({ ok: true, rows: 1 });
  });
});

describe('AuditService.list', () => {
  it('pages a user\'s own chain newest first, with items free of hash internals', async () => {
    const { audit } = await setup();
    const [u, v] = [uuidv7(), uuidv7()];
    for (let i = 0; i < 25; i++) {
      await audit.record({
        actorUserId: u,
        action: i % 5 === 0 ? 'key.tested' : 'auth.refresh',
        metadata: i % 5 === 0 ? { provider: 'gemini', status: 'valid' } : { sessionId: `s${i}` },
        ...(i === 24 ? { ip: '198.51.100.24', userAgent: 'Browser/24' } : {}),
      });
      if (i < 3) await audit.record({ actorUserId: v, action: 'auth.refresh' });
    }
    await audit.record({ actorUserId: null, action: 'auth.login.failed' });

    const seqs: number[] = [];
    let cursor: string | undefined;
    const sizes: number[] = [];
    for (;;) {
      const page = await audit.list(u, { limit: 10, ...(cursor ? { cursor } : {}) });
      sizes.push(page.items.length);
      seqs.push(...page.items.map((i) => i.seq));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(sizes).toEqual([10, 10, 5]);
    expect(seqs).toEqual(Array.from({ length: 25 }, (_, i) => 25 - i));

    const [newest] = (await audit.list(u, { limit: 1 })).items;
    expect(Object.keys(newest!).sort()).toEqual(['action', 'at', 'id', 'ip', 'metadata', 'outcome', 'seq', 'target', 'userAgent']);
    expect(newest).toMatchObject({ seq: 25, action: 'auth.refresh', metadata: { sessionId: 's24' }, ip: '198.51.100.24', userAgent: 'Browser/24' });

    const tested = await audit.list(u, { actions: ['key.tested'] });
    expect(tested.items.map((i) => i.seq)).toEqual([21, 16, 11, 6, 1]);
    expect(tested.items[0]!.metadata).toEqual({ provider: 'gemini', status: 'valid' });
    expect(tested.nextCursor).toBeNull();

    const first = (await audit.list(u, { limit: 100 })).items.at(-1)!;
    const window = await audit.list(u, { from: first.at, to: first.at + 1 });
    expect(window.items.map((i) => i.seq)).toEqual([1]);
  });

  it('never shows another user\'s rows or the system chain, and validates its input', async () => {
    const { audit } = await setup();
    const [u, v] = [uuidv7(), uuidv7()];
    await audit.record({ actorUserId: u, action: 'auth.logout', ip: '192.0.2.3' });
    await audit.record({ actorUserId: null, action: 'auth.login.failed', ip: '192.0.2.4' });
    expect(await audit.list(v)).toEqual({ items: [], nextCursor: null });
    expect(await audit.list('system')).toEqual({ items: [], nextCursor: null });
    // a cursor only narrows the caller's own chain
    expect((await audit.list(v, { cursor: encodeCursor('audit', [100]) })).items).toEqual([]);
    // an admin acting on u's chain: u sees the row, not the admin's ip
    await audit.record({ actorUserId: v, chainOwner: u, action: 'user.updated', metadata: { fields: ['name'] }, ip: '192.0.2.200', userAgent: 'Admin' });
    expect((await audit.list(u)).items.map((i) => [i.action, i.ip])).toEqual([
      ['user.updated', null],
      ['auth.logout', '192.0.2.3'],
    ]);
    await expect(audit.list(u, { cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'invalid_cursor' });
    await expect(audit.list(u, { cursor: encodeCursor('sessions', [3]) })).rejects.toMatchObject({ code: 'invalid_cursor' });
    await expect(audit.list(u, { limit: 0 })).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(audit.list(u, { limit: 101 })).rejects.toMatchObject({ code: 'validation_failed' });
  });
});
