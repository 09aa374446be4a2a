import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createByok, isByokError, type Byok } from '@byok/core';
import { createTestDatabase, selectTestBackends, type TestDatabase } from '@byok/testing';
import { ChatRetention, type ChatPurgeProgress } from '../src/chat/retention';
import type { ChatMessageRow, ChatSessionRow } from '../src/store/chat-repositories';
import { uuidv7 } from '../src/util/ids';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 31);
const MAX_AGE = 30 * DAY;

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return isByokError(e) ? e.code : 'not-byok';
  }
}

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('chat retention on %s', (kind) => {
  let db: TestDatabase | undefined;
  let byok: Byok;
  let alice: string;
  let bob: string;

  /** A session whose last activity is `at`, with `messages` messages appended then. */
  async function session(userId: string, at: number, messages = 2, last?: Partial<ChatMessageRow>): Promise<ChatSessionRow> {
    const row: ChatSessionRow = {
      id: uuidv7(at),
      userId,
      title: null,
      provider: 'gemini',
      model: 'gemini-2.5-flash',
      systemPrompt: null,
      activeLeafId: null,
      lastSeq: 0,
      usage: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
      createdAt: at,
      updatedAt: at,
    };
    await byok.store.chatSessions.insert(row);
    let parentId: string | null = null;
    for (let i = 0; i < messages; i++) {
      const message: ChatMessageRow | undefined = await byok.store.chatMessages.append(userId, row.id, (seq) => ({
        id: uuidv7(at),
        sessionId: row.id,
        userId,
        parentId,
        seq,
        role: i % 2 === 0 ? 'user' : 'assistant',
        text: `message ${i}`,
        parts: JSON.stringify([{ type: 'text', text: `message ${i}` }]),
        status: 'complete',
        errorCode: null,
        clientMessageId: null,
        inputHash: null,
        runId: null,
        leaseExpiresAt: null,
        stopRequestedAt: null,
        usage: null,
        usageCounts: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
        tokenEstimate: 2,
        createdAt: at,
        updatedAt: at,
        ...(i === messages - 1 ? last : {}),
      }), { activate: true });
      parentId = message!.id;
    }
    return row;
  }

  async function exists(s: ChatSessionRow): Promise<boolean> {
    return (await byok.store.chatSessions.get(s.userId, s.id)) !== undefined;
  }

  async function purgeRows() {
    return byok.store.audit.list({ chain: 'system', actions: ['chat.retention.purged'], limit: 100 });
  }

  const retention = () => new ChatRetention({ store: byok.store, audit: byok.audit, options: { maxAgeMs: MAX_AGE } });

  beforeAll(async () => {
    db = kind === 'memory' ? undefined : await createTestDatabase(kind);
    byok = await createByok({ database: db ? db.config : { memory: true } });
    alice = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'alice' })).user.id;
    bob = (await byok.users.findOrCreate({ issuer: 'https://i.test', subject: 'bob' })).user.id;
  });
  afterAll(async () => {
    await byok?.close();
    await db?.drop();
  });

  it('deletes exactly the sessions older than the maximum age, with their messages, batch by batch, one system audit row per batch', async () => {
    const old = [
      await session(alice, NOW - 90 * DAY, 3),
      await session(bob, NOW - 60 * DAY, 2),
      await session(alice, NOW - 45 * DAY, 4),
      await session(bob, NOW - 31 * DAY, 1),
      // A reply whose process died long ago: its lease is over, so it does not keep the session.
      await session(alice, NOW - 40 * DAY, 2, { status: 'streaming', runId: uuidv7(), leaseExpiresAt: NOW - 40 * DAY + 60_000 }),
    ];
    const young = [
      await session(alice, NOW - 29 * DAY, 2),
      await session(bob, NOW - MAX_AGE, 2), // exactly at the limit: kept
      await session(bob, NOW - DAY, 2),
    ];
    // Old, but a reply is streaming in it under a lease still live: never touched.
    const live = await session(alice, NOW - 50 * DAY, 2, { status: 'streaming', runId: uuidv7(), leaseExpiresAt: Date.now() + 60_000 });
    const auditBefore = (await purgeRows()).length;
    const progress: ChatPurgeProgress[] = [];

    const report = await retention().purgeExpired({ now: NOW, batchSize: 2, onProgress: (p) => progress.push(p) });

    expect(report).toMatchObject({ maxAgeMs: MAX_AGE, cutoff: NOW - MAX_AGE, sessions: 5, messages: 12, total: 5, batches: 3, kept: 0, complete: true });
    for (const s of old) expect(await exists(s)).toBe(false);
    for (const s of [...young, live]) expect(await exists(s)).toBe(true);
    expect(await byok.store.chatMaintenance.sessionMessages(alice, old[0]!.id, { afterSeq: 0, limit: 100 })).toEqual([]);
    expect((await byok.store.chatMaintenance.sessionMessages(bob, young[1]!.id, { afterSeq: 0, limit: 100 })).length).toBe(2);
    expect(progress.map((p) => p.sessions)).toEqual([2, 4, 5]);

    const rows = (await purgeRows()).slice(0, (await purgeRows()).length - auditBefore);
    expect(rows).toHaveLength(3);
    const counts = rows.map((r) => JSON.parse(r.metadata) as Record<string, number>).reverse();
    expect(counts.map((m) => m.sessions)).toEqual([2, 2, 1]);
    expect(counts.reduce((n, m) => n + m.messages!, 0)).toBe(12);
    for (const row of rows) {
      expect(row).toMatchObject({ chain: 'system', actorUserId: null, target: null, personalHmac: null });
      expect(Object.keys(JSON.parse(row.metadata)).sort()).toEqual(['cutoff', 'maxAgeMs', 'messages', 'sessions']);
    }
    expect((await byok.audit.verify()).ok).toBe(true);

    // Nothing left to do: a second run deletes nothing and writes no audit row.
    const again = await retention().purgeExpired({ now: NOW, batchSize: 2 });
    expect(again).toMatchObject({ sessions: 0, messages: 0, total: 0, batches: 0, complete: true });
    expect((await purgeRows()).length).toBe(auditBefore + 3);
  });

  it('resumes after an interruption: the next run deletes the rest and nothing twice', async () => {
    // Each case lives further in the past, so what earlier cases kept is not old for it.
    const at = NOW - 200 * DAY;
    const old = [];
    for (let i = 0; i < 5; i++) old.push(await session(i % 2 ? bob : alice, at - (100 + i) * DAY, 2));
    const keep = await session(bob, at - DAY, 2);
    const stop = new AbortController();

    const first = await retention().purgeExpired({ now: at, batchSize: 2, signal: stop.signal, onProgress: () => stop.abort() });
    expect(first).toMatchObject({ sessions: 2, messages: 4, total: 5, batches: 1, complete: false });
    expect((await Promise.all(old.map(exists))).filter(Boolean)).toHaveLength(3);

    const second = await retention().purgeExpired({ now: at, batchSize: 2 });
    expect(second).toMatchObject({ sessions: 3, messages: 6, total: 3, batches: 2, complete: true });
    for (const s of old) expect(await exists(s)).toBe(false);
    expect(await exists(keep)).toBe(true);
  });

  it('keeps a session that got a message after it was listed, and one with a reply streaming under a live lease', async () => {
    const at = NOW - 400 * DAY;
    const listedThenActive = await session(alice, at - 100 * DAY, 2);
    const stillOld = await session(bob, at - 100 * DAY, 2);
    const query = { before: at - MAX_AGE, now: Date.now() };
    const listed = await byok.store.chatMaintenance.inactiveSessions({ ...query, limit: 10 });
    expect(listed.map((s) => s.id)).toEqual([listedThenActive.id, stillOld.id].sort());
    // A new message arrives (the session's last activity moves) before the purge's batch runs.
    await byok.store.chatMessages.append(alice, listedThenActive.id, (seq) => ({
      id: uuidv7(),
      sessionId: listedThenActive.id,
      userId: alice,
      parentId: null,
      seq,
      role: 'user',
      text: 'back again',
      parts: '[]',
      status: 'complete',
      errorCode: null,
      clientMessageId: null,
      inputHash: null,
      runId: null,
      leaseExpiresAt: null,
      stopRequestedAt: null,
      usage: null,
      usageCounts: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
      tokenEstimate: 1,
      createdAt: at,
      updatedAt: at,
    }));
    const result = await byok.store.chatMaintenance.deleteInactiveSessions({ ...query, sessionIds: listed.map((s) => s.id) });
    expect(result.sessions.map((s) => s.id)).toEqual([stillOld.id]);
    expect(result.messages).toBe(2);
    expect(await exists(listedThenActive)).toBe(true);
    expect((await byok.store.chatMaintenance.sessionMessages(alice, listedThenActive.id, { afterSeq: 0, limit: 10 })).length).toBe(3);

    // A reply streaming under a live lease keeps even an old session, listed or not.
    const streaming = await session(bob, at - 100 * DAY, 2, { status: 'streaming', runId: uuidv7(), leaseExpiresAt: Date.now() + 60_000 });
    expect(await byok.store.chatMaintenance.countInactiveSessions({ before: at - MAX_AGE, now: Date.now() })).toBe(0);
    const forced = await byok.store.chatMaintenance.deleteInactiveSessions({ before: at - MAX_AGE, now: Date.now(), sessionIds: [streaming.id] });
    expect(forced.sessions).toEqual([]);
    expect(await exists(streaming)).toBe(true);
  });

  it('refuses a purge without retention configured and bad options, changing nothing', async () => {
    const at = NOW - 600 * DAY;
    const old = await session(alice, at - 100 * DAY, 1);
    expect(await codeOf(() => new ChatRetention({ store: byok.store, audit: byok.audit }).purgeExpired({ now: at }))).toBe('config_invalid');
    expect(await codeOf(() => new ChatRetention({ store: byok.store, audit: byok.audit, options: { maxAgeMs: 1_000 } }))).toBe('config_invalid');
    expect(await codeOf(() => new ChatRetention({ store: byok.store, audit: byok.audit, options: { maxAgeMs: 1.5 * DAY + 0.5 } }))).toBe('config_invalid');
    expect(await codeOf(() => retention().purgeExpired({ now: at, batchSize: 0 }))).toBe('validation_failed');
    expect(await codeOf(() => retention().purgeExpired({ now: -1 }))).toBe('validation_failed');
    expect(await exists(old)).toBe(true);
    expect(retention().maxAgeMs).toBe(MAX_AGE);
  });
});
