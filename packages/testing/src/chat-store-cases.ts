import { describe, expect, it } from 'vitest';
import { isByokError } from '@byok/core';
import { uuidv7, type Store, type UserRow } from '@byok/core/store';

// The row types, read off the Store contract itself.
type ChatSessionRow = Parameters<Store['chatSessions']['insert']>[0];
type ChatMessageRow = ReturnType<Parameters<Store['chatMessages']['append']>[2]>;
type ChatUsageCounts = ChatSessionRow['usage'];

const T0 = 1_764_000_000_000;
const ZERO: ChatUsageCounts = { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 };

/**
 * Chat memory's part of the Store contract: sessions (keyset list, active leaf, usage
 * totals, cascading delete) and messages (seq allocation under concurrency, idempotency
 * keys, the tree read as a path, siblings, run ownership and recovery, usage over time).
 * Isolation is checked with a second user's real rows, never an unknown id.
 * `storeConformance()` runs it.
 *
 * @example
 * describe('chat', () => chatStoreCases(() => store));
 */
export function chatStoreCases(store: () => Store): void {
  describe('chat sessions', () => {
    it('round-trips a session exactly and updates only the patched fields', async () => {
      const user = await newUser(store());
      const session = sessionRow(user.id, {
        title: 'Ünïcödé 🧪 title',
        systemPrompt: 'You are terse.\nAnswer in "quotes".',
        usage: { inputTokens: 1, outputTokens: 2, reasoningTokens: 3, cachedInputTokens: 4 },
      });
      await store().chatSessions.insert(session);
      expect(await store().chatSessions.get(user.id, session.id)).toEqual(session);

      const renamed = await store().chatSessions.update(user.id, session.id, { title: 'Renamed', systemPrompt: null, updatedAt: T0 + 50 });
      const expected: ChatSessionRow = { ...session, title: 'Renamed', systemPrompt: null, updatedAt: T0 + 50 };
      expect(renamed).toEqual(expected);
      const moved = await store().chatSessions.update(user.id, session.id, { provider: 'openai', model: 'gpt-x', updatedAt: T0 + 60 });
      expect(moved).toEqual({ ...expected, provider: 'openai', model: 'gpt-x', updatedAt: T0 + 60 });
      expect(await store().chatSessions.get(user.id, session.id)).toEqual(moved);
      expect(await store().chatSessions.update(user.id, uuidv7(), { title: 'x', updatedAt: 1 })).toBeUndefined();
    });

    it('refuses a session of a user that does not exist (not_found) and a taken id (conflict)', async () => {
      const ghost = uuidv7();
      await expectCode(store().chatSessions.insert(sessionRow(ghost)), 'not_found');
      expect(await store().chatSessions.list(ghost, { limit: 10 })).toEqual([]);
      const user = await newUser(store());
      const session = sessionRow(user.id);
      await store().chatSessions.insert(session);
      await expectCode(store().chatSessions.insert({ ...session, title: 'again' }), 'conflict');
      expect(await store().chatSessions.get(user.id, session.id)).toEqual(session);
    });

    it('lists most recent activity first, id breaking ties, paged by keyset without gaps or duplicates', async () => {
      const user = await newUser(store());
      const other = await newUser(store());
      const times = [T0 + 5, T0 + 1, T0 + 5, T0 + 9, T0 + 5, T0 + 1, T0 + 7];
      const sessions = times.map((updatedAt) => sessionRow(user.id, { updatedAt }));
      for (const s of sessions) await store().chatSessions.insert(s);
      await store().chatSessions.insert(sessionRow(other.id, { updatedAt: T0 + 8 }));
      const expected = [...sessions].sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? 1 : -1)).map((s) => s.id);

      const seen: string[] = [];
      let after: { updatedAt: number; id: string } | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await store().chatSessions.list(user.id, { limit: 3, ...(after ? { after } : {}) });
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(3);
        seen.push(...page.map((s) => s.id));
        const last = page[page.length - 1]!;
        after = { updatedAt: last.updatedAt, id: last.id };
      }
      expect(seen).toEqual(expected);
      expect(await store().chatSessions.list(user.id, { limit: 100 })).toEqual(expected.map((id) => sessions.find((s) => s.id === id)));
    });

    it('points the active leaf only at a message of the same session', async () => {
      const user = await newUser(store());
      const a = await newSession(store(), user.id);
      const b = await newSession(store(), user.id);
      const inA = await append(store(), user.id, a.id);
      const inB = await append(store(), user.id, b.id);
      expect(await store().chatSessions.setActiveLeaf(user.id, a.id, inB.id, T0 + 100)).toBe(false);
      expect(await store().chatSessions.setActiveLeaf(user.id, a.id, uuidv7(), T0 + 100)).toBe(false);
      expect(await store().chatSessions.get(user.id, a.id)).toMatchObject({ activeLeafId: null, updatedAt: inA.createdAt });
      expect(await store().chatSessions.setActiveLeaf(user.id, a.id, inA.id, T0 + 100)).toBe(true);
      // the same leaf again is still a success (a row matched, even if nothing changed)
      expect(await store().chatSessions.setActiveLeaf(user.id, a.id, inA.id, T0 + 100)).toBe(true);
      expect(await store().chatSessions.get(user.id, a.id)).toMatchObject({ activeLeafId: inA.id, updatedAt: T0 + 100 });
      expect((await store().chatSessions.get(user.id, b.id))?.activeLeafId).toBeNull();
    });

    it('adds a reply’s counts to the session totals and moves updatedAt', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      expect(await store().chatSessions.addUsage(user.id, session.id, { inputTokens: 10, outputTokens: 20, reasoningTokens: 3, cachedInputTokens: 4 }, T0 + 10)).toBe(true);
      expect(await store().chatSessions.addUsage(user.id, session.id, { inputTokens: 1, outputTokens: 2, reasoningTokens: 0, cachedInputTokens: 5 }, T0 + 20)).toBe(true);
      expect(await store().chatSessions.get(user.id, session.id)).toEqual({
        ...session,
        usage: { inputTokens: 11, outputTokens: 22, reasoningTokens: 3, cachedInputTokens: 9 },
        updatedAt: T0 + 20,
      });
      expect(await store().chatSessions.addUsage(user.id, uuidv7(), { ...ZERO, inputTokens: 1 }, T0 + 30)).toBe(false);
    });

    it('deleting a session deletes its messages and nothing else', async () => {
      const user = await newUser(store());
      const doomed = await newSession(store(), user.id);
      const kept = await newSession(store(), user.id);
      const root = await append(store(), user.id, doomed.id, { clientMessageId: 'c-1' });
      const reply = await append(store(), user.id, doomed.id, { parentId: root.id, role: 'assistant' });
      const keptMessage = await append(store(), user.id, kept.id, { clientMessageId: 'c-1' });
      expect(await store().chatSessions.delete(user.id, doomed.id)).toBe(true);
      expect(await store().chatSessions.get(user.id, doomed.id)).toBeUndefined();
      expect(await store().chatMessages.get(user.id, root.id)).toBeUndefined();
      expect(await store().chatMessages.get(user.id, reply.id)).toBeUndefined();
      expect(await store().chatMessages.findByClientMessageId(user.id, doomed.id, 'c-1')).toBeUndefined();
      expect(await store().chatMessages.children(user.id, doomed.id, null)).toEqual([]);
      expect(await store().chatSessions.delete(user.id, doomed.id)).toBe(false);
      expect(await store().chatMessages.get(user.id, keptMessage.id)).toEqual(keptMessage);
      expect((await store().chatSessions.get(user.id, kept.id))?.lastSeq).toBe(1);
    });
  });

  describe('chat messages', () => {
    it('appends with seqs 1, 2, 3, round-trips every field exactly and moves the session', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      const first = await append(store(), user.id, session.id, {
        text: 'Olá 👋 "quoted" \\ back',
        parts: '[{"type":"text","text":"Olá 👋 \\"quoted\\" \\\\ back"}]',
        clientMessageId: 'client-1',
        inputHash: 'a'.repeat(64),
        tokenEstimate: 12,
        createdAt: T0 + 100,
      });
      const second = await append(
        store(),
        user.id,
        session.id,
        {
          parentId: first.id,
          role: 'assistant',
          status: 'streaming',
          runId: uuidv7(),
          leaseExpiresAt: T0 + 30_000,
          usage: '{"model":"m","finishReason":"stop","timeToFirstTokenMs":120,"durationMs":900}',
          usageCounts: { inputTokens: 100, outputTokens: 200, reasoningTokens: 30, cachedInputTokens: 40 },
          createdAt: T0 + 200,
        },
        { activate: true },
      );
      const third = await append(store(), user.id, session.id, { parentId: second.id, role: 'tool', status: 'error', errorCode: 'provider_error', createdAt: T0 + 300 });
      expect([first.seq, second.seq, third.seq]).toEqual([1, 2, 3]);
      for (const m of [first, second, third]) expect(await store().chatMessages.get(user.id, m.id)).toEqual(m);
      expect(await store().chatMessages.findByClientMessageId(user.id, session.id, 'client-1')).toEqual(first);
      expect(await store().chatMessages.findByClientMessageId(user.id, session.id, 'client-2')).toBeUndefined();
      // the last append did not activate: the leaf stays on the one that did
      expect(await store().chatSessions.get(user.id, session.id)).toEqual({ ...session, lastSeq: 3, activeLeafId: second.id, updatedAt: T0 + 300 });
      expect(await store().chatMessages.children(user.id, session.id, null)).toEqual([first]);
      expect(await store().chatMessages.children(user.id, session.id, first.id)).toEqual([second]);
    });

    it('hands `build` the next seq and refuses a row built for another seq, session or user, consuming nothing', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      const other = await newSession(store(), user.id);
      const seen: number[] = [];
      await store().chatMessages.append(user.id, session.id, (seq) => {
        seen.push(seq);
        return messageRow(user.id, session.id, seq);
      });
      expect(seen).toEqual([1]);
      await expectCode(store().chatMessages.append(user.id, session.id, (seq) => messageRow(user.id, session.id, seq + 1)), 'internal');
      await expectCode(store().chatMessages.append(user.id, session.id, (seq) => messageRow(user.id, other.id, seq)), 'internal');
      await expectCode(store().chatMessages.append(user.id, session.id, (seq) => messageRow(uuidv7(), session.id, seq)), 'internal');
      const boom = new Error('builder failed');
      await expect(
        store().chatMessages.append(user.id, session.id, () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(await store().chatMessages.children(user.id, other.id, null)).toEqual([]);
      expect((await store().chatSessions.get(user.id, session.id))?.lastSeq).toBe(1);
      expect((await append(store(), user.id, session.id)).seq).toBe(2);
    });

    it('refuses a parent that is not a message of the session (not_found), consuming nothing', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      const other = await newSession(store(), user.id);
      const elsewhere = await append(store(), user.id, other.id);
      const root = await append(store(), user.id, session.id);
      const before = await store().chatSessions.get(user.id, session.id);
      for (const parentId of [elsewhere.id, uuidv7()]) {
        const row = { id: uuidv7() };
        await expectCode(store().chatMessages.append(user.id, session.id, (seq) => messageRow(user.id, session.id, seq, { ...row, parentId }), { activate: true }), 'not_found');
        expect(await store().chatMessages.get(user.id, row.id)).toBeUndefined();
      }
      expect(await store().chatSessions.get(user.id, session.id)).toEqual(before);
      expect((await append(store(), user.id, session.id, { parentId: root.id })).seq).toBe(2);
    });

    it('a duplicate clientMessageId is a conflict that leaves nothing: no row, no seq, no session change', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      const other = await newSession(store(), user.id);
      const first = await append(store(), user.id, session.id, { clientMessageId: 'same-key' }, { activate: true });
      const before = await store().chatSessions.get(user.id, session.id);
      const dup = uuidv7();
      await expectCode(
        store().chatMessages.append(user.id, session.id, (seq) => messageRow(user.id, session.id, seq, { id: dup, clientMessageId: 'same-key', createdAt: T0 + 999 }), { activate: true }),
        'conflict',
      );
      expect(await store().chatMessages.get(user.id, dup)).toBeUndefined();
      expect(await store().chatSessions.get(user.id, session.id)).toEqual(before);
      expect(await store().chatMessages.findByClientMessageId(user.id, session.id, 'same-key')).toEqual(first);
      // a taken message id is refused the same way
      await expectCode(store().chatMessages.append(user.id, session.id, (seq) => messageRow(user.id, session.id, seq, { id: first.id })), 'conflict');
      expect(await store().chatSessions.get(user.id, session.id)).toEqual(before);
      // the next append takes the next seq: none was consumed
      expect((await append(store(), user.id, session.id, { clientMessageId: 'other-key' })).seq).toBe(2);
      // the key is unique per session only
      expect((await append(store(), user.id, other.id, { clientMessageId: 'same-key' })).seq).toBe(1);
    });

    it('inside a transaction, a refused append leaves the transaction usable and gap-free; a rollback takes every seq back', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      const rows = await store().transaction(async (tx) => {
        const user1 = await append(tx, user.id, session.id, { clientMessageId: 'k1' });
        await expectCode(tx.chatMessages.append(user.id, session.id, (seq) => messageRow(user.id, session.id, seq, { clientMessageId: 'k1' })), 'conflict');
        await expectCode(tx.chatMessages.append(user.id, session.id, (seq) => messageRow(user.id, session.id, seq, { parentId: uuidv7() })), 'not_found');
        const reply = await append(tx, user.id, session.id, { parentId: user1.id, role: 'assistant', status: 'streaming', runId: uuidv7() }, { activate: true });
        return [user1, reply];
      });
      expect(rows.map((r) => r.seq)).toEqual([1, 2]);
      for (const r of rows) expect(await store().chatMessages.get(user.id, r.id)).toEqual(r);
      expect(await store().chatSessions.get(user.id, session.id)).toMatchObject({ lastSeq: 2, activeLeafId: rows[1]!.id });

      const boom = new Error('boom');
      const lost: string[] = [];
      await expect(
        store().transaction(async (tx) => {
          lost.push((await append(tx, user.id, session.id, { parentId: rows[1]!.id }, { activate: true })).id);
          lost.push((await append(tx, user.id, session.id)).id);
          throw boom;
        }),
      ).rejects.toBe(boom);
      for (const id of lost) expect(await store().chatMessages.get(user.id, id)).toBeUndefined();
      expect(await store().chatSessions.get(user.id, session.id)).toMatchObject({ lastSeq: 2, activeLeafId: rows[1]!.id });
      expect((await append(store(), user.id, session.id)).seq).toBe(3);
    });

    it('gives 64 concurrent appends to one session the seqs 1..64, without a gap or a duplicate, read back in order', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      const n = 64;
      const results = await Promise.all(Array.from({ length: n }, (_, i) => append(store(), user.id, session.id, { clientMessageId: `k-${i}` })));
      expect(results.every((r) => r !== undefined)).toBe(true);
      expect(results.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect((await store().chatSessions.get(user.id, session.id))?.lastSeq).toBe(n);
      const stored = await store().chatMessages.children(user.id, session.id, null);
      expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      for (const r of results) expect(stored.find((m) => m.seq === r.seq)?.id).toBe(r.id);
      // Each append is a root here, so each is its own one-message path, in seq order page by page.
      for (const r of results) expect((await store().chatMessages.path(user.id, session.id, { leafId: r.id, limit: 10 })).map((m) => m.id)).toEqual([r.id]);
    });

    it('reads exactly the active branch as a path in seq order, paged in both directions', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      const t = await branchedTree(store(), user.id, session.id);
      const active = (await store().chatSessions.get(user.id, session.id))!.activeLeafId!;
      expect(active).toBe(t.regenerated.id);

      const path = await store().chatMessages.path(user.id, session.id, { leafId: active, limit: 100 });
      expect(path).toEqual([t.u1, t.a1, t.edited, t.regenerated]);
      expect(path.map((m) => m.seq)).toEqual([1, 2, 5, 7]);
      // another leaf is another branch
      expect((await store().chatMessages.path(user.id, session.id, { leafId: t.a2b.id, limit: 100 })).map((m) => m.id)).toEqual([t.u1.id, t.a1.id, t.u2.id, t.a2b.id]);
      expect((await store().chatMessages.path(user.id, session.id, { leafId: t.a1.id, limit: 100 })).map((m) => m.id)).toEqual([t.u1.id, t.a1.id]);

      const seqs = async (q: { limit: number; afterSeq?: number; beforeSeq?: number }) =>
        (await store().chatMessages.path(user.id, session.id, { leafId: active, ...q })).map((m) => m.seq);
      expect(await seqs({ limit: 2 })).toEqual([1, 2]);
      expect(await seqs({ limit: 2, afterSeq: 2 })).toEqual([5, 7]);
      expect(await seqs({ limit: 2, afterSeq: 7 })).toEqual([]);
      expect(await seqs({ limit: 3, afterSeq: 3 })).toEqual([5, 7]);
      expect(await seqs({ limit: 2, beforeSeq: 8 })).toEqual([5, 7]);
      expect(await seqs({ limit: 2, beforeSeq: 5 })).toEqual([1, 2]);
      expect(await seqs({ limit: 3, beforeSeq: 7 })).toEqual([1, 2, 5]);
      expect(await seqs({ limit: 2, beforeSeq: 1 })).toEqual([]);
      expect(await seqs({ limit: 5, afterSeq: 1, beforeSeq: 7 })).toEqual([2, 5]);
      expect(await seqs({ limit: 1, afterSeq: 1, beforeSeq: 7 })).toEqual([5]);

      expect(await store().chatMessages.children(user.id, session.id, t.a1.id)).toEqual([t.u2, t.edited]);
      expect((await store().chatMessages.children(user.id, session.id, t.edited.id)).map((m) => m.id)).toEqual([t.a2e.id, t.regenerated.id]);
      expect(await store().chatMessages.children(user.id, session.id, t.a2b.id)).toEqual([]);
    });

    it('pages a long path forwards and backwards without gaps or duplicates', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      const other = await newSession(store(), user.id);
      let parentId: string | null = null;
      const chain: ChatMessageRow[] = [];
      for (let i = 0; i < 23; i++) {
        const row = await append(store(), user.id, session.id, { parentId, role: i % 2 === 0 ? 'user' : 'assistant' });
        chain.push(row);
        parentId = row.id;
        // an abandoned sibling every few turns, which the path must skip
        if (i % 5 === 2) await append(store(), user.id, session.id, { parentId: chain[i - 1]?.id ?? null });
        await append(store(), user.id, other.id);
      }
      const leafId = chain[chain.length - 1]!.id;
      const forward: number[] = [];
      let afterSeq: number | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const page = await store().chatMessages.path(user.id, session.id, { leafId, limit: 4, ...(afterSeq === undefined ? {} : { afterSeq }) });
        if (page.length === 0) break;
        forward.push(...page.map((m) => m.seq));
        afterSeq = page[page.length - 1]!.seq;
      }
      const backward: number[] = [];
      let beforeSeq = Number.MAX_SAFE_INTEGER;
      for (let pages = 0; pages < 20; pages++) {
        const page = await store().chatMessages.path(user.id, session.id, { leafId, limit: 4, beforeSeq });
        if (page.length === 0) break;
        expect(page.map((m) => m.seq)).toEqual([...page.map((m) => m.seq)].sort((a, b) => a - b));
        backward.unshift(...page.map((m) => m.seq));
        beforeSeq = page[0]!.seq;
      }
      expect(forward).toEqual(chain.map((m) => m.seq));
      expect(backward).toEqual(chain.map((m) => m.seq));
    });

    it('counts siblings and gives each message its index among them, by seq', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      const other = await newSession(store(), user.id);
      const elsewhere = await append(store(), user.id, other.id);
      const t = await branchedTree(store(), user.id, session.id);
      const info = await store().chatMessages.siblings(user.id, session.id, [t.regenerated.id, t.u1.id, t.u2.id, t.edited.id, t.a2b.id, uuidv7(), elsewhere.id, t.a2.id]);
      expect(info).toEqual([
        { messageId: t.regenerated.id, count: 2, index: 1, siblingIds: [t.a2e.id, t.regenerated.id] },
        { messageId: t.u1.id, count: 1, index: 0, siblingIds: [t.u1.id] },
        { messageId: t.u2.id, count: 2, index: 0, siblingIds: [t.u2.id, t.edited.id] },
        { messageId: t.edited.id, count: 2, index: 1, siblingIds: [t.u2.id, t.edited.id] },
        { messageId: t.a2b.id, count: 2, index: 1, siblingIds: [t.a2.id, t.a2b.id] },
        { messageId: t.a2.id, count: 2, index: 0, siblingIds: [t.a2.id, t.a2b.id] },
      ]);
      expect(await store().chatMessages.siblings(user.id, session.id, [])).toEqual([]);
      // a second root is a sibling of the first
      const root2 = await append(store(), user.id, session.id);
      expect(await store().chatMessages.siblings(user.id, session.id, [root2.id])).toEqual([{ messageId: root2.id, count: 2, index: 1, siblingIds: [t.u1.id, root2.id] }]);
    });

    it('lets only the run that holds a streaming reply write it', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      const runId = uuidv7();
      const reply = await append(store(), user.id, session.id, { role: 'assistant', status: 'streaming', runId, leaseExpiresAt: T0 + 10_000, text: '' });
      expect(await store().chatMessages.updateRun(user.id, reply.id, uuidv7(), { text: 'hijack', updatedAt: T0 + 1 })).toBeUndefined();
      expect(await store().chatMessages.get(user.id, reply.id)).toEqual(reply);

      const partial = await store().chatMessages.updateRun(user.id, reply.id, runId, {
        text: 'Hel',
        parts: '[{"type":"text","text":"Hel"}]',
        leaseExpiresAt: T0 + 20_000,
        updatedAt: T0 + 2,
      });
      const expectedPartial: ChatMessageRow = { ...reply, text: 'Hel', parts: '[{"type":"text","text":"Hel"}]', leaseExpiresAt: T0 + 20_000, updatedAt: T0 + 2 };
      expect(partial).toEqual(expectedPartial);
      // the same write twice still succeeds (the row matched)
      expect(await store().chatMessages.updateRun(user.id, reply.id, runId, { text: 'Hel', updatedAt: T0 + 2 })).toEqual(expectedPartial);

      const done = await store().chatMessages.updateRun(user.id, reply.id, runId, {
        text: 'Hello',
        status: 'complete',
        usage: '{"finishReason":"stop"}',
        usageCounts: { inputTokens: 5, outputTokens: 7, reasoningTokens: 1, cachedInputTokens: 2 },
        tokenEstimate: 9,
        updatedAt: T0 + 3,
      });
      const expectedDone: ChatMessageRow = {
        ...expectedPartial,
        text: 'Hello',
        status: 'complete',
        usage: '{"finishReason":"stop"}',
        usageCounts: { inputTokens: 5, outputTokens: 7, reasoningTokens: 1, cachedInputTokens: 2 },
        tokenEstimate: 9,
        updatedAt: T0 + 3,
      };
      expect(done).toEqual(expectedDone);
      // once it is no longer streaming, not even its own run writes it
      expect(await store().chatMessages.updateRun(user.id, reply.id, runId, { text: 'late', updatedAt: T0 + 4 })).toBeUndefined();
      expect(await store().chatMessages.get(user.id, reply.id)).toEqual(expectedDone);

      const complete = await append(store(), user.id, session.id, { role: 'assistant', status: 'complete', runId });
      expect(await store().chatMessages.updateRun(user.id, complete.id, runId, { text: 'x', updatedAt: T0 + 5 })).toBeUndefined();
      expect(await store().chatMessages.get(user.id, complete.id)).toEqual(complete);
    });

    it('records a stop request on a streaming reply only, and its run reads it back', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      const runId = uuidv7();
      const reply = await append(store(), user.id, session.id, { role: 'assistant', status: 'streaming', runId, leaseExpiresAt: T0 + 10_000 });
      expect(await store().chatMessages.requestStop(user.id, reply.id, T0 + 5)).toBe(true);
      expect(await store().chatMessages.requestStop(user.id, reply.id, T0 + 5)).toBe(true);
      const renewed = await store().chatMessages.updateRun(user.id, reply.id, runId, { leaseExpiresAt: T0 + 20_000, updatedAt: T0 + 6 });
      expect(renewed).toEqual({ ...reply, stopRequestedAt: T0 + 5, leaseExpiresAt: T0 + 20_000, updatedAt: T0 + 6 });
      await store().chatMessages.updateRun(user.id, reply.id, runId, { status: 'incomplete', errorCode: 'cancelled', updatedAt: T0 + 7 });
      expect(await store().chatMessages.requestStop(user.id, reply.id, T0 + 8)).toBe(false);
      expect((await store().chatMessages.get(user.id, reply.id))?.stopRequestedAt).toBe(T0 + 5);
      const done = await append(store(), user.id, session.id, { role: 'assistant', status: 'complete' });
      expect(await store().chatMessages.requestStop(user.id, done.id, T0 + 9)).toBe(false);
      expect(await store().chatMessages.requestStop(user.id, uuidv7(), T0 + 9)).toBe(false);
    });

    it('recovers only runs whose lease is still expired, oldest lease first', async () => {
      const user = await newUser(store());
      const session = await newSession(store(), user.id);
      const base = T0 + 5_000_000;
      const runs = [uuidv7(), uuidv7(), uuidv7()];
      const streaming = (i: number, leaseExpiresAt: number) => append(store(), user.id, session.id, { role: 'assistant', status: 'streaming', runId: runs[i]!, leaseExpiresAt });
      const late = await streaming(2, base + 30);
      const renewing = await streaming(0, base + 10);
      const expired = await streaming(1, base + 20);
      const finished = await append(store(), user.id, session.id, { role: 'assistant', status: 'complete', runId: uuidv7(), leaseExpiresAt: base + 1 });
      const mine = new Set([late.id, renewing.id, expired.id, finished.id]);
      const sweep = async (now: number) => (await store().chatMessages.expiredRuns(now, 1000)).filter((m) => mine.has(m.id));

      expect(await sweep(base + 10)).toEqual([]);
      expect(await sweep(base + 25)).toEqual([renewing, expired]);
      expect((await store().chatMessages.expiredRuns(base + 25, 1000)).every((m) => m.status === 'streaming' && m.leaseExpiresAt! < base + 25)).toBe(true);

      // the owner renews between the sweep and the recovery: its row stays its own
      await store().chatMessages.updateRun(user.id, renewing.id, runs[0]!, { leaseExpiresAt: base + 100, updatedAt: base + 24 });
      expect(await store().chatMessages.recoverRun(renewing.id, runs[0]!, base + 25)).toBe(false);
      expect(await store().chatMessages.get(user.id, renewing.id)).toMatchObject({ status: 'streaming', leaseExpiresAt: base + 100 });

      expect(await store().chatMessages.recoverRun(expired.id, uuidv7(), base + 25)).toBe(false);
      expect(await store().chatMessages.recoverRun(expired.id, runs[1]!, base + 25)).toBe(true);
      expect(await store().chatMessages.get(user.id, expired.id)).toEqual({ ...expired, status: 'incomplete', errorCode: 'lease_expired', updatedAt: base + 25 });
      expect(await store().chatMessages.recoverRun(expired.id, runs[1]!, base + 26)).toBe(false);
      // the old owner has lost the row
      expect(await store().chatMessages.updateRun(user.id, expired.id, runs[1]!, { text: 'late', updatedAt: base + 27 })).toBeUndefined();
      // a lease not yet past is not recovered, and a finished row never is
      expect(await store().chatMessages.recoverRun(late.id, runs[2]!, base + 30)).toBe(false);
      expect(await store().chatMessages.recoverRun(finished.id, finished.runId!, base + 30)).toBe(false);
      expect(await sweep(base + 31)).toEqual([late]);
    });

    it('sums usage of the user’s replies over a time range (from inclusive, to exclusive), optionally one session', async () => {
      const user = await newUser(store());
      const other = await newUser(store());
      const s1 = await newSession(store(), user.id);
      const s2 = await newSession(store(), user.id);
      const os = await newSession(store(), other.id);
      const reply = (userId: string, sessionId: string, createdAt: number, n: number) =>
        append(store(), userId, sessionId, {
          role: 'assistant',
          createdAt,
          usage: '{"finishReason":"stop"}',
          usageCounts: { inputTokens: n, outputTokens: 2 * n, reasoningTokens: 3 * n, cachedInputTokens: 4 * n },
        });
      await reply(user.id, s1.id, 1000, 1);
      await reply(user.id, s1.id, 2000, 10);
      await reply(user.id, s2.id, 3000, 100);
      await reply(other.id, os.id, 2000, 1000);
      // neither a user message (even one carrying usage) nor a reply without usage counts
      await append(store(), user.id, s1.id, { role: 'user', createdAt: 2500, usage: '{}', usageCounts: { ...ZERO, inputTokens: 7 } });
      await append(store(), user.id, s1.id, { role: 'assistant', createdAt: 2500, usage: null, usageCounts: { ...ZERO, inputTokens: 7 } });

      const totals = (n: number, replies: number) => ({ inputTokens: n, outputTokens: 2 * n, reasoningTokens: 3 * n, cachedInputTokens: 4 * n, replies });
      expect(await store().chatMessages.usageTotals(user.id, {})).toEqual(totals(111, 3));
      expect(await store().chatMessages.usageTotals(user.id, { from: 2000 })).toEqual(totals(110, 2));
      expect(await store().chatMessages.usageTotals(user.id, { to: 3000 })).toEqual(totals(11, 2));
      expect(await store().chatMessages.usageTotals(user.id, { from: 1000, to: 2000 })).toEqual(totals(1, 1));
      expect(await store().chatMessages.usageTotals(user.id, { sessionId: s2.id })).toEqual(totals(100, 1));
      expect(await store().chatMessages.usageTotals(user.id, { sessionId: s1.id, from: 1500 })).toEqual(totals(10, 1));
      expect(await store().chatMessages.usageTotals(user.id, { from: 4000 })).toEqual(totals(0, 0));
      expect(await store().chatMessages.usageTotals(other.id, {})).toEqual(totals(1000, 1));
    });
  });

  describe('chat isolation and deletion', () => {
    it("calls with user B's id never see or change user A's sessions and messages", async () => {
      const a = await newUser(store());
      const b = await newUser(store());
      const sessionA = await newSession(store(), a.id);
      const sessionB = await newSession(store(), b.id);
      const runId = uuidv7();
      const question = await append(store(), a.id, sessionA.id, { clientMessageId: 'a-key' });
      const reply = await append(
        store(),
        a.id,
        sessionA.id,
        { parentId: question.id, role: 'assistant', status: 'streaming', runId, leaseExpiresAt: T0 + 10_000, usage: '{}', usageCounts: { ...ZERO, inputTokens: 50 } },
        { activate: true },
      );
      await store().chatSessions.addUsage(a.id, sessionA.id, { ...ZERO, inputTokens: 50 }, reply.createdAt);
      const ownB = await append(store(), b.id, sessionB.id, { clientMessageId: 'a-key' }, { activate: true });
      const snapshotA = await store().chatSessions.get(a.id, sessionA.id);
      const snapshotB = await store().chatSessions.get(b.id, sessionB.id);

      const s = store().chatSessions;
      const m = store().chatMessages;
      expect(await s.get(b.id, sessionA.id)).toBeUndefined();
      expect((await s.list(b.id, { limit: 100 })).map((x) => x.id)).toEqual([sessionB.id]);
      expect(await s.update(b.id, sessionA.id, { title: 'pwned', updatedAt: T0 + 1 })).toBeUndefined();
      expect(await s.setActiveLeaf(b.id, sessionA.id, question.id, T0 + 1)).toBe(false);
      // nor can B hang A's message into B's own session
      expect(await s.setActiveLeaf(b.id, sessionB.id, question.id, T0 + 1)).toBe(false);
      expect(await s.addUsage(b.id, sessionA.id, { ...ZERO, inputTokens: 1 }, T0 + 1)).toBe(false);
      expect(await s.delete(b.id, sessionA.id)).toBe(false);

      let built = false;
      expect(
        await m.append(b.id, sessionA.id, (seq) => {
          built = true;
          return messageRow(b.id, sessionA.id, seq);
        }),
      ).toBeUndefined();
      expect(built).toBe(false);
      await expectCode(m.append(b.id, sessionB.id, (seq) => messageRow(b.id, sessionB.id, seq, { parentId: question.id })), 'not_found');
      expect(await m.get(b.id, question.id)).toBeUndefined();
      expect(await m.findByClientMessageId(b.id, sessionA.id, 'a-key')).toBeUndefined();
      expect(await m.children(b.id, sessionA.id, null)).toEqual([]);
      expect(await m.children(b.id, sessionA.id, question.id)).toEqual([]);
      expect(await m.path(b.id, sessionA.id, { leafId: reply.id, limit: 100 })).toEqual([]);
      expect(await m.path(b.id, sessionB.id, { leafId: reply.id, limit: 100 })).toEqual([]);
      expect(await m.siblings(b.id, sessionA.id, [question.id, reply.id])).toEqual([]);
      expect(await m.siblings(b.id, sessionB.id, [question.id, reply.id])).toEqual([]);
      expect(await m.updateRun(b.id, reply.id, runId, { text: 'pwned', status: 'complete', updatedAt: T0 + 1 })).toBeUndefined();
      expect(await m.requestStop(b.id, reply.id, T0 + 1)).toBe(false);
      expect(await m.usageTotals(b.id, {})).toEqual({ ...ZERO, replies: 0 });
      expect(await m.usageTotals(b.id, { sessionId: sessionA.id })).toEqual({ ...ZERO, replies: 0 });

      // A's rows are exactly as they were, and B's own are intact
      expect(await s.get(a.id, sessionA.id)).toEqual(snapshotA);
      expect(await m.get(a.id, question.id)).toEqual(question);
      expect(await m.get(a.id, reply.id)).toEqual(reply);
      expect(await m.path(a.id, sessionA.id, { leafId: reply.id, limit: 100 })).toEqual([question, reply]);
      expect(await m.usageTotals(a.id, {})).toEqual({ ...ZERO, inputTokens: 50, replies: 1 });
      expect(await s.get(b.id, sessionB.id)).toEqual(snapshotB);
      expect(await m.get(b.id, ownB.id)).toEqual(ownB);
    });

    it("deleting a user deletes their sessions and messages, and nobody else's", async () => {
      const user = await newUser(store());
      const bystander = await newUser(store());
      const mine = [await newSession(store(), user.id), await newSession(store(), user.id)];
      const theirs = await newSession(store(), bystander.id);
      const messages: ChatMessageRow[] = [];
      for (const session of mine) {
        const q = await append(store(), user.id, session.id);
        messages.push(q, await append(store(), user.id, session.id, { parentId: q.id, role: 'assistant', status: 'streaming', runId: uuidv7(), leaseExpiresAt: T0 + 1, usage: '{}' }));
      }
      const kept = await append(store(), bystander.id, theirs.id, { role: 'assistant', usage: '{}', usageCounts: { ...ZERO, outputTokens: 3 } });

      expect(await store().users.delete(user.id)).toBe(true);
      expect(await store().chatSessions.list(user.id, { limit: 100 })).toEqual([]);
      for (const session of mine) {
        expect(await store().chatSessions.get(user.id, session.id)).toBeUndefined();
        expect(await store().chatMessages.children(user.id, session.id, null)).toEqual([]);
      }
      for (const message of messages) expect(await store().chatMessages.get(user.id, message.id)).toBeUndefined();
      const ids = new Set(messages.map((x) => x.id));
      expect((await store().chatMessages.expiredRuns(T0 + 2, 1000)).filter((x) => ids.has(x.id))).toEqual([]);
      expect(await store().chatMessages.usageTotals(user.id, {})).toEqual({ ...ZERO, replies: 0 });

      expect((await store().chatSessions.get(bystander.id, theirs.id))?.lastSeq).toBe(1);
      expect(await store().chatMessages.get(bystander.id, kept.id)).toEqual(kept);
      expect(await store().chatMessages.usageTotals(bystander.id, {})).toEqual({ ...ZERO, outputTokens: 3, replies: 1 });
    });
  });

  describe('chat content keys', () => {
    it('keeps one key per user: the first insert wins, a second returns it; another user sees none; deleted with the user', async () => {
      const user = await newUser(store());
      const other = await newUser(store());
      const first = { id: uuidv7(), userId: user.id, sealed: 'sealed-one', createdAt: 1_000 };
      expect(await store().chatContentKeys.get(user.id)).toBeUndefined();
      expect(await store().chatContentKeys.insertIfAbsent(first)).toEqual(first);
      expect(await store().chatContentKeys.insertIfAbsent({ id: uuidv7(), userId: user.id, sealed: 'sealed-two', createdAt: 2_000 })).toEqual(first);
      expect(await store().chatContentKeys.get(user.id)).toEqual(first);
      expect(await store().chatContentKeys.get(other.id)).toBeUndefined();
      expect(await store().chatContentKeys.delete(other.id)).toBe(false);
      await expectCode(store().chatContentKeys.insertIfAbsent({ id: uuidv7(), userId: uuidv7(), sealed: 'x', createdAt: 1 }), 'not_found');
      // Racing first uses of one user agree on one key.
      const racer = await newUser(store());
      const raced = await Promise.all(Array.from({ length: 8 }, (_, i) => store().chatContentKeys.insertIfAbsent({ id: uuidv7(), userId: racer.id, sealed: `s${i}`, createdAt: i })));
      expect(new Set(raced.map((r) => r.id)).size).toBe(1);
      expect(await store().users.delete(user.id)).toBe(true);
      expect(await store().chatContentKeys.get(user.id)).toBeUndefined();
      expect(await store().chatContentKeys.delete(racer.id)).toBe(true);
      expect(await store().chatContentKeys.get(racer.id)).toBeUndefined();
    });
  });
}

