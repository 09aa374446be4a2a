import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import type { Byok } from '@byok/core';
import type { ChatMessageRow } from '../src/store/chat-repositories';
import { uuidv7 } from '../src/util/ids';
import { chunks, codeOf, collect, longText, reading, startChatHarness, streamedText, until, type ChatHarness } from './chat-harness';

const FULL = longText(30);

/** What an instance that died mid-reply leaves behind: a user message and a streaming reply whose lease ends at `leaseExpiresAt`. */
async function abandonedTurn(byok: Byok, userId: string, sessionId: string, leaseExpiresAt: number): Promise<ChatMessageRow> {
  const now = Date.now();
  const base = {
    sessionId,
    userId,
    text: '',
    parts: '[]',
    errorCode: null,
    inputHash: null,
    stopRequestedAt: null,
    usage: null,
    usageCounts: { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 },
    tokenEstimate: 4,
    createdAt: now,
    updatedAt: now,
  };
  return byok.store.transaction(async (tx) => {
    const session = (await tx.chatSessions.get(userId, sessionId))!;
    const user = (await tx.chatMessages.append(userId, sessionId, (seq) => ({
      ...base,
      id: uuidv7(),
      seq,
      parentId: session.activeLeafId,
      role: 'user',
      text: 'lost',
      parts: JSON.stringify([{ type: 'text', text: 'lost' }]),
      status: 'complete',
      clientMessageId: uuidv7(),
      runId: null,
      leaseExpiresAt: null,
    })))!;
    const id = uuidv7();
    return (await tx.chatMessages.append(
      userId,
      sessionId,
      (seq) => ({
        ...base,
        id,
        seq,
        parentId: user.id,
        role: 'assistant',
        text: 'half a rep',
        parts: JSON.stringify([{ type: 'text', text: 'half a rep' }]),
        status: 'streaming',
        clientMessageId: null,
        runId: id,
        leaseExpiresAt,
      }),
      { activate: true },
    ))!;
  });
}

describe.each(selectTestBackends(['sqlite', 'postgres', 'mysql'] as const))('two instances on %s', (kind) => {
  let h: ChatHarness;
  let other: Byok;
  beforeAll(async () => {
    h = await startChatHarness(kind, { chat: { leaseMs: 1_000 } });
    other = await h.another();
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => {
    h.gemini.reset();
    h.gemini.setReply(() => FULL);
    h.gemini.configure({ chunks: 30, chunkDelayMs: 40 });
  });

  it('stops a reply another instance is producing, through the row', async () => {
    const s = await h.byok.chat.createSession(h.alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const r = reading(h.byok.chat.send(h.alice, s.id, { text: 'go' }));
    await r.firstDelta;
    const result = await other.chat.stop(h.alice, s.id);
    expect(result.stopped).toBe(true);
    expect(result.message).toMatchObject({ status: 'incomplete', errorCode: 'cancelled' });
    const seen = await r.done;
    expect(seen.at(-1)!.chunk).toEqual({ type: 'abort' });
    expect(result.message!.text).toBe(streamedText(seen));
    expect(result.message!.text.length).toBeLessThan(FULL.length);
  });

  it('resumes a reply another instance is producing from the store, to its end', async () => {
    const s = await h.byok.chat.createSession(h.alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const r = reading(h.byok.chat.send(h.alice, s.id, { text: 'go' }));
    await r.firstDelta;
    const resumed = await other.chat.resume(h.alice, s.id);
    expect(resumed).not.toBeNull();
    const events = await collect(resumed!);
    await r.done;
    expect(streamedText(events)).toBe(FULL);
    expect(chunks(events).at(-1)).toMatchObject({ type: 'finish' });
    expect(events.map((e) => e.position)).toEqual(events.map((_, i) => i + 1));
    // Nothing streams now: the resume route answers 204.
    expect(await other.chat.resume(h.alice, s.id)).toBeNull();
  });

  it('recovers only replies whose lease has expired, never one a live instance is renewing', async () => {
    const dead = await h.byok.chat.createSession(h.alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const abandoned = await abandonedTurn(h.byok, h.alice, dead.id, Date.now() + 400);
    // The lease still holds: the session refuses a second reply, and recovery leaves it.
    expect(await codeOf(h.byok.chat.send(h.alice, dead.id, { text: 'next' }))).toBe('conflict');
    expect(await h.byok.chat.recoverExpired()).toBe(0);

    // Meanwhile the other instance streams a reply for longer than several leases.
    h.gemini.configure({ chunks: 30, chunkDelayMs: 100 });
    const live = await other.chat.createSession(h.alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const r = reading(other.chat.send(h.alice, live.id, { text: 'long' }));
    await r.firstDelta;
    await new Promise((resolve) => setTimeout(resolve, 500));
    let recovered = 0;
    const sweeping = (async () => {
      while (!r.seen.some((e) => e.chunk.type === 'finish' || e.chunk.type === 'abort')) {
        recovered += await h.byok.chat.recoverExpired();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await r.done;
    await sweeping;
    // The instances' own recovery timers sweep too: between them, the dead reply was recovered once.
    expect(recovered).toBeLessThanOrEqual(1);
    const row = await h.byok.store.chatMessages.get(h.alice, abandoned.id);
    expect(row).toMatchObject({ status: 'incomplete', errorCode: 'lease_expired', text: 'half a rep' });
    const liveReply = (await other.chat.listMessages(h.alice, live.id)).items.at(-1)!;
    expect(liveReply).toMatchObject({ status: 'complete', text: FULL });
    // The recovered session takes the next turn, and a resume of the dead reply gets the stored part.
    h.gemini.configure({ chunkDelayMs: 0 });
    const resumed = await collect((await h.byok.chat.resume(h.alice, dead.id, { lastEventId: `${abandoned.id}:3:3` }))!);
    expect(streamedText(resumed)).toBe('half a rep');
    expect(chunks(resumed).at(-1)).toEqual({ type: 'abort' });
    await collect(h.byok.chat.send(h.alice, dead.id, { text: 'next' }));
    expect((await h.byok.chat.listMessages(h.alice, dead.id)).items.at(-1)).toMatchObject({ status: 'complete' });
  });

  it('a turn on a session whose streaming reply lost its lease recovers it on the spot', async () => {
    const s = await h.byok.chat.createSession(h.alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const abandoned = await abandonedTurn(h.byok, h.alice, s.id, Date.now() - 1);
    h.gemini.configure({ chunkDelayMs: 0 });
    await collect(other.chat.send(h.alice, s.id, { text: 'next' }));
    expect(await h.byok.store.chatMessages.get(h.alice, abandoned.id)).toMatchObject({ status: 'incomplete', errorCode: 'lease_expired' });
  });
});
