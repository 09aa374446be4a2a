import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import { chunks, codeOf, collect, generations, longText, reading, startChatHarness, streamedText, type ChatHarness } from './chat-harness';

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('idempotency and one reply at a time on %s', (kind) => {
  let h: ChatHarness;
  beforeAll(async () => {
    h = await startChatHarness(kind);
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => h.gemini.reset());

  const newSession = () => h.byok.chat.createSession(h.alice, { provider: 'gemini', model: 'gemini-2.5-flash' });

  it('a retry with the same key and input returns the stored turn, byte for byte the same each time, without a provider call', async () => {
    const s = await newSession();
    const first = await collect(h.byok.chat.send(h.alice, s.id, { text: 'Hi' }, { clientMessageId: 'k-1' }));
    const calls = generations(h.gemini).length;
    const again = await collect(h.byok.chat.send(h.alice, s.id, { text: 'Hi' }, { clientMessageId: 'k-1' }));
    const third = await collect(h.byok.chat.send(h.alice, s.id, { parts: [{ type: 'text', text: 'Hi' }] }, { clientMessageId: 'k-1' }));
    expect(generations(h.gemini)).toHaveLength(calls);
    expect(JSON.stringify(third)).toBe(JSON.stringify(again));
    expect(streamedText(again)).toBe(streamedText(first));
    expect(again[0]!.chunk).toEqual(first[0]!.chunk);
    expect(chunks(again).at(-1)).toMatchObject({ type: 'finish' });
    expect((await h.byok.chat.listMessages(h.alice, s.id)).items).toHaveLength(2);
    // The same key for something else is a conflict, and changes nothing.
    expect(await codeOf(h.byok.chat.send(h.alice, s.id, { text: 'Hello' }, { clientMessageId: 'k-1' }))).toBe('idempotency_conflict');
    expect(await codeOf(h.byok.chat.send(h.alice, s.id, { text: 'Hi' }, { clientMessageId: 'k-1', parentId: null }))).toBe('idempotency_conflict');
    expect((await h.byok.chat.listMessages(h.alice, s.id)).items).toHaveLength(2);
    // A regenerate carries its own key.
    const reply = (await h.byok.chat.listMessages(h.alice, s.id)).items[1]!;
    await collect(h.byok.chat.regenerate(h.alice, s.id, reply.id, { clientMessageId: 'k-2' }));
    const callsAfter = generations(h.gemini).length;
    await collect(h.byok.chat.regenerate(h.alice, s.id, reply.id, { clientMessageId: 'k-2' }));
    expect(generations(h.gemini)).toHaveLength(callsAfter);
    expect(await codeOf(h.byok.chat.send(h.alice, s.id, { text: 'Hi' }, { clientMessageId: 'k-2' }))).toBe('idempotency_conflict');
    expect(await codeOf(h.byok.chat.send(h.alice, s.id, { text: 'Hi' }, { clientMessageId: 'has space' }))).toBe('validation_failed');
  });

  it('a retry while the reply streams joins the live run from its start', async () => {
    const s = await newSession();
    const text = longText(20);
    h.gemini.setReply(() => text);
    h.gemini.configure({ chunks: 20, chunkDelayMs: 30 });
    const first = reading(h.byok.chat.send(h.alice, s.id, { text: 'go' }, { clientMessageId: 'live-1' }));
    await first.firstDelta;
    const joined = await collect(h.byok.chat.send(h.alice, s.id, { text: 'go' }, { clientMessageId: 'live-1' }));
    const original = await first.done;
    expect(JSON.stringify(joined)).toBe(JSON.stringify(original));
    expect(streamedText(joined)).toBe(text);
    expect(generations(h.gemini)).toHaveLength(1);
  });

  it('two racing sends with the same key make one turn and one provider call, and both read it', async () => {
    const s = await newSession();
    h.gemini.configure({ chunks: 5, chunkDelayMs: 20 });
    const both = await Promise.all([0, 1, 2].map(() => collect(h.byok.chat.send(h.alice, s.id, { text: 'same' }, { clientMessageId: 'race-1' }))));
    expect(generations(h.gemini)).toHaveLength(1);
    for (const events of both) expect(streamedText(events)).toBe('echo: same');
    expect(new Set(both.map((events) => events[0]!.runId)).size).toBe(1);
    expect((await h.byok.chat.listMessages(h.alice, s.id)).items).toHaveLength(2);
  });

  it('refuses a second turn while a reply streams (conflict), and two racing sends never interleave', async () => {
    const s = await newSession();
    h.gemini.setReply(() => longText(10));
    h.gemini.configure({ chunks: 10, chunkDelayMs: 30 });
    const first = reading(h.byok.chat.send(h.alice, s.id, { text: 'one' }));
    await first.firstDelta;
    let message = '';
    try {
      for await (const _ of h.byok.chat.send(h.alice, s.id, { text: 'two' })) void _;
    } catch (e) {
      message = `${(e as { code?: string }).code}: ${(e as Error).message}`;
    }
    expect(message).toMatch(/^conflict: .*streaming/);
    const leaf = (await h.byok.chat.getSession(h.alice, s.id)).activeLeafId!;
    expect(await codeOf(h.byok.chat.switchBranch(h.alice, s.id, { messageId: (await h.byok.chat.listMessages(h.alice, s.id)).items[0]!.id }))).toBe('conflict');
    expect((await h.byok.chat.getSession(h.alice, s.id)).activeLeafId).toBe(leaf);
    await first.done;

    // Racing: exactly one wins, the rest are refused, and nothing is stored for them.
    h.gemini.configure({ chunkDelayMs: 20 });
    const s2 = await newSession();
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, (_, i) => codeOf(collect(h.byok.chat.send(h.alice, s2.id, { text: `racer ${i}` })))),
    );
    expect(outcomes.filter((o) => o === undefined)).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'conflict')).toHaveLength(3);
    const path = (await h.byok.chat.listMessages(h.alice, s2.id)).items;
    expect(path.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(path.map((m) => m.seq)).toEqual([1, 2]);
    expect(path[1]!.status).toBe('complete');
  });

  it('64 concurrent sends to different sessions each store their own reply', async () => {
    h.gemini.configure({ chunks: 4, chunkDelayMs: 5 });
    const sessions = await Promise.all(Array.from({ length: 64 }, () => newSession()));
    const results = await Promise.all(sessions.map((s, i) => collect(h.byok.chat.send(h.alice, s.id, { text: `question ${i}` }, { clientMessageId: `c-${i}` }))));
    results.forEach((events, i) => expect([i, streamedText(events), JSON.stringify(chunks(events).slice(-2))]).toEqual([i, `echo: question ${i}`, expect.stringContaining('finish')]));
    const stored = await Promise.all(sessions.map((s) => h.byok.chat.listMessages(h.alice, s.id)));
    stored.forEach((page, i) => {
      expect(page.items.map((m) => [m.seq, m.role, m.status, m.text])).toEqual([
        [1, 'user', 'complete', `question ${i}`],
        [2, 'assistant', 'complete', `echo: question ${i}`],
      ]);
    });
    const runIds = new Set(results.map((events) => events[0]!.runId));
    expect(runIds.size).toBe(64);
  });
});