// ------------------------------------------------------------------ fixtures

let counter = 0;

async function newUser(store: Store): Promise<UserRow> {
  const id = uuidv7();
  const user: UserRow = { id, email: null, emailVerified: false, name: null, pictureUrl: null, custom: null, createdAt: T0, updatedAt: T0 };
  await store.users.createWithIdentity(user, {
    id: uuidv7(),
    userId: id,
    issuer: 'https://accounts.example.com',
    subject: `chat-${id}`,
    email: null,
    emailVerified: false,
    createdAt: T0,
    lastLoginAt: T0,
  });
  return user;
}

function sessionRow(userId: string, overrides: Partial<ChatSessionRow> = {}): ChatSessionRow {
  return {
    id: uuidv7(),
    userId,
    title: null,
    provider: 'gemini',
    model: 'gemini-2.5-flash',
    systemPrompt: null,
    activeLeafId: null,
    lastSeq: 0,
    usage: { ...ZERO },
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

async function newSession(store: Store, userId: string, overrides: Partial<ChatSessionRow> = {}): Promise<ChatSessionRow> {
  const row = sessionRow(userId, overrides);
  await store.chatSessions.insert(row);
  return row;
}

function messageRow(userId: string, sessionId: string, seq: number, overrides: Partial<ChatMessageRow> = {}): ChatMessageRow {
  const n = ++counter;
  const text = `message ${n}`;
  return {
    id: uuidv7(),
    sessionId,
    userId,
    parentId: null,
    seq,
    role: 'user',
    text,
    parts: JSON.stringify([{ type: 'text', text }]),
    status: 'complete',
    errorCode: null,
    clientMessageId: null,
    inputHash: null,
    runId: null,
    leaseExpiresAt: null,
    stopRequestedAt: null,
    usage: null,
    usageCounts: { ...ZERO },
    tokenEstimate: 3,
    createdAt: T0 + n,
    updatedAt: T0 + n,
    ...overrides,
  };
}

/** Appends one message built from `overrides` and returns it; fails the test when the session is not found. */
async function append(
  store: Store,
  userId: string,
  sessionId: string,
  overrides: Partial<ChatMessageRow> = {},
  options?: { activate?: boolean },
): Promise<ChatMessageRow> {
  const row = await store.chatMessages.append(userId, sessionId, (seq) => messageRow(userId, sessionId, seq, overrides), options);
  if (!row) throw new Error(`append found no session ${sessionId}`);
  return row;
}

/**
 * A conversation with an edit and regenerations, seqs in allocation order:
 *
 *   u1(1) ─ a1(2) ┬ u2(3) ┬ a2(4)
 *                 │       └ a2b(8)           regenerate on the old branch
 *                 └ edited(5) ┬ a2e(6)       edit of u2, and its reply
 *                             └ regenerated(7)   regenerate: the active leaf
 */
async function branchedTree(store: Store, userId: string, sessionId: string) {
  const on = { activate: true };
  const u1 = await append(store, userId, sessionId, { role: 'user' }, on);
  const a1 = await append(store, userId, sessionId, { role: 'assistant', parentId: u1.id }, on);
  const u2 = await append(store, userId, sessionId, { role: 'user', parentId: a1.id }, on);
  const a2 = await append(store, userId, sessionId, { role: 'assistant', parentId: u2.id }, on);
  const edited = await append(store, userId, sessionId, { role: 'user', parentId: a1.id }, on);
  const a2e = await append(store, userId, sessionId, { role: 'assistant', parentId: edited.id }, on);
  const regenerated = await append(store, userId, sessionId, { role: 'assistant', parentId: edited.id }, on);
  const a2b = await append(store, userId, sessionId, { role: 'assistant', parentId: u2.id });
  return { u1, a1, u2, a2, edited, a2e, regenerated, a2b };
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
