import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { selectTestBackends } from '@byok/testing';
import { chunks, codeOf, collect, GEMINI_KEY_B, generations, longText, reading, startChatHarness, streamedText, until, type ChatHarness } from './chat-harness';

describe.each(selectTestBackends(['memory', 'sqlite', 'postgres', 'mysql'] as const))('chat turns on %s', (kind) => {
  let h: ChatHarness;
  beforeAll(async () => {
    h = await startChatHarness(kind);
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(() => {
    h.gemini.reset();
    h.openai.reset();
  });

  it('streams a reply in the UI message stream protocol and stores both messages', async () => {
    const { byok, alice } = h;
    const session = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash', systemPrompt: 'Be brief.' });
    const events = await collect(byok.chat.send(alice, session.id, { text: 'Hello there' }, { clientMessageId: 'turn-1' }));
    expect(events.map((e) => e.position)).toEqual(events.map((_, i) => i + 1));
    const types = chunks(events).map((c) => c.type);
    expect(types[0]).toBe('start');
    expect(types[1]).toBe('data-byok-turn');
    expect(types.slice(-2)).toEqual(['data-byok-usage', 'finish']);
    expect(types).toContain('text-start');
    expect(streamedText(events)).toBe('echo: Hello there');

    const page = await byok.chat.listMessages(alice, session.id);
    expect(page.items.map((m) => [m.role, m.status, m.text])).toEqual([
      ['user', 'complete', 'Hello there'],
      ['assistant', 'complete', 'echo: Hello there'],
    ]);
    const reply = page.items[1]!;
    expect(events[0]!.chunk).toEqual({ type: 'start', messageId: reply.id });
    expect(events[0]!.runId).toBe(reply.id);
    expect(reply.usage).toMatchObject({ provider: 'gemini', model: 'gemini-2.5-flash', finishReason: 'stop', steps: 1 });
    expect(reply.usage!.inputTokens).toBeGreaterThan(0);
    expect(reply.usage!.timeToFirstTokenMs).not.toBeNull();
    const stored = await byok.chat.getSession(alice, session.id);
    expect(stored.activeLeafId).toBe(reply.id);
    expect(stored.usage.inputTokens).toBe(reply.usage!.inputTokens);
    expect(stored.usage.outputTokens).toBe(reply.usage!.outputTokens);
    // What the provider got: the system prompt and the user's message.
    const sent = generations(h.gemini).at(-1)!.body as { systemInstruction?: { parts: Array<{ text: string }> }; contents: unknown[] };
    expect(sent.systemInstruction?.parts[0]?.text).toBe('Be brief.');
    expect(sent.contents).toEqual([{ role: 'user', parts: [{ text: 'Hello there' }] }]);
  });

  it('streams through both providers with chunking and latency varied: what streamed is what is stored, every time', async () => {
    const { byok, alice } = h;
    const text = `${longText(30)} — ünïcødé 🌊 “quoted” \n\n| a | b |`;
    for (const [provider, model, standIn] of [
      ['gemini', 'gemini-2.5-flash', h.gemini],
      ['openai', 'gpt-4o-mini', h.openai],
    ] as const) {
      standIn.setReply(() => text);
      for (const [count, latencyMs, chunkDelayMs] of [
        [1, 0, 0],
        [7, 40, 5],
        [60, 0, 2],
      ] as const) {
        standIn.configure({ chunks: count, latencyMs, chunkDelayMs });
        const session = await byok.chat.createSession(alice, { provider, model });
        const events = await collect(byok.chat.send(alice, session.id, { text: 'go' }));
        const where = `${provider} in ${count} chunks after ${latencyMs} ms`;
        expect(streamedText(events), where).toBe(text);
        expect(chunks(events).at(-1), where).toMatchObject({ type: 'finish' });
        const reply = (await byok.chat.listMessages(alice, session.id)).items[1]!;
        expect([reply.status, reply.text], where).toEqual(['complete', text]);
      }
      standIn.setReply(undefined);
    }
  });

  it('never recovers a reply it is producing itself, even when its lease in the row ran out (a renewal stuck behind a busy pool)', async () => {
    const { byok, alice } = h;
    // One instance here: another one sharing the database would rightly recover the row.
    h.gemini.setReply(() => longText(30));
    h.gemini.configure({ chunks: 30, chunkDelayMs: 40 });
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const r = reading(byok.chat.send(alice, s.id, { text: 'slow pool' }));
    await r.firstDelta;
    const runId = r.seen[0]!.runId;
    // As if this instance's lease writes were queued: the row says the lease is long gone.
    await byok.store.chatMessages.updateRun(alice, runId, runId, { leaseExpiresAt: Date.now() - 60_000, updatedAt: Date.now() });
    expect(await byok.chat.recoverExpired()).toBe(0);
    await r.done;
    expect(await byok.store.chatMessages.get(alice, runId)).toMatchObject({ status: 'complete', text: longText(30) });
  });

  it('ends a reply the provider rate-limited with the retry hint in data-byok-usage', async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    h.gemini.injectFault({ kind: 'rate-limit', retryAfterSeconds: 7 }, { route: 'stream', times: 1 });
    const events = await collect(byok.chat.send(alice, s.id, { text: 'busy' }));
    const usage = chunks(events).find((c) => c.type === 'data-byok-usage') as unknown as { data: { status: string; errorCode: string; retryAfterMs?: number } };
    expect(usage.data).toMatchObject({ status: 'error', errorCode: 'provider_rate_limited', retryAfterMs: 7_000 });
  });

  it('refuses a session for an unconfigured provider, and a turn without a key before any provider call', async () => {
    const { byok, alice, bob } = h;
    expect(await codeOf(byok.chat.createSession(alice, { provider: 'nope', model: 'x' }))).toBe('validation_failed');
    const session = await byok.chat.createSession(bob, { provider: 'openai', model: 'gpt-4o-mini' });
    expect(await codeOf(byok.chat.send(bob, session.id, { text: 'hi' }))).toBe('key_missing');
    expect(generations(h.openai)).toHaveLength(0);
    expect((await byok.chat.listMessages(bob, session.id)).items).toEqual([]);
  });

  it('makes a provider call that failed to connect once more, and only once', async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    h.gemini.injectFault({ kind: 'reset' }, { route: 'stream', times: 1 });
    const events = await collect(byok.chat.send(alice, s.id, { text: 'flaky' }));
    expect(streamedText(events)).toBe('echo: flaky');
    expect(generations(h.gemini)).toHaveLength(2);
    h.gemini.reset();
    h.gemini.injectFault({ kind: 'reset' }, { route: 'stream', times: 2 });
    await collect(byok.chat.send(alice, s.id, { text: 'down' }));
    expect((await byok.chat.listMessages(alice, s.id)).items.at(-1)).toMatchObject({ status: 'error', errorCode: 'provider_network_error' });
    expect(generations(h.gemini)).toHaveLength(2);
    // An error answer is not retried.
    h.gemini.reset();
    h.gemini.injectFault({ kind: 'server-error', status: 503 }, { route: 'stream', times: 1 });
    await collect(byok.chat.send(alice, s.id, { text: 'busy' }));
    expect((await byok.chat.listMessages(alice, s.id)).items.at(-1)).toMatchObject({ status: 'error', errorCode: 'provider_unavailable' });
    expect(generations(h.gemini)).toHaveLength(1);
  });

  it('saves the partial reply as it streams, at most once per 250 ms', async () => {
    const { byok, alice } = h;
    const s = await byok.chat.createSession(alice, { provider: 'gemini', model: 'gemini-2.5-flash' });
    const text = longText(40);
    h.gemini.setReply(() => text);
    h.gemini.configure({ chunks: 40, chunkDelayMs: 40 });
    const writes: number[] = [];
    const repo = byok.store.chatMessages;
    const original = repo.updateRun.bind(repo);
    const spy = vi.spyOn(repo, 'updateRun').mockImplementation((...args) => {
      writes.push(Date.now());
      return original(...args);
    });
    try {
      const r = reading(byok.chat.send(alice, s.id, { text: 'go' }));
      await r.firstDelta;
      const replyId = r.seen[0]!.runId;
      await until(async () => ((await byok.store.chatMessages.get(alice, replyId))?.text.length ?? 0) > 0);
      const partial = (await byok.store.chatMessages.get(alice, replyId))!;
      expect(partial.status).toBe('streaming');
      expect(text.startsWith(partial.text)).toBe(true);
      expect(partial.leaseExpiresAt).toBeGreaterThan(Date.now());
      const events = await r.done;
      expect(streamedText(events)).toBe(text);
    } finally {
      spy.mockRestore();
    }
    // About 1.6 s of streaming: partial saves no closer than 250 ms, plus the final write.
    const partials = writes.slice(0, -1);
    for (let i = 1; i < partials.length; i += 1) expect(partials[i]! - partials[i - 1]!).toBeGreaterThanOrEqual(240);
    expect(partials.length).toBeGreaterThanOrEqual(3);
    expect(partials.length).toBeLessThanOrEqual(8);
  });
});

describe('a stored key the provider could not verify', () => {
  it('is refused before any provider call when unverified keys are refused', async () => {
    const h = await startChatHarness('sqlite');
    try {
      h.gemini.injectFault({ kind: 'server-error', status: 503 }, { route: 'models' });
      await h.byok.keyVault.setKey(h.bob, 'gemini', GEMINI_KEY_B);
      h.gemini.reset();
      expect((await h.byok.keyVault.getStatus(h.bob, 'gemini')).status).toBe('unverified');
      const strict = await h.another({ keyVault: { allowUnverified: false } });
      const s = await strict.chat.createSession(h.bob, { provider: 'gemini', model: 'gemini-2.5-flash' });
      expect(await codeOf(strict.chat.send(h.bob, s.id, { text: 'hi' }))).toBe('key_unverified');
      expect(generations(h.gemini)).toHaveLength(0);
      expect((await strict.chat.listMessages(h.bob, s.id)).items).toEqual([]);
      // The default policy uses it.
      await collect(h.byok.chat.send(h.bob, s.id, { text: 'hi' }));
      expect(generations(h.gemini)).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});
